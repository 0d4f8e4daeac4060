//! Maildir delivery (`delivery="maildir:PATH"`).
//!
//! Layout: ONE shared Maildir at PATH (`tmp/`, `new/`, `cur/`), one file per message (not one per
//! recipient), named `<secs>.M<micros>P<pid>Q<queue id>.<hostname>` as the Maildir convention asks.
//! The file holds, in this order: `Return-Path: <sender>`, one `Delivered-To: <rcpt>` per envelope
//! recipient (so Bcc recipients are known to whoever reads the store, as with Postfix's local
//! delivery), then the message exactly as the hooks saw it, our `Received:` line first.
//!
//! Durability: write to `tmp/`, fsync the file, rename into `new/`, fsync `new/`; only then does
//! the server answer 250. Any failure removes the temporary file and the server answers 451, so
//! nothing half-written is ever visible in `new/`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// A Maildir on disk.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

impl Maildir {
    /// Open (creating `tmp/`, `new/` and `cur/` when missing) the Maildir at `root`.
    pub fn open(root: &Path) -> Result<Maildir> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(sub))
                .map_err(|e| Error::io(format!("cannot create maildir {}: {e}", root.join(sub).display())))?;
        }
        Ok(Maildir { root: root.to_path_buf() })
    }

    /// The Maildir's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Store one message durably; returns its path in `new/`. Blocking: call from a blocking
    /// thread.
    pub fn deliver(
        &self,
        queue_id: &str,
        hostname: &str,
        mail_from: &str,
        rcpt_to: &[String],
        data: &[u8],
    ) -> Result<PathBuf> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        // '/' and ':' are not allowed in Maildir names; the host name is ours, but be safe.
        let host: String = hostname.chars().map(|c| if c == '/' || c == ':' { '_' } else { c }).collect();
        let name = format!(
            "{}.M{}P{}Q{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            queue_id,
            host
        );
        let tmp = self.root.join("tmp").join(&name);
        let new = self.root.join("new").join(&name);
        let result = write_durably(&tmp, mail_from, rcpt_to, data).and_then(|()| {
            fs::rename(&tmp, &new)?;
            File::open(self.root.join("new"))?.sync_all()
        });
        match result {
            Ok(()) => Ok(new),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(Error::io(format!("maildir delivery to {} failed: {e}", self.root.display())))
            }
        }
    }
}

fn write_durably(path: &Path, mail_from: &str, rcpt_to: &[String], data: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    let mut head = Vec::with_capacity(64 + rcpt_to.len() * 48);
    head.extend_from_slice(b"Return-Path: <");
    head.extend_from_slice(mail_from.as_bytes());
    head.extend_from_slice(b">\r\n");
    for r in rcpt_to {
        head.extend_from_slice(b"Delivered-To: ");
        head.extend_from_slice(r.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    f.write_all(&head)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_into_new_with_envelope_headers() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::open(&dir.path().join("md")).unwrap();
        let p = md
            .deliver(
                "Q1",
                "mx.test",
                "a@b.example",
                &["c@d.example".into(), "e@d.example".into()],
                b"Subject: x\r\n\r\nhi\r\n",
            )
            .unwrap();
        assert!(p.starts_with(dir.path().join("md/new")));
        let body = fs::read(&p).unwrap();
        assert_eq!(
            body,
            b"Return-Path: <a@b.example>\r\nDelivered-To: c@d.example\r\nDelivered-To: e@d.example\r\nSubject: x\r\n\r\nhi\r\n"
        );
        assert_eq!(fs::read_dir(dir.path().join("md/tmp")).unwrap().count(), 0);
    }

    #[test]
    fn failure_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::open(&dir.path().join("md")).unwrap();
        // Make new/ unusable: replace it with a file, so the rename fails.
        fs::remove_dir(dir.path().join("md/new")).unwrap();
        fs::write(dir.path().join("md/new"), b"").unwrap();
        let err = md.deliver("Q2", "mx.test", "", &["c@d.example".into()], b"x\r\n").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Io);
        assert_eq!(fs::read_dir(dir.path().join("md/tmp")).unwrap().count(), 0);
    }
}
