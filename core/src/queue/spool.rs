//! [`Spool`]: the local-directory [`Store`]. Layout under the spool directory:
//!
//! - `seg/<number>`: append-only segments; every message is one record (queue id, submission
//!   time, envelope JSON, message) appended by the group committer with one `fdatasync` per
//!   batch before `submit` returns (see `segment.rs`, `commit.rs`);
//! - `done`: the removed records, `<id> <segment>.<offset>` a line (appended, not synced);
//!   rewritten at open with only the lines whose segment still exists;
//! - `states`: the per-recipient state of entries after their attempts, an append-only log (not
//!   synced), rewritten at open and when it has grown (see `states.rs`);
//! - `tmp/`: files being rewritten (emptied at open: nothing there was ever acknowledged);
//! - `corrupt/`: copies of records that failed their checksum in the middle of a segment (a bad
//!   disk), `<segment>.<offset>`, never delivered; a torn tail (a write cut short by a crash,
//!   never acknowledged) is truncated away at open;
//! - `msg/<id>` and `state/<id>`: one record per message and per state, as the first spool
//!   format wrote them: still loaded (read-only compatibility); a message file is deleted when
//!   done, the state files are folded into `states` at open.
//!
//! One process at a time: `open` holds an exclusive `flock` on `lock` for the spool's life (a
//! second runner would deliver everything twice); [`Spool::snapshot`] reads without it, for
//! `postwire queue list` beside a running server.
//!
//! Removing an entry does not sync: should a power cut bring a removed entry back, it is
//! delivered again — a duplicate, which SMTP allows, rather than a loss.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::commit::Committer;
use super::entry::{NewEntry, QueueEntry};
use super::record;
use super::segment::{self, Loc, Segments};
use super::states::{self, StateLog};
use super::store::Store;
use crate::error::{Error, Result};

/// Where an entry's message is.
#[derive(Clone, Copy)]
enum At {
    Segment(Loc),
    /// `msg/<id>`, a file of the first spool format.
    File,
}

struct Slot {
    /// Shared, so that a rewrite of the state log snapshots the entries without copying them.
    entry: Arc<QueueEntry>,
    leased: bool,
    at: At,
}

/// The spool-directory store.
pub struct Spool {
    root: PathBuf,
    /// Held open for its `flock`; released when the spool is dropped.
    _lock: File,
    committer: Committer,
    segments: Arc<Segments>,
    index: Arc<Mutex<HashMap<String, Slot>>>,
    /// The `done` log, appended to by `remove`.
    done: Mutex<File>,
    /// The state log, appended to by `record_attempt`.
    states: Arc<Mutex<StateLog>>,
    /// The thread rewriting the state log, while there is one.
    rewriter: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// True from when a rewrite is due until its thread is done.
    rewriting: Arc<AtomicBool>,
    /// Tests set it to hold a rewrite right after its snapshot (for 30 s at most).
    #[cfg(test)]
    rewrite_gate: Arc<(Mutex<Gate>, std::sync::Condvar)>,
    /// What open found unreadable and set aside in `corrupt/`.
    quarantined: Vec<String>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("root", &self.root).finish_non_exhaustive()
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}: {e}", path.display()))
}

/// Unix time in milliseconds.
pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A queue id or anything else that could escape the spool is refused.
pub(super) fn check_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 64
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        || id.starts_with('.')
    {
        return Err(Error::invalid_input(format!("{id:?} is not a queue id")));
    }
    Ok(())
}

impl Spool {
    /// Open (creating) the spool at `root`: clear `tmp/`, read the segments (cutting off a
    /// torn tail, setting damaged records aside), drop what `done` lists, unlink segments with
    /// nothing live, rewrite `done`, and load `msg/` files of the first format.
    pub fn open(root: &Path) -> Result<Spool> {
        for d in ["tmp", "seg", "corrupt"] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(|e| io("cannot create", &p, e))?;
        }
        let lock = lock(root)?;
        if let Ok(rd) = fs::read_dir(root.join("tmp")) {
            for e in rd.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        let scan = segment::scan(root, true)?;
        let seg_dir = root.join("seg");
        // Segments with nothing live go, durably, before `done` forgets their records: a power
        // cut must not bring back a segment whose removed entries `done` no longer lists.
        let dead: Vec<u64> = scan.segments.iter().copied().filter(|n| !scan.live.contains_key(n)).collect();
        for n in &dead {
            let p = seg_dir.join(segment::name(*n));
            match fs::remove_file(&p) {
                // The committer of a spool just closed may have retired it a moment ago.
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("cannot remove", &p, e)),
                _ => {}
            }
        }
        if !dead.is_empty() {
            File::open(&seg_dir).and_then(|d| d.sync_all()).map_err(|e| io("cannot sync", &seg_dir, e))?;
        }
        let keep: HashSet<&str> = scan
            .done_seen
            .iter()
            .filter(|(_, n)| scan.live.contains_key(n))
            .map(|(line, _)| line.as_str())
            .collect();
        let done = rewrite_done(root, &keep)?;

        let recorded = states::read(root);
        let mut index = HashMap::new();
        for f in scan.found {
            let entry = entry_of(&recorded, &f.id, &f.envelope, f.size, f.created_ms);
            index.insert(f.id, Slot { entry: Arc::new(entry), leased: false, at: At::Segment(f.loc) });
        }
        let mut quarantined = scan.quarantined;
        load_first_format(root, &recorded, &mut index, &mut quarantined);
        // The states of live entries only: those of removed entries go here.
        let log = StateLog::create(
            root,
            index.values().map(|s| &*s.entry).filter(|e| recorded.contains_key(&e.id)),
        )?;
        let next = scan.segments.last().copied().unwrap_or(0).max(segment::highest_quarantined(root)) + 1;
        let segments = Arc::new(Segments::new(seg_dir, scan.live, next));
        Ok(Spool {
            root: root.to_path_buf(),
            _lock: lock,
            committer: Committer::start(Arc::clone(&segments))?,
            segments,
            index: Arc::new(Mutex::new(index)),
            done: Mutex::new(done),
            states: Arc::new(Mutex::new(log)),
            rewriter: Mutex::new(None),
            rewriting: Arc::new(AtomicBool::new(false)),
            #[cfg(test)]
            rewrite_gate: Arc::new((Mutex::new(Gate::default()), std::sync::Condvar::new())),
            quarantined,
        })
    }

    /// What open found damaged and set aside in `corrupt/`: queue ids when still readable,
    /// else `<segment>.<offset>` (or the file name in `msg/`, for the first format).
    pub fn quarantined(&self) -> &[String] {
        &self.quarantined
    }

    /// The spool directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Bytes free for an unprivileged writer on the spool's filesystem (`statvfs`): the server
    /// answers `452 4.3.1` at MAIL when this is under 1.5 × its message size limit.
    pub fn free_bytes(&self) -> Result<u64> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.root.as_os_str().as_bytes())
            .map_err(|_| Error::io("spool path has a NUL byte"))?;
        // SAFETY: statvfs writes into the zeroed struct we own; `path` is a valid C string.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
            return Err(io("cannot statvfs", &self.root, std::io::Error::last_os_error()));
        }
        Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }

    /// Make the next `n` syncs fail (tests).
    #[doc(hidden)]
    pub fn fail_next_syncs(&self, n: u32) {
        self.committer.fail_next_syncs(n);
    }

    fn index(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Take the spool's exclusive lock, or say who has it.
fn lock(root: &Path) -> Result<File> {
    use std::os::fd::AsRawFd;
    let path = root.join("lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io("cannot open", &path, e))?;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(Error::io(format!(
            "the spool {} is in use by another process (its lock is held)",
            root.display()
        )));
    }
    Ok(f)
}

impl Spool {
    /// Every entry of the spool at `root`, read without taking it over (no lock, nothing
    /// changed); damaged records and a tail still being written are left out.
    pub fn snapshot(root: &Path) -> Result<Vec<QueueEntry>> {
        let scan = segment::scan(root, false)?;
        let recorded = states::read(root);
        let mut v: Vec<QueueEntry> = scan
            .found
            .iter()
            .map(|f| entry_of(&recorded, &f.id, &f.envelope, f.size, f.created_ms))
            .collect();
        if let Ok(rd) = fs::read_dir(root.join("msg")) {
            v.extend(rd.flatten().filter_map(|e| {
                load_first_format_entry(&recorded, &e.file_name().to_string_lossy(), &e.path()).ok()
            }));
        }
        v.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(v)
    }
}

/// Write `done` anew with only `lines` (write a temporary file, sync, rename) and open it for
/// appending.
fn rewrite_done(root: &Path, lines: &HashSet<&str>) -> Result<File> {
    let path = root.join("done");
    let tmp = root.join("tmp").join("done");
    let text: String = lines.iter().copied().collect();
    let mut f = File::create(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_data())
        .and_then(|()| fs::rename(&tmp, &path))
        .map_err(|e| io("cannot write", &path, e))?;
    fs::OpenOptions::new().append(true).open(&path).map_err(|e| io("cannot open", &path, e))
}

/// An entry's state: the last one recorded for this message, else fresh. The state log is keyed
/// by id, and an id may be used again once its message was removed (the state of the first
/// message stays in the log until its next rewrite): a state counts only when it was recorded for
/// a message submitted at the same time.
fn entry_of(
    recorded: &HashMap<String, QueueEntry>,
    id: &str,
    env: &NewEntry,
    size: u64,
    created_ms: u64,
) -> QueueEntry {
    recorded
        .get(id)
        .filter(|e| e.created_ms == created_ms)
        .cloned()
        .unwrap_or_else(|| QueueEntry::fresh(id, env, size, created_ms))
}

/// Load the `msg/<id>` files of the first spool format (a spool written by an earlier
/// version); an unreadable one is moved to `corrupt/`.
fn load_first_format(
    root: &Path,
    recorded: &HashMap<String, QueueEntry>,
    index: &mut HashMap<String, Slot>,
    quarantined: &mut Vec<String>,
) {
    let Ok(rd) = fs::read_dir(root.join("msg")) else { return };
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        match load_first_format_entry(recorded, &id, &e.path()) {
            Ok(entry) => {
                index.entry(id).or_insert(Slot { entry: Arc::new(entry), leased: false, at: At::File });
            }
            Err(why) => {
                tracing::error!(id, why, "queue record unreadable: moved to corrupt/, not delivered");
                let _ = fs::rename(e.path(), root.join("corrupt").join(&id));
                quarantined.push(id);
            }
        }
    }
}

/// One `msg/<id>` file of the first format: a record of envelope and message.
fn load_first_format_entry(
    recorded: &HashMap<String, QueueEntry>,
    id: &str,
    path: &Path,
) -> std::result::Result<QueueEntry, String> {
    check_id(id).map_err(|e| e.to_string())?;
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    let (env, msg) = record::split(record::decode(&bytes)?)?;
    let env: NewEntry = serde_json::from_slice(env).map_err(|e| format!("envelope: {e}"))?;
    let created = fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or_else(now_ms);
    // Any state of the id is this message's: no later message is stored as a `msg/` file, and a
    // state recorded by the first format may give another submission time than the file's.
    Ok(recorded.get(id).cloned().unwrap_or_else(|| QueueEntry::fresh(id, &env, msg.len() as u64, created)))
}

/// What a submit does with an id that is stored already.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum IfKnown {
    /// Return the stored entry ([`Store::submit`]: a resubmission is idempotent).
    Keep,
    /// Fail with `invalid_input` (the queue's submit: a caller's id must be new).
    Refuse,
}

impl Spool {
    /// [`Store::submit`] awaited: the caller's task waits for the group commit without a
    /// blocking thread.
    pub async fn submit_async(&self, id: &str, envelope: &NewEntry, message: &[u8]) -> Result<QueueEntry> {
        Ok(QueueEntry::clone(&*self.add(id, envelope, message, IfKnown::Keep).await?))
    }

    /// Store a new message, durably: every submit comes here ([`Store::submit`] blocks on it,
    /// [`Spool::submit_async`] and the queue's submits await it). Returns the entry as indexed.
    pub(super) async fn add(
        &self,
        id: &str,
        envelope: &NewEntry,
        message: &[u8],
        if_known: IfKnown,
    ) -> Result<Arc<QueueEntry>> {
        check_id(id)?;
        let known = |entry: &Arc<QueueEntry>| match if_known {
            IfKnown::Keep => Ok(Arc::clone(entry)),
            IfKnown::Refuse => Err(Error::invalid_input(format!("queue id {id} is already in use"))),
        };
        if let Some(s) = self.index().get(id) {
            return known(&s.entry);
        }
        let env = serde_json::to_vec(envelope).map_err(|e| Error::io(format!("envelope: {e}")))?;
        let created = now_ms();
        let loc = self.committer.append(segment::encode_message(id, created, &env, message)).await?;
        let entry = Arc::new(QueueEntry::fresh(id, envelope, message.len() as u64, created));
        let mut index = self.index();
        if let Some(s) = index.get(id) {
            // The same id submitted twice at once: the first one stays, and this record is
            // marked done, or a reopen after the first one was removed would bring it back.
            let first = Arc::clone(&s.entry);
            drop(index);
            if let Err(e) = self.append_done(id, loc) {
                tracing::error!(error = %e, id, "cannot mark a duplicate record done");
            }
            self.segments.drop_live(loc.segment);
            return known(&first);
        }
        index.insert(id.to_string(), Slot { entry: Arc::clone(&entry), leased: false, at: At::Segment(loc) });
        Ok(entry)
    }

    /// Append the `done` line of the record of `id` at `loc` (one write, so a crash leaves a
    /// whole line or a cut one that matches nothing).
    fn append_done(&self, id: &str, loc: Loc) -> Result<()> {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        done.write_all(segment::done_line(id, loc).as_bytes())
            .map_err(|e| io("cannot append to", &self.root.join("done"), e))
    }
}

/// Where tests hold a rewrite of the state log (see `hold_rewrite`).
#[cfg(test)]
#[derive(Debug, Default)]
struct Gate {
    /// The rewrite waits after its snapshot while this is set.
    hold: bool,
    /// The rewrite has taken its snapshot.
    snapshot_taken: bool,
}

impl Spool {
    /// Rewrite the state log on a thread of its own (see `states.rs`): snapshot the entries
    /// under the log's lock (pointers, not copies), write and sync the new log with no lock
    /// held, then install it under the lock with what was appended meanwhile. A failure leaves
    /// the old log in use; the next append past the limit tries again.
    fn rewrite_states(&self) {
        let (root, states, index, busy) = (
            self.root.clone(),
            Arc::clone(&self.states),
            Arc::clone(&self.index),
            Arc::clone(&self.rewriting),
        );
        #[cfg(test)]
        let gate = Arc::clone(&self.rewrite_gate);
        let work = move || {
            let run = || -> Result<()> {
                let (mark, entries) = {
                    let log = states.lock().unwrap_or_else(|p| p.into_inner());
                    let index = index.lock().unwrap_or_else(|p| p.into_inner());
                    (log.mark()?, index.values().map(|s| Arc::clone(&s.entry)).collect::<Vec<_>>())
                };
                // Tests hold the rewrite here, after its snapshot: what they record meanwhile
                // must reach the new log through the tail `install` copies.
                #[cfg(test)]
                {
                    let mut g = gate.0.lock().unwrap();
                    g.snapshot_taken = true;
                    gate.1.notify_all();
                    drop(gate.1.wait_timeout_while(g, std::time::Duration::from_secs(30), |g| g.hold));
                }
                let mut body = states::write_body(&root, entries.iter().map(|e| &**e))?;
                // What was appended while the body was written is copied without the lock, so
                // install (under it) copies only what came in since: the lock is held for a
                // short tail however busy the log was.
                let now = states.lock().unwrap_or_else(|p| p.into_inner()).mark()?;
                let mark = body.catch_up(&root, mark, now)?;
                let old = states.lock().unwrap_or_else(|p| p.into_inner()).install(body, mark)?;
                drop(old);
                Ok(())
            };
            if let Err(e) = run() {
                tracing::error!(error = %e, "cannot rewrite the queue's state log; appending to the old one");
                states.lock().unwrap_or_else(|p| p.into_inner()).rewrite_failed();
            }
            busy.store(false, Ordering::Release);
        };
        let mut slot = self.rewriter.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(done) = slot.take() {
            let _ = done.join();
        }
        match std::thread::Builder::new().name("postwire-states".into()).spawn(work) {
            Ok(t) => *slot = Some(t),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the state log's rewrite thread");
                self.rewriting.store(false, Ordering::Release);
            }
        }
    }

    /// Hold (or let go) the next rewrite of the state log right after its snapshot (tests).
    #[cfg(test)]
    fn hold_rewrite(&self, hold: bool) {
        self.rewrite_gate.0.lock().unwrap().hold = hold;
        self.rewrite_gate.1.notify_all();
    }

    /// Wait until a held rewrite has taken its snapshot (tests; 30 s at most).
    #[cfg(test)]
    fn wait_rewrite_snapshot(&self) {
        let (lock, cv) = &*self.rewrite_gate;
        let g = lock.lock().unwrap();
        let (g, _) =
            cv.wait_timeout_while(g, std::time::Duration::from_secs(30), |g| !g.snapshot_taken).unwrap();
        assert!(g.snapshot_taken, "the rewrite took no snapshot within 30 s");
    }

    /// Wait for a rewrite of the state log in progress (tests).
    #[cfg(test)]
    fn wait_rewrite(&self) {
        if let Some(t) = self.rewriter.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Spool {
    /// A rewrite of the state log in progress is finished first: it must not rename its log
    /// over a spool that the next owner (this process's or another's) has opened meanwhile.
    fn drop(&mut self) {
        if let Some(t) = self.rewriter.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Store for Spool {
    fn submit(&self, id: &str, envelope: &NewEntry, message: &[u8]) -> Result<QueueEntry> {
        futures::executor::block_on(self.submit_async(id, envelope, message))
    }

    fn lease_due(&self, now_ms: u64, max: usize) -> Result<Vec<QueueEntry>> {
        let mut index = self.index();
        let mut due: Vec<&mut Slot> =
            index.values_mut().filter(|s| !s.leased && s.entry.next_try_ms <= now_ms).collect();
        due.sort_by_key(|s| s.entry.next_try_ms);
        Ok(due
            .into_iter()
            .take(max)
            .map(|s| {
                s.leased = true;
                QueueEntry::clone(&s.entry)
            })
            .collect())
    }

    fn release(&self, id: &str) {
        if let Some(s) = self.index().get_mut(id) {
            s.leased = false;
        }
    }

    fn message(&self, id: &str) -> Result<Vec<u8>> {
        check_id(id)?;
        let at = self.index().get(id).map(|s| s.at);
        match at {
            None => Err(Error::io(format!("no queue entry {id}"))),
            Some(At::File) => {
                let path = self.root.join("msg").join(id);
                let bytes = fs::read(&path).map_err(|e| io("cannot read", &path, e))?;
                let payload =
                    record::decode(&bytes).map_err(|why| Error::io(format!("{}: {why}", path.display())))?;
                let (_, msg) = record::split(payload).map_err(Error::io)?;
                Ok(msg.to_vec())
            }
            Some(At::Segment(loc)) => {
                let path = self.segments.path(loc.segment);
                let mut bytes = vec![0u8; loc.len as usize];
                self.segments
                    .reader(loc.segment)?
                    .read_exact_at(&mut bytes, loc.offset)
                    .map_err(|e| io("cannot read", &path, e))?;
                let at = format!("{} at {}", path.display(), loc.offset);
                let parts = record::decode(&bytes)
                    .and_then(segment::decode_message)
                    .map_err(|why| Error::io(format!("{at}: {why}")))?;
                if parts.id != id {
                    return Err(Error::io(format!("{at}: holds {}, not {id}", parts.id)));
                }
                Ok(parts.message.to_vec())
            }
        }
    }

    /// The state is appended to the state log, not synced: a power cut may bring back the
    /// state before this attempt (or none), and the worst that does is deliver again to a
    /// recipient that already got the message, send a notice twice or retry earlier than
    /// planned — the duplicates SMTP allows (as after a lost `remove`), never a loss. The
    /// message itself was made durable when it was submitted. Syncing a state file per attempt
    /// cost the runner an fsync, a rename and a directory sync, which under load took the disk
    /// from accepting (see `states.rs` for why not a file per entry at all).
    ///
    /// When the log is due for its rewrite (O(live): a record per live entry), a thread of the
    /// spool's does it ([`Spool::rewrite_states`]); this call only appends, so a runner that
    /// calls it on its runtime's worker (the store is [`Store::quick`]) never waits for that.
    fn record_attempt(&self, entry: &QueueEntry) -> Result<()> {
        check_id(&entry.id)?;
        let mut log = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let r = log.append(entry);
        let live = {
            let mut index = self.index();
            if let Some(s) = index.get_mut(&entry.id) {
                s.entry = Arc::new(entry.clone());
                s.leased = false;
            }
            index.len()
        };
        if r.is_ok() && log.needs_rewrite(live) && !self.rewriting.swap(true, Ordering::AcqRel) {
            drop(log);
            self.rewrite_states();
        }
        r
    }

    fn remove(&self, id: &str) -> Result<()> {
        check_id(id)?;
        let at = self.index().get(id).map(|s| s.at);
        match at {
            None => {}
            Some(At::File) => {
                let msg = self.root.join("msg").join(id);
                match fs::remove_file(&msg) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io("cannot remove", &msg, e)),
                }
            }
            Some(At::Segment(loc)) => self.append_done(id, loc)?,
        }
        if let Some(Slot { at: At::Segment(loc), .. }) = self.index().remove(id) {
            self.segments.drop_live(loc.segment);
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<QueueEntry>> {
        let mut v: Vec<QueueEntry> = self.index().values().map(|s| QueueEntry::clone(&s.entry)).collect();
        v.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(v)
    }

    fn contains(&self, id: &str) -> bool {
        self.index().contains_key(id)
    }

    /// Leases and listing are in memory; a message is one `pread` from the page cache; a state
    /// or a removal is one unsynced append.
    fn quick(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"Subject: s\r\n\r\nbody\r\n";

    fn env(rcpt: &str) -> NewEntry {
        NewEntry::new("s@sender.test", &[rcpt.to_string()])
    }

    fn ids(spool: &Spool) -> Vec<String> {
        let mut v: Vec<String> = spool.list().unwrap().into_iter().map(|e| e.id).collect();
        v.sort();
        v
    }

    fn segment_files(root: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(root.join("seg"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn concurrent_submits_share_few_segments_and_all_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let spool = &spool;
                s.spawn(move || {
                    for i in 0..25 {
                        spool.submit(&format!("id{t}x{i}"), &env(&format!("r{i}@d.test")), MSG).unwrap();
                    }
                });
            }
        });
        assert_eq!(segment_files(dir.path()).len(), 1, "one segment for 200 small messages");
        let before = ids(&spool);
        assert_eq!(before.len(), 200);
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(ids(&spool), before);
        assert!(spool.quarantined().is_empty());
        assert_eq!(spool.message("id3x7").unwrap(), MSG);
        let e = spool.list().unwrap().into_iter().find(|e| e.id == "id3x7").unwrap();
        assert_eq!((e.recipients[0].rcpt.as_str(), e.size), ("r7@d.test", MSG.len() as u64));
        assert_eq!(Spool::snapshot(dir.path()).unwrap().len(), 200);
    }

    #[test]
    fn removed_entries_stay_removed_and_an_empty_segment_is_unlinked() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        for id in ["a1", "a2", "a3"] {
            spool.submit(id, &env("x@d.test"), MSG).unwrap();
        }
        spool.remove("a2").unwrap();
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(ids(&spool), ["a1", "a3"], "a2 is not back");
        let first = segment_files(dir.path());
        assert_eq!(first.len(), 1);
        // New messages go to a new segment; the old one goes once its last entry is removed.
        spool.submit("b1", &env("x@d.test"), MSG).unwrap();
        assert_eq!(segment_files(dir.path()).len(), 2);
        assert_eq!(
            (spool.message("a3").unwrap(), spool.message("b1").unwrap()),
            (MSG.to_vec(), MSG.to_vec())
        );
        assert_eq!(spool.segments.readers_open(), 2, "both segments are kept open for reading");
        spool.remove("a1").unwrap();
        assert!(dir.path().join("seg").join(&first[0]).exists(), "a3 still lives there");
        spool.remove("a3").unwrap();
        assert!(!dir.path().join("seg").join(&first[0]).exists(), "unlinked with its last entry");
        assert_eq!(spool.segments.readers_open(), 1, "and closed");
        // The current segment stays while it is appended to, even when empty.
        spool.remove("b1").unwrap();
        assert_eq!(segment_files(dir.path()).len(), 1);
        assert!(ids(&spool).is_empty());
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        assert!(ids(&spool).is_empty());
        assert!(segment_files(dir.path()).is_empty(), "nothing live: unlinked at open");
        assert_eq!(fs::read_to_string(dir.path().join("done")).unwrap(), "", "done forgets them");
        spool.submit("c1", &env("x@d.test"), MSG).unwrap();
        assert_eq!(ids(&spool), ["c1"]);
    }

    #[test]
    fn an_id_used_again_after_its_removal_keeps_the_new_message_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        spool.submit("keep", &env("k@d.test"), MSG).unwrap();
        spool.submit("again", &env("old@d.test"), b"old\r\n").unwrap();
        spool.remove("again").unwrap();
        spool.submit("again", &env("new@d.test"), b"new\r\n").unwrap();
        for _ in 0..2 {
            drop(spool);
            let reopened = Spool::open(dir.path()).unwrap();
            assert_eq!(ids(&reopened), ["again", "keep"], "the second message of the id was acknowledged");
            assert_eq!(reopened.message("again").unwrap(), b"new\r\n");
            spool = reopened;
        }
        // A line cut short by a crash (no newline) removes nothing, even when what is left of it
        // reads as an id alone.
        drop(spool);
        fs::write(dir.path().join("done"), "again").unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(ids(&spool), ["again", "keep"]);
        // A `done` line of the first format (the id alone) still removes what it names.
        drop(spool);
        fs::write(dir.path().join("done"), "keep\n").unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(ids(&spool), ["again"]);
    }

    #[test]
    fn a_torn_tail_is_ignored_and_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.submit("t1", &env("x@d.test"), MSG).unwrap();
        spool.submit("t2", &env("x@d.test"), MSG).unwrap();
        drop(spool);
        let seg = dir.path().join("seg").join(&segment_files(dir.path())[0]);
        let whole = fs::metadata(&seg).unwrap().len();
        // Half a record after the last one, as a power cut in the middle of a write leaves.
        let rec = segment::encode_message("t3", 1, b"{}", MSG);
        fs::OpenOptions::new().append(true).open(&seg).unwrap().write_all(&rec[..rec.len() / 2]).unwrap();
        assert_eq!(Spool::snapshot(dir.path()).unwrap().len(), 2, "the listing ignores it");
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(ids(&spool), ["t1", "t2"]);
        assert!(spool.quarantined().is_empty(), "a torn tail was never acknowledged");
        assert_eq!(fs::metadata(&seg).unwrap().len(), whole, "cut off at open");
        assert_eq!(spool.message("t2").unwrap(), MSG);
    }

    #[test]
    fn a_failed_sync_keeps_nothing_and_the_next_submit_works() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.submit("k1", &env("x@d.test"), MSG).unwrap();
        spool.fail_next_syncs(1);
        let e = spool.submit("k2", &env("x@d.test"), MSG).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Io);
        assert!(!spool.contains("k2"));
        spool.submit("k3", &env("x@d.test"), MSG).unwrap();
        assert_eq!(ids(&spool), ["k1", "k3"]);
        assert_eq!(segment_files(dir.path()).len(), 2, "the next batch started a new segment");
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(ids(&spool), ["k1", "k3"], "nothing of the failed batch after a reopen");
        assert_eq!(spool.message("k3").unwrap(), MSG);
    }

    #[test]
    fn message_files_of_the_first_format_are_still_delivered() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("msg")).unwrap();
        let env_json = serde_json::to_vec(&env("old@d.test")).unwrap();
        // The first format's bytes written by hand: envelope length (u64 LE), envelope, message.
        let payload = [&(env_json.len() as u64).to_le_bytes()[..], &env_json, MSG].concat();
        fs::write(dir.path().join("msg").join("OLD1"), record::encode(&payload)).unwrap();
        assert_eq!(Spool::snapshot(dir.path()).unwrap().len(), 1, "listed before the new version opens it");
        let spool = Spool::open(dir.path()).unwrap();
        spool.submit("new1", &env("x@d.test"), MSG).unwrap();
        assert_eq!(ids(&spool), ["OLD1", "new1"]);
        assert_eq!(spool.message("OLD1").unwrap(), MSG);
        assert_eq!(Spool::snapshot(dir.path()).unwrap().len(), 2);
        spool.remove("OLD1").unwrap();
        assert!(!dir.path().join("msg").join("OLD1").exists(), "removing it deletes its file");
        drop(spool);
        assert_eq!(ids(&Spool::open(dir.path()).unwrap()), ["new1"]);
    }

    fn attempted(spool: &Spool, id: &str, attempts: u32) -> QueueEntry {
        let mut e = spool.list().unwrap().into_iter().find(|e| e.id == id).unwrap();
        e.attempts = attempts;
        e.next_try_ms = 1000 + u64::from(attempts);
        spool.record_attempt(&e).unwrap();
        e
    }

    #[test]
    fn states_are_one_log_kept_small_and_read_back_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.submit("s1", &env("a@d.test"), MSG).unwrap();
        spool.submit("s2", &env("b@d.test"), MSG).unwrap();
        // Many attempts: the log is rewritten as it grows, and the last state always wins.
        for n in 1..=(3 * super::states::tests_slack() as u32) {
            attempted(&spool, "s1", n);
        }
        let last = attempted(&spool, "s2", 7);
        spool.wait_rewrite();
        let one = record::encode(&serde_json::to_vec(&last).unwrap()).len() as u64;
        let log_len = fs::metadata(dir.path().join("states")).unwrap().len();
        // 3 × SLACK records were appended; without the rewrite the log would hold them all.
        let bound = one * super::states::tests_slack() * 2;
        assert!(log_len < bound, "the log was rewritten while it grew: {log_len} bytes, {bound} at most");
        assert!(!dir.path().join("state").exists(), "no file per entry");
        let listed = Spool::snapshot(dir.path()).unwrap();
        let by_id = |v: &[QueueEntry], id: &str| v.iter().find(|e| e.id == id).unwrap().attempts;
        assert_eq!(
            (by_id(&listed, "s1"), by_id(&listed, "s2")),
            (3 * super::states::tests_slack() as u32, 7)
        );
        spool.remove("s2").unwrap();
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        let v = spool.list().unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].id.as_str(), v[0].attempts), ("s1", 3 * super::states::tests_slack() as u32));
        assert_eq!(super::states::read(dir.path()).len(), 1, "the reopen kept the live entry's state only");
    }

    #[test]
    fn a_torn_state_record_is_skipped_and_old_state_files_are_folded_in() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.submit("t1", &env("a@d.test"), MSG).unwrap();
        spool.submit("t2", &env("b@d.test"), MSG).unwrap();
        attempted(&spool, "t1", 1);
        let mut newer = attempted(&spool, "t1", 2);
        drop(spool);
        // A crash cut the last append short: the state before it stands.
        newer.attempts = 3;
        let rec = record::encode(&serde_json::to_vec(&newer).unwrap());
        let mut f = fs::OpenOptions::new().append(true).open(dir.path().join("states")).unwrap();
        f.write_all(&rec[..rec.len() - 5]).unwrap();
        // t2's state as the first format wrote it, a file of its own.
        let mut old = Spool::snapshot(dir.path()).unwrap().into_iter().find(|e| e.id == "t2").unwrap();
        old.attempts = 4;
        fs::create_dir_all(dir.path().join("state")).unwrap();
        fs::write(dir.path().join("state").join("t2"), record::encode(&serde_json::to_vec(&old).unwrap()))
            .unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let v = spool.list().unwrap();
        let by_id = |id: &str| v.iter().find(|e| e.id == id).unwrap().attempts;
        assert_eq!((by_id("t1"), by_id("t2")), (2, 4));
        assert_eq!(fs::read_dir(dir.path().join("state")).unwrap().count(), 0, "folded into the log");
        drop(spool);
        assert_eq!(
            Spool::open(dir.path()).unwrap().list().unwrap().iter().map(|e| e.attempts).sum::<u32>(),
            6
        );
    }

    #[test]
    fn the_state_log_is_rewritten_after_the_call_returns_and_keeps_what_was_recorded_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        for id in ["w1", "w2", "w3"] {
            spool.submit(id, &env("a@d.test"), MSG).unwrap();
        }
        let log_len = || fs::metadata(dir.path().join("states")).unwrap().len();
        spool.hold_rewrite(true);
        let mut n = 0;
        while !spool.rewriting.load(Ordering::Acquire) {
            n += 1;
            assert!(u64::from(n) <= 2 * super::states::tests_slack(), "no rewrite after {n} states");
            attempted(&spool, "w1", n);
        }
        // The call that made the rewrite due has returned; the log is not rewritten yet (the
        // rewrite would have waited for the gate 30 s on the caller's own thread). What follows
        // comes after the rewrite's snapshot: it reaches the new log only through the tail that
        // `install` copies.
        spool.wait_rewrite_snapshot();
        let one = record::encode(&serde_json::to_vec(&attempted(&spool, "w2", 1)).unwrap()).len() as u64;
        assert!(log_len() > one * u64::from(n) / 2, "every state is still in the log");
        // While the rewrite is under way, states are recorded, an entry is removed, one is added.
        attempted(&spool, "w1", n + 1);
        attempted(&spool, "w2", 5);
        spool.remove("w3").unwrap();
        spool.submit("w4", &env("a@d.test"), MSG).unwrap();
        assert_eq!(spool.message("w1").unwrap(), MSG);
        spool.hold_rewrite(false);
        spool.wait_rewrite();
        assert!(log_len() < one * 10, "rewritten: {} bytes", log_len());
        assert!(!spool.rewriting.load(Ordering::Acquire));
        let check = |v: Vec<QueueEntry>| {
            let mut v: Vec<(String, u32)> = v.into_iter().map(|e| (e.id, e.attempts)).collect();
            v.sort();
            assert_eq!(v, [("w1".into(), n + 1), ("w2".into(), 5), ("w4".into(), 0)]);
        };
        check(Spool::snapshot(dir.path()).unwrap());
        // The next append goes to the new log.
        attempted(&spool, "w4", 2);
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        let mut v = spool.list().unwrap();
        v.iter_mut().filter(|e| e.id == "w4").for_each(|e| e.attempts -= 2);
        check(v);
    }

    #[test]
    fn the_same_id_submitted_at_once_is_kept_once_and_stays_removed() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (spool, start) = (&spool, &start);
                s.spawn(move || {
                    start.wait();
                    spool.submit("dup", &env(&format!("r{t}@d.test")), MSG).unwrap();
                });
            }
        });
        spool.submit("other", &env("o@d.test"), MSG).unwrap();
        assert_eq!(ids(&spool), ["dup", "other"]);
        spool.remove("dup").unwrap();
        drop(spool);
        // Every record of "dup" that was committed is done: none comes back.
        assert_eq!(ids(&Spool::open(dir.path()).unwrap()), ["other"]);
    }

    #[test]
    fn an_id_used_again_does_not_get_the_state_of_its_first_message_at_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.submit("again", &env("old@d.test"), b"old\r\n").unwrap();
        let mut first = attempted(&spool, "again", 3);
        first.recipients[0].status = crate::queue::RcptStatus::Delivered;
        spool.record_attempt(&first).unwrap();
        spool.remove("again").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2)); // another submission time
        spool.submit("again", &env("new@d.test"), b"new\r\n").unwrap();
        let fresh = spool.list().unwrap();
        assert_eq!(Spool::snapshot(dir.path()).unwrap(), fresh);
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(spool.list().unwrap(), fresh, "the new message, pending, as submitted");
        assert_eq!(fresh[0].recipients[0].rcpt, "new@d.test");
        assert_eq!(fresh[0].recipients[0].status, crate::queue::RcptStatus::Pending);
    }
}
