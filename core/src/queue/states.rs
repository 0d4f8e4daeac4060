//! The state log (`states` in the spool): every entry's per-recipient state after each attempt,
//! appended as one record (the entry's JSON) to a single file; the last record of an id wins.
//!
//! Why a log and not a file per entry: replacing `state/<id>` after every attempt created and
//! freed an inode per attempt, and under load ext4's inode allocator (`find_inode_bit`,
//! `recently_deleted`) took most of the server's CPU — 2 ms per message with the runner
//! deferring every message, a tenth of the accept rate. One append is one `write`.
//!
//! Not synced, like `done`: a power cut may take the last states with it; the runner then
//! repeats those attempts (a recipient may get the message twice, a notice may go out twice —
//! duplicates, never a loss; the message was synced when it was submitted). A record cut short
//! or damaged fails its checksum and is skipped.
//!
//! The log is rewritten with one record per live entry when the spool opens and whenever it has
//! grown to several times that (`needs_rewrite`), so it stays proportional to the queue. At open
//! the rewrite is done at once ([`StateLog::create`]); a running spool rewrites on a thread of
//! its own, in three steps, so that recording a state never waits for the log to be written (it
//! may wait for the snapshot: one pointer copied per live entry): under the log's lock,
//! [`StateLog::mark`] how long the log is while the caller takes its snapshot of the entries;
//! without a lock, write the snapshot to `tmp/states` and sync it ([`write_body`]); under the lock
//! again, [`StateLog::install`] it: copy what was appended after the mark to its end, rename it
//! over `states`, append to it from then on. The appends copied come after the snapshot's
//! records, so the last record of an id still wins; a crash before the rename leaves the old log
//! whole, after it the new one. A rewrite that fails leaves the old log in use and is tried again
//! [`SLACK`] records later.
//! `state/<id>` files of the previous format are read at open and folded into the log.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::entry::QueueEntry;
use super::record;
use crate::error::{Error, Result};

/// Appends allowed beyond the live entries before a rewrite (so a small queue is not rewritten
/// all the time).
const SLACK: u64 = 4096;

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}: {e}", path.display()))
}

/// The open log, appended to by `record_attempt`.
pub(super) struct StateLog {
    root: PathBuf,
    file: File,
    /// Records in the file (after the last rewrite, plus appends since).
    records: u64,
    /// No rewrite is due before the log holds this many records (set after a failed one, so a
    /// full disk does not make every append past the limit try again).
    retry_at: u64,
}

/// The last recorded state of every id: from `state/<id>` files of the previous format, then
/// from the log (which wins). Read-only.
pub(super) fn read(root: &Path) -> HashMap<String, QueueEntry> {
    let mut states = HashMap::new();
    if let Ok(rd) = fs::read_dir(root.join("state")) {
        for e in rd.flatten() {
            if let Some(entry) = fs::read(e.path()).ok().and_then(|b| decode(&b)) {
                states.insert(entry.id.clone(), entry);
            }
        }
    }
    let bytes = fs::read(root.join("states")).unwrap_or_default();
    let mut rest: &[u8] = &bytes;
    loop {
        match record::next_frame(rest) {
            record::Frame::Whole(payload, n) => {
                if let Ok(entry) = serde_json::from_slice::<QueueEntry>(payload) {
                    states.insert(entry.id.clone(), entry);
                }
                rest = &rest[n..];
            }
            record::Frame::Damaged(n) => rest = &rest[n..],
            record::Frame::Torn => break,
        }
    }
    states
}

fn decode(bytes: &[u8]) -> Option<QueueEntry> {
    serde_json::from_slice(record::decode(bytes).ok()?).ok()
}

fn encode(entry: &QueueEntry) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(entry).map_err(|e| Error::io(format!("state: {e}")))?;
    Ok(record::encode(&json))
}

impl StateLog {
    /// Write the log anew with `entries` (one record each: temporary file, rename), remove the
    /// `state/` files of the previous format, and open the log for appending.
    pub(super) fn create<'a>(root: &Path, entries: impl Iterator<Item = &'a QueueEntry>) -> Result<StateLog> {
        let (file, records) = rewrite(root, entries)?;
        if let Ok(rd) = fs::read_dir(root.join("state")) {
            for e in rd.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(StateLog { root: root.to_path_buf(), file, records, retry_at: 0 })
    }

    /// Append `entry`'s state (one `write`, so a crash leaves a whole record or a torn one).
    pub(super) fn append(&mut self, entry: &QueueEntry) -> Result<()> {
        let rec = encode(entry)?;
        self.file.write_all(&rec).map_err(|e| io("cannot append to", &self.root.join("states"), e))?;
        self.records += 1;
        Ok(())
    }

    /// True when the log holds many more records than the `live` entries need.
    pub(super) fn needs_rewrite(&self, live: usize) -> bool {
        self.records >= self.retry_at && self.records > (live as u64).saturating_mul(4).saturating_add(SLACK)
    }

    /// A rewrite failed: the next one is tried after [`SLACK`] more records.
    pub(super) fn rewrite_failed(&mut self) {
        self.retry_at = self.records.saturating_add(SLACK);
    }

    /// The log's length now: a rewrite copies what is appended after it (see the module docs).
    pub(super) fn mark(&self) -> Result<u64> {
        let path = self.root.join("states");
        self.file.metadata().map(|m| m.len()).map_err(|e| io("cannot stat", &path, e))
    }

    /// Finish a rewrite begun at `mark`: append to `body` what the log got after `mark`, rename
    /// it over the log, and append to it from now on. Short when the caller first caught the
    /// body up without the lock ([`Body::catch_up`]): only the appends made since are copied.
    ///
    /// Returns the old log's file, for the caller to close once it let go of the lock: the old
    /// log is unlinked by the rename, so that close frees all its blocks — 150-230 ms for a
    /// 170 MB log (`cargo run --release --example queue_states -- rewrite`), which every
    /// `record_attempt` would otherwise wait for.
    #[must_use = "close the old log after releasing the lock"]
    pub(super) fn install(&mut self, mut body: Body, mark: u64) -> Result<File> {
        body.copy_from(&self.root, mark, None)?;
        let Body { file, records } = body;
        let old = std::mem::replace(&mut self.file, in_place(&self.root, file)?);
        self.records = records;
        Ok(old)
    }
}

impl Body {
    /// Copy to the body what the log got from `mark` up to `to` (a length [`StateLog::mark`]
    /// read under the lock, so every record before it is whole), with no lock held: the log only
    /// grows at its end. Returns `to`, the mark to [`StateLog::install`] from.
    pub(super) fn catch_up(&mut self, root: &Path, mark: u64, to: u64) -> Result<u64> {
        self.copy_from(root, mark, Some(to))?;
        Ok(to)
    }

    /// Append the log's bytes from `from` (to `to`, or its end) to the body.
    fn copy_from(&mut self, root: &Path, from: u64, to: Option<u64>) -> Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let path = root.join("states");
        let mut tail = Vec::new();
        File::open(&path)
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(from))?;
                match to {
                    Some(to) => f.take(to.saturating_sub(from)).read_to_end(&mut tail),
                    None => f.read_to_end(&mut tail),
                }
            })
            .map_err(|e| io("cannot read", &path, e))?;
        self.records += count(&tail);
        self.file.write_all(&tail).map_err(|e| io("cannot write", &path, e))
    }
}

/// The records in `bytes` (whole or damaged: each counts toward the next rewrite).
fn count(mut bytes: &[u8]) -> u64 {
    let mut n = 0;
    loop {
        match record::next_frame(bytes) {
            record::Frame::Whole(_, len) | record::Frame::Damaged(len) => bytes = &bytes[len..],
            record::Frame::Torn => return n,
        }
        n += 1;
    }
}

/// A new log written to `tmp/states` by [`write_body`], not yet in place.
pub(super) struct Body {
    file: File,
    records: u64,
}

/// Write `entries` (one record each) to `tmp/states` and sync it, for [`StateLog::install`].
/// Takes no lock: the spool's rewrite thread calls it with a snapshot of the entries.
pub(super) fn write_body<'a>(root: &Path, entries: impl Iterator<Item = &'a QueueEntry>) -> Result<Body> {
    let tmp = root.join("tmp").join("states");
    let file = File::create(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut records = 0;
    for e in entries {
        out.write_all(&encode(e)?).map_err(|e| io("cannot write", &tmp, e))?;
        records += 1;
    }
    let file = out.into_inner().map_err(|e| io("cannot write", &tmp, e.into_error()))?;
    file.sync_data().map_err(|e| io("cannot sync", &tmp, e))?;
    Ok(Body { file, records })
}

/// Write `entries` to `tmp/states`, rename it over `states`; the file to append to.
fn rewrite<'a>(root: &Path, entries: impl Iterator<Item = &'a QueueEntry>) -> Result<(File, u64)> {
    let Body { file, records } = write_body(root, entries)?;
    Ok((in_place(root, file)?, records))
}

/// Rename `tmp/states` over `states`; `file` (the new log, written to its end) is appended to
/// from now on. No reopen after the rename: one that failed would leave appends going to the
/// old, unlinked file. The log has one writer at a time (under the spool's lock), so writing at
/// the file's position is appending.
fn in_place(root: &Path, file: File) -> Result<File> {
    let path = root.join("states");
    fs::rename(root.join("tmp").join("states"), &path).map_err(|e| io("cannot write", &path, e))?;
    Ok(file)
}

/// [`SLACK`], for the spool's tests.
#[cfg(test)]
pub(super) fn tests_slack() -> u64 {
    SLACK
}
