//! [`Spool`]: the local-directory [`Store`]. Layout under the spool directory:
//!
//! - `tmp/`: records being written (emptied at open: nothing there was ever acknowledged);
//! - `msg/<id>`: one record per message — envelope (JSON) and message — written once, made
//!   durable by the group committer before `submit` returns;
//! - `state/<id>`: the per-recipient state (JSON record), replaced atomically (write, sync,
//!   rename) after every attempt; absent until the first attempt;
//! - `corrupt/`: records that failed their checksum or length (a torn write, a bad disk),
//!   moved aside at open and never delivered.
//!
//! One process at a time: `open` holds an exclusive `flock` on `lock` for the spool's life (a
//! second runner would deliver everything twice); [`Spool::snapshot`] reads without it, for
//! `postwire queue list` beside a running server.
//!
//! Removing an entry does not sync: should a power cut bring a removed entry back, it is
//! delivered again — a duplicate, which SMTP allows, rather than a loss.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::commit::Committer;
use super::entry::{NewEntry, QueueEntry};
use super::record;
use super::store::Store;
use crate::error::{Error, Result};

struct Slot {
    entry: QueueEntry,
    leased: bool,
}

/// The spool-directory store.
pub struct Spool {
    root: PathBuf,
    /// Held open for its `flock`; released when the spool is dropped.
    _lock: File,
    committer: Committer,
    index: Mutex<HashMap<String, Slot>>,
    tmp_seq: AtomicU64,
    /// What open found unreadable and moved to `corrupt/`.
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
fn check_id(id: &str) -> Result<()> {
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
    /// Open (creating) the spool at `root`: clear `tmp/`, load every entry, quarantine what
    /// fails its checksum.
    pub fn open(root: &Path) -> Result<Spool> {
        for d in ["tmp", "msg", "state", "corrupt"] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(|e| io("cannot create", &p, e))?;
        }
        let lock = lock(root)?;
        if let Ok(rd) = fs::read_dir(root.join("tmp")) {
            for e in rd.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        let mut index = HashMap::new();
        let mut quarantined = Vec::new();
        let msg_dir = root.join("msg");
        let rd = fs::read_dir(&msg_dir).map_err(|e| io("cannot list", &msg_dir, e))?;
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            match load_entry(root, &id, &path) {
                Ok(entry) => {
                    index.insert(id, Slot { entry, leased: false });
                }
                Err(why) => {
                    tracing::error!(id, why, "queue record unreadable: moved to corrupt/, not delivered");
                    let _ = fs::rename(&path, root.join("corrupt").join(&id));
                    let _ = fs::remove_file(root.join("state").join(&id));
                    quarantined.push(id);
                }
            }
        }
        // State files whose message is gone (removal interrupted).
        if let Ok(rd) = fs::read_dir(root.join("state")) {
            for e in rd.flatten() {
                if !index.contains_key(&*e.file_name().to_string_lossy()) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(Spool {
            root: root.to_path_buf(),
            _lock: lock,
            committer: Committer::start()?,
            index: Mutex::new(index),
            tmp_seq: AtomicU64::new(0),
            quarantined,
        })
    }

    /// Ids moved to `corrupt/` when the spool was opened.
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

    /// Write `bytes` to a new file in `tmp/`, then commit it to `dest`.
    fn write_durably(&self, bytes: &[u8], dest: PathBuf, undo: bool) -> Result<()> {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp = self.root.join("tmp").join(format!("{}.{n}", std::process::id()));
        let mut f = File::create(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
        if let Err(e) = f.write_all(bytes) {
            let _ = fs::remove_file(&tmp);
            return Err(io("cannot write", &tmp, e));
        }
        self.committer.commit(f, tmp, dest, undo)
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
    /// changed); unreadable records are left out.
    pub fn snapshot(root: &Path) -> Result<Vec<QueueEntry>> {
        let msg_dir = root.join("msg");
        let rd = fs::read_dir(&msg_dir).map_err(|e| io("cannot list", &msg_dir, e))?;
        let mut v: Vec<QueueEntry> = rd
            .flatten()
            .filter_map(|e| load_entry(root, &e.file_name().to_string_lossy(), &e.path()).ok())
            .collect();
        v.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(v)
    }
}

fn load_entry(root: &Path, id: &str, path: &Path) -> std::result::Result<QueueEntry, String> {
    check_id(id).map_err(|e| e.to_string())?;
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    let (env, msg) = record::split(record::decode(&bytes)?)?;
    let env: NewEntry = serde_json::from_slice(env).map_err(|e| format!("envelope: {e}"))?;
    let state = fs::read(root.join("state").join(id)).ok().and_then(|b| {
        let payload = record::decode(&b).ok()?;
        serde_json::from_slice::<QueueEntry>(payload).ok()
    });
    let created = fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or_else(now_ms);
    Ok(state.unwrap_or_else(|| QueueEntry::fresh(id, &env, msg.len() as u64, created)))
}

impl Store for Spool {
    fn submit(&self, id: &str, envelope: &NewEntry, message: &[u8]) -> Result<QueueEntry> {
        check_id(id)?;
        if let Some(s) = self.index().get(id) {
            return Ok(s.entry.clone());
        }
        let env = serde_json::to_vec(envelope).map_err(|e| Error::io(format!("envelope: {e}")))?;
        let bytes = record::encode(&record::join(&env, message));
        self.write_durably(&bytes, self.root.join("msg").join(id), true)?;
        let entry = QueueEntry::fresh(id, envelope, message.len() as u64, now_ms());
        self.index().insert(id.to_string(), Slot { entry: entry.clone(), leased: false });
        Ok(entry)
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
                s.entry.clone()
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
        let path = self.root.join("msg").join(id);
        let bytes = fs::read(&path).map_err(|e| io("cannot read", &path, e))?;
        let payload =
            record::decode(&bytes).map_err(|why| Error::io(format!("{}: {why}", path.display())))?;
        let (_, msg) = record::split(payload).map_err(Error::io)?;
        Ok(msg.to_vec())
    }

    fn record_attempt(&self, entry: &QueueEntry) -> Result<()> {
        check_id(&entry.id)?;
        let json = serde_json::to_vec(entry).map_err(|e| Error::io(format!("state: {e}")))?;
        let r = self.write_durably(&record::encode(&json), self.root.join("state").join(&entry.id), false);
        if let Some(s) = self.index().get_mut(&entry.id) {
            s.entry = entry.clone();
            s.leased = false;
        }
        r
    }

    fn remove(&self, id: &str) -> Result<()> {
        check_id(id)?;
        let msg = self.root.join("msg").join(id);
        match fs::remove_file(&msg) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot remove", &msg, e)),
        }
        let _ = fs::remove_file(self.root.join("state").join(id));
        self.index().remove(id);
        Ok(())
    }

    fn list(&self) -> Result<Vec<QueueEntry>> {
        let mut v: Vec<QueueEntry> = self.index().values().map(|s| s.entry.clone()).collect();
        v.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(v)
    }

    fn contains(&self, id: &str) -> bool {
        self.index().contains_key(id)
    }
}
