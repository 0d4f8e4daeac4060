//! The spool's append-only segments: `seg/<number>` files in which every message is one
//! [`record`](super::record) whose payload holds the queue id, the submission time, the envelope
//! (JSON) and the message. The committer appends whole batches to the current segment with one
//! `fdatasync` (see `commit.rs`); this file owns what is shared with it — the live count per
//! segment, which one is current, creating and unlinking segments — and reading segments back
//! ([`scan`]), for `Spool::open` (which repairs) and `Spool::snapshot` (which only reads).
//!
//! A record is valid when whole and its checksum matches; there are no commit markers. A removed
//! entry's id is appended to the `done` log (not synced); a segment with no live entry left that
//! is not the current one is unlinked.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::entry::NewEntry;
use super::record::{self, Frame};
use crate::error::{Error, Result};

/// A new segment is started once the current one has passed this size.
pub(super) const SEGMENT_SIZE: u64 = 64 << 20;

/// Segments kept open for reading messages (a file descriptor each).
const OPEN_READERS: usize = 64;

/// Where a message's record is: segment number, byte offset, length (header included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Loc {
    pub segment: u64,
    pub offset: u64,
    pub len: u64,
}

/// A segment's file name: its number, zero-padded so names sort as numbers.
pub(super) fn name(number: u64) -> String {
    format!("{number:010}")
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}: {e}", path.display()))
}

/// The record of a new message.
pub(super) fn encode_message(id: &str, created_ms: u64, envelope: &[u8], message: &[u8]) -> Vec<u8> {
    record::encode_parts(&[id.as_bytes(), &created_ms.to_le_bytes(), envelope, message])
}

/// A message record's payload, split.
pub(super) struct Parts<'a> {
    pub id: &'a str,
    pub created_ms: u64,
    pub envelope: &'a [u8],
    pub message: &'a [u8],
}

/// Split the payload of a record made by [`encode_message`].
pub(super) fn decode_message(payload: &[u8]) -> std::result::Result<Parts<'_>, String> {
    let p = record::split_parts(payload, 4)?;
    let id = std::str::from_utf8(p[0]).map_err(|_| "queue id is not UTF-8")?;
    let created: [u8; 8] = p[1].try_into().map_err(|_| "bad submission time")?;
    Ok(Parts { id, created_ms: u64::from_le_bytes(created), envelope: p[2], message: p[3] })
}

/// What the spool and the committer share about segments.
pub(super) struct Segments {
    dir: PathBuf,
    inner: Mutex<Counts>,
}

struct Counts {
    /// Live entries per segment (segments with none are absent).
    live: HashMap<u64, usize>,
    /// The segment being appended to.
    current: Option<u64>,
    /// The number of the next segment.
    next: u64,
    /// Segments open for reading ([`Segments::reader`]), at most [`OPEN_READERS`]; closed when
    /// unlinked.
    readers: HashMap<u64, Arc<File>>,
}

impl Segments {
    /// The segments in `dir` with `live` entries each; new ones are numbered from `next`.
    pub(super) fn new(dir: PathBuf, live: HashMap<u64, usize>, next: u64) -> Segments {
        Segments { dir, inner: Mutex::new(Counts { live, current: None, next, readers: HashMap::new() }) }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The path of segment `number`.
    pub(super) fn path(&self, number: u64) -> PathBuf {
        self.dir.join(name(number))
    }

    /// Segment `number` open for reading: opened once and kept open while it lives (a
    /// `message()` is then one `pread`, not an open, a read and a close).
    pub(super) fn reader(&self, number: u64) -> Result<Arc<File>> {
        if let Some(f) = self.counts().readers.get(&number) {
            return Ok(Arc::clone(f));
        }
        let path = self.path(number);
        let file = Arc::new(File::open(&path).map_err(|e| io("cannot read", &path, e))?);
        let mut c = self.counts();
        // Not for a segment unlinked meanwhile: its space would stay taken while it is open.
        if c.live.contains_key(&number) || c.current == Some(number) {
            if c.readers.len() >= OPEN_READERS {
                let any = c.readers.keys().next().copied();
                any.map(|n| c.readers.remove(&n));
            }
            c.readers.insert(number, Arc::clone(&file));
        }
        Ok(file)
    }

    /// Segments open for reading (tests).
    #[cfg(test)]
    pub(super) fn readers_open(&self) -> usize {
        self.counts().readers.len()
    }

    /// Create the next segment, durably (one directory sync), and make it the current one.
    pub(super) fn create(&self) -> Result<(u64, File)> {
        let number = {
            let mut c = self.counts();
            c.next += 1;
            c.next - 1
        };
        let path = self.path(number);
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io("cannot create", &path, e))?;
        if let Err(e) = File::open(&self.dir).and_then(|d| d.sync_all()) {
            let _ = fs::remove_file(&path);
            return Err(io("cannot sync", &self.dir, e));
        }
        self.counts().current = Some(number);
        Ok((number, file))
    }

    /// `n` entries were appended to `number`.
    pub(super) fn add_live(&self, number: u64, n: usize) {
        *self.counts().live.entry(number).or_default() += n;
    }

    /// One entry of `number` was removed: unlink the segment when it was the last and the
    /// segment is not the current one.
    pub(super) fn drop_live(&self, number: u64) {
        let mut c = self.counts();
        let left = c.live.get_mut(&number).map(|n| {
            *n = n.saturating_sub(1);
            *n
        });
        if left == Some(0) && c.current != Some(number) {
            c.live.remove(&number);
            c.readers.remove(&number);
            let _ = fs::remove_file(self.path(number));
        }
    }

    /// `number` is no longer appended to: unlink it when nothing in it is live.
    pub(super) fn retire(&self, number: u64) {
        let mut c = self.counts();
        if c.current == Some(number) {
            c.current = None;
        }
        if c.live.get(&number).copied().unwrap_or(0) == 0 {
            c.live.remove(&number);
            c.readers.remove(&number);
            let _ = fs::remove_file(self.path(number));
        }
    }
}

/// A live message found in a segment.
pub(super) struct Found {
    pub id: String,
    pub loc: Loc,
    pub created_ms: u64,
    pub envelope: NewEntry,
    pub size: u64,
}

/// What [`scan`] read.
#[derive(Default)]
pub(super) struct Scan {
    /// Live messages (the first record of each id, unless its id is in `done`), oldest first.
    pub found: Vec<Found>,
    /// Live messages per segment.
    pub live: HashMap<u64, usize>,
    /// Every segment number present.
    pub segments: Vec<u64>,
    /// The `done` lines of removed records found (as [`done_line`] writes them), with their
    /// segment.
    pub done_seen: Vec<(String, u64)>,
    /// Damaged records: their id when it is readable, else `<segment>.<offset>`.
    pub quarantined: Vec<String>,
}

/// The segment numbers in `dir`, in order.
fn numbers(dir: &Path) -> Result<Vec<u64>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        // A spool only ever opened by a version before segments.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("cannot list", dir, e)),
    };
    let mut v: Vec<u64> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.to_string();
            (n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit())).then(|| n.parse().ok())?
        })
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// The highest segment number named in `corrupt/` (`<segment>.<offset>`), so a new segment
/// never reuses the number of a quarantined copy.
pub(super) fn highest_quarantined(root: &Path) -> u64 {
    fs::read_dir(root.join("corrupt"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.split('.').next()?.to_string();
            (n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit())).then(|| n.parse::<u64>().ok())?
        })
        .max()
        .unwrap_or(0)
}

/// The `done` log: which records were removed. A line names one record,
/// `<id> <segment>.<offset>` ([`done_line`]); a line with the id alone (what the first
/// segment spool wrote) covers every record of that id. Keyed by the record, not the id, so that
/// an id used again after its first message was removed does not take the new message with it.
#[derive(Default)]
pub(super) struct Done {
    records: HashSet<(String, u64, u64)>,
    ids: HashSet<String>,
}

impl Done {
    /// Read `root/done` (a last line cut short by a crash matches nothing).
    pub(super) fn read(root: &Path) -> Done {
        let mut done = Done::default();
        let text = fs::read_to_string(root.join("done")).unwrap_or_default();
        // Every line is written whole with its newline: a last piece without one was cut short
        // by a crash, and read as an id alone it would remove every record of that id.
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        for line in whole.lines() {
            match line.split_once(' ') {
                None if !line.is_empty() => drop(done.ids.insert(line.to_string())),
                None => {}
                Some((id, at)) => {
                    let parsed =
                        at.split_once('.').and_then(|(n, o)| Some((n.parse().ok()?, o.parse().ok()?)));
                    if let Some((segment, offset)) = parsed {
                        done.records.insert((id.to_string(), segment, offset));
                    }
                }
            }
        }
        done
    }

    fn covers(&self, id: &str, loc: Loc) -> bool {
        self.ids.contains(id) || self.records.contains(&(id.to_string(), loc.segment, loc.offset))
    }
}

/// The `done` line of the record of `id` at `loc`.
pub(super) fn done_line(id: &str, loc: Loc) -> String {
    format!("{id} {}.{}\n", loc.segment, loc.offset)
}

/// Read every segment under `root/seg`. With `repair` (the spool's owner at open) a torn tail
/// is truncated away and a damaged record copied to `corrupt/<segment>.<offset>`; without it
/// (a read-only listing beside a running server) nothing is changed and a tail still being
/// written is simply not shown.
pub(super) fn scan(root: &Path, repair: bool) -> Result<Scan> {
    let dir = root.join("seg");
    let done = Done::read(root);
    let mut scan = Scan::default();
    let mut seen = HashSet::new();
    for number in numbers(&dir)? {
        let path = dir.join(name(number));
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            // Unlinked by the running server since it was listed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io("cannot read", &path, e)),
        };
        scan.segments.push(number);
        let mut pos = 0usize;
        while pos < bytes.len() {
            let at = format!("{}.{pos}", name(number));
            let (len, parts) = match record::next_frame(&bytes[pos..]) {
                Frame::Whole(payload, len) => (len, decode_message(payload)),
                Frame::Damaged(len) => (len, Err("checksum mismatch".into())),
                Frame::Torn => {
                    if repair {
                        tracing::warn!(segment = %path.display(), offset = pos, "torn tail of a segment cut off");
                        let f = fs::OpenOptions::new().write(true).open(&path);
                        f.and_then(|f| f.set_len(pos as u64).and_then(|()| f.sync_all()))
                            .map_err(|e| io("cannot truncate", &path, e))?;
                    }
                    break;
                }
            };
            let loc = Loc { segment: number, offset: pos as u64, len: len as u64 };
            let found = parts.and_then(|p| {
                super::spool::check_id(p.id).map_err(|e| e.to_string())?;
                let envelope: NewEntry =
                    serde_json::from_slice(p.envelope).map_err(|e| format!("envelope: {e}"))?;
                Ok(Found {
                    id: p.id.to_string(),
                    loc,
                    created_ms: p.created_ms,
                    envelope,
                    size: p.message.len() as u64,
                })
            });
            match found {
                Ok(f) if done.covers(&f.id, f.loc) => scan.done_seen.push((done_line(&f.id, f.loc), number)),
                Ok(f) if !seen.insert(f.id.clone()) => {}
                Ok(f) => {
                    *scan.live.entry(number).or_default() += 1;
                    scan.found.push(f);
                }
                Err(why) => {
                    let label = readable_id(&bytes[pos..pos + len]).unwrap_or(at.clone());
                    tracing::error!(
                        record = at,
                        id = label,
                        why,
                        "queue record damaged: copied to corrupt/, not delivered"
                    );
                    if repair {
                        let dest = root.join("corrupt").join(&at);
                        fs::write(&dest, &bytes[pos..pos + len]).map_err(|e| io("cannot write", &dest, e))?;
                    }
                    scan.quarantined.push(label);
                }
            }
            pos += len;
        }
    }
    Ok(scan)
}

/// The queue id of a damaged record, when its header and id are still readable.
fn readable_id(bytes: &[u8]) -> Option<String> {
    let parts = record::split_parts(bytes.get(record::HEADER..)?, 4).ok()?;
    let id = std::str::from_utf8(parts[0]).ok()?;
    super::spool::check_id(id).ok()?;
    Some(id.to_string())
}
