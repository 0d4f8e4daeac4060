//! Maildir delivery (`delivery="maildir:PATH"`), in one of two layouts ([`MaildirLayout`]).
//!
//! - **Shared** (default): ONE Maildir at PATH (`tmp/`, `new/`, `cur/`), one file per message
//!   (not one per recipient). The file holds, in this order: `Return-Path: <sender>`, one
//!   `Delivered-To: <rcpt>` per envelope recipient — so every recipient, Bcc ones included, is
//!   visible to whoever reads the store — then the message exactly as the hooks saw it.
//! - **Per recipient**: one Maildir per recipient at `PATH/<template>` (default
//!   `{domain}/{user}`, as Postfix's virtual delivery lays it out), one copy per recipient with
//!   only its own `Delivered-To`: nothing in one recipient's copy names another envelope
//!   recipient.
//!
//! Files are named `<secs>.M<micros>P<pid>Q<queue id>.<hostname>` as the Maildir convention asks.
//! Durability: write to `tmp/`, fsync the file, rename into `new/`, fsync `new/`; only then does
//! the server answer 250. Any failure removes what was written (every copy, in the per-recipient
//! layout) and the server answers 451, so a retry never delivers twice and nothing half-written
//! is ever visible in `new/`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// How a Maildir delivery lays out its files (option `maildir_layout`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MaildirLayout {
    /// One Maildir at the root, one file per message listing every recipient.
    #[default]
    Shared,
    /// One Maildir per recipient at `root/<template>`; `{user}` and `{domain}` are the
    /// recipient's local part and domain, lower-cased and made safe as path components.
    PerRecipient(String),
}

impl std::str::FromStr for MaildirLayout {
    type Err = Error;

    /// See [`MaildirLayout::parse`].
    fn from_str(s: &str) -> Result<MaildirLayout> {
        MaildirLayout::parse(s)
    }
}

impl MaildirLayout {
    /// The per-recipient template of `"per-recipient"`.
    pub const DEFAULT_TEMPLATE: &'static str = "{domain}/{user}";

    /// `"shared"`, `"per-recipient"` (= `{domain}/{user}`) or a template such as
    /// `"{domain}/{user}/Maildir"`.
    pub fn parse(s: &str) -> Result<MaildirLayout> {
        let layout = match s {
            "shared" => return Ok(MaildirLayout::Shared),
            "per-recipient" => MaildirLayout::PerRecipient(Self::DEFAULT_TEMPLATE.to_string()),
            t => MaildirLayout::PerRecipient(t.to_string()),
        };
        layout.validate()?;
        Ok(layout)
    }

    /// A template must name the recipient and stay under the root.
    pub fn validate(&self) -> Result<()> {
        let MaildirLayout::PerRecipient(t) = self else { return Ok(()) };
        let rest = t.replace("{user}", "").replace("{domain}", "");
        let bad = |why: &str| Err(Error::invalid_input(format!("maildir layout {t:?}: {why}")));
        if rest.len() == t.len() {
            return bad("names neither {user} nor {domain}");
        }
        if rest.contains(['{', '}', '\0']) {
            return bad("only {user} and {domain} may be used");
        }
        if t.starts_with('/') || t.split('/').any(|c| c == ".." || c == ".") {
            return bad("must be a relative path without . or .. components");
        }
        Ok(())
    }
}

/// A Maildir on disk.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    layout: MaildirLayout,
}

impl Maildir {
    /// Open (creating `tmp/`, `new/` and `cur/` when missing) the shared Maildir at `root`.
    pub fn open(root: &Path) -> Result<Maildir> {
        Maildir::with_layout(root, MaildirLayout::Shared)
    }

    /// Open the store at `root` in `layout` (per recipient: the root only; each recipient's
    /// Maildir is created on its first delivery).
    pub fn with_layout(root: &Path, layout: MaildirLayout) -> Result<Maildir> {
        layout.validate()?;
        match layout {
            MaildirLayout::Shared => create_maildir(root)?,
            MaildirLayout::PerRecipient(_) => fs::create_dir_all(root)
                .map_err(|e| Error::io(format!("cannot create maildir root {}: {e}", root.display())))?,
        }
        Ok(Maildir { root: root.to_path_buf(), layout })
    }

    /// Store one message as the layout says: one file (shared) or one per recipient. Returns
    /// the paths in `new/`. Blocking: call from a blocking thread.
    pub fn deliver_message(
        &self,
        queue_id: &str,
        hostname: &str,
        mail_from: &str,
        rcpt_to: &[String],
        data: &[u8],
    ) -> Result<Vec<PathBuf>> {
        let MaildirLayout::PerRecipient(template) = &self.layout else {
            return self.deliver(queue_id, hostname, mail_from, rcpt_to, data).map(|p| vec![p]);
        };
        let name = file_name(queue_id, hostname);
        // Every copy is written and fsynced in tmp/ first; only then renamed into new/. On any
        // failure every copy (written or renamed) is removed: the client is told 451 and sends
        // again, so a copy left behind would be a duplicate.
        let mut done: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(rcpt_to.len());
        let result = (|| -> std::io::Result<()> {
            for rcpt in rcpt_to {
                let dir = self.root.join(render(template, rcpt, hostname));
                create_maildir(&dir).map_err(|e| std::io::Error::other(e.message().to_string()))?;
                let tmp = dir.join("tmp").join(&name);
                write_durably(&tmp, mail_from, std::slice::from_ref(rcpt), data)?;
                done.push((tmp, dir.join("new").join(&name)));
            }
            for (tmp, new) in &done {
                fs::rename(tmp, new)?;
            }
            for (_, new) in &done {
                if let Some(dir) = new.parent() {
                    File::open(dir)?.sync_all()?;
                }
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(done.into_iter().map(|(_, new)| new).collect()),
            Err(e) => {
                for (tmp, new) in &done {
                    let _ = fs::remove_file(tmp);
                    let _ = fs::remove_file(new);
                }
                Err(Error::io(format!("maildir delivery under {} failed: {e}", self.root.display())))
            }
        }
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
        let name = file_name(queue_id, hostname);
        let tmp = self.root.join("tmp").join(&name);
        let new = self.root.join("new").join(&name);
        let result = write_durably(&tmp, mail_from, rcpt_to, data).and_then(|()| {
            fs::rename(&tmp, &new)?;
            File::open(self.root.join("new"))?.sync_all().inspect_err(|_| {
                // The client will be told 451 and will send again: take the file back out of
                // new/ so that the retry does not deliver it twice.
                let _ = fs::remove_file(&new);
            })
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

/// `<secs>.M<micros>P<pid>Q<queue id>.<hostname>`.
fn file_name(queue_id: &str, hostname: &str) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    // '/' and ':' are not allowed in Maildir names; the host name is ours, but be safe.
    let host: String = hostname.chars().map(|c| if c == '/' || c == ':' { '_' } else { c }).collect();
    format!("{}.M{}P{}Q{}.{}", now.as_secs(), now.subsec_micros(), std::process::id(), queue_id, host)
}

fn create_maildir(root: &Path) -> Result<()> {
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(root.join(sub))
            .map_err(|e| Error::io(format!("cannot create maildir {}: {e}", root.join(sub).display())))?;
    }
    Ok(())
}

/// The template with the recipient's parts filled in (an address without a domain, such as
/// `postmaster`, gets our host name).
fn render(template: &str, rcpt: &str, hostname: &str) -> String {
    let (user, domain) = rcpt.rsplit_once('@').unwrap_or((rcpt, hostname));
    template.replace("{user}", &component(user)).replace("{domain}", &component(domain))
}

/// A client-chosen string as one safe path component: lower-cased, no `/`, `\`, NUL or control
/// characters, never `.`/`..` or hidden (a leading dot gets a `_`), never empty.
fn component(s: &str) -> String {
    let mut c: String = s
        .chars()
        .map(|ch| if ch == '/' || ch == '\\' || ch.is_control() { '_' } else { ch })
        .flat_map(char::to_lowercase)
        .take(200)
        .collect();
    if c.is_empty() || c.starts_with('.') {
        c.insert(0, '_');
    }
    c
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
    fn per_recipient_copies_name_only_their_recipient() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::with_layout(dir.path(), MaildirLayout::parse("per-recipient").unwrap()).unwrap();
        let rcpts = ["Bob@Example.test".to_string(), "../../etc@x.test".into(), "postmaster".into()];
        let paths = md.deliver_message("Q3", "mx.test", "a@b.example", &rcpts, b"hi\r\n").unwrap();
        assert_eq!(paths.len(), 3);
        assert!(paths[0].starts_with(dir.path().join("example.test/bob/new")), "{paths:?}");
        assert!(paths[1].starts_with(dir.path().join("x.test/_.._.._etc/new")), "{paths:?}");
        assert!(paths[2].starts_with(dir.path().join("mx.test/postmaster/new")), "{paths:?}");
        for (p, r) in paths.iter().zip(&rcpts) {
            let body = String::from_utf8(fs::read(p).unwrap()).unwrap();
            assert_eq!(body, format!("Return-Path: <a@b.example>\r\nDelivered-To: {r}\r\nhi\r\n"));
        }
        for bad in ["/abs/{user}", "{domain}/../{user}", "plain", "{user}/{other}"] {
            assert!(MaildirLayout::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(MaildirLayout::parse("shared").unwrap(), MaildirLayout::Shared);
    }

    #[test]
    fn per_recipient_failure_removes_every_copy() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::with_layout(dir.path(), MaildirLayout::parse("{domain}/{user}").unwrap()).unwrap();
        // The second recipient's Maildir cannot be created: a file is in its way.
        fs::create_dir_all(dir.path().join("b.test")).unwrap();
        fs::write(dir.path().join("b.test/y"), b"").unwrap();
        let rcpts = ["x@a.test".to_string(), "y@b.test".into()];
        let err = md.deliver_message("Q4", "mx.test", "", &rcpts, b"hi\r\n").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Io);
        assert_eq!(fs::read_dir(dir.path().join("a.test/x/new")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(dir.path().join("a.test/x/tmp")).unwrap().count(), 0);
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
