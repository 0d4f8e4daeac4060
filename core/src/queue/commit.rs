//! Group commit: many submitters, one committer thread. Each submitter writes its record to a
//! temporary file and hands it over; the committer takes every job waiting at that moment as
//! one batch, syncs the batch's files together, renames them into place and syncs each
//! directory involved once, then wakes every submitter of the batch. Under load a batch holds
//! many messages, so a busy server pays one round of syncs per batch, not one per message;
//! alone, a message is committed at once.
//!
//! The files of a batch are synced from a few threads at the same time so the filesystem
//! journal folds them into one commit (ext4 and XFS both batch concurrent fsyncs).

use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};

use crate::error::{Error, Result};

/// Most jobs in one batch.
const MAX_BATCH: usize = 1024;
/// Threads syncing one batch's files.
const SYNC_THREADS: usize = 8;

struct Job {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    /// Remove `dest` again when its directory cannot be synced (a new message: the submitter
    /// is told it failed, so nothing may stay); a replaced state file stays.
    undo: bool,
    done: mpsc::SyncSender<Result<()>>,
}

/// The committer's handle; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub(super) struct Committer {
    tx: mpsc::Sender<Job>,
    /// Test hook: the next N syncs fail as a failing disk would.
    fail: Arc<AtomicU32>,
}

impl Committer {
    /// Start the committer thread.
    pub(super) fn start() -> Result<Committer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let fail = Arc::new(AtomicU32::new(0));
        let f = Arc::clone(&fail);
        std::thread::Builder::new()
            .name("postwire-commit".into())
            .spawn(move || run(rx, f))
            .map_err(|e| Error::io(format!("cannot start the commit thread: {e}")))?;
        Ok(Committer { tx, fail })
    }

    /// Make the written `file` (at `tmp`) durable at `dest`; blocks until its batch is synced.
    /// On error nothing is left at `tmp`, nor at `dest` when `undo`.
    pub(super) fn commit(&self, file: File, tmp: PathBuf, dest: PathBuf, undo: bool) -> Result<()> {
        let (done, wait) = mpsc::sync_channel(1);
        self.tx
            .send(Job { file, tmp: tmp.clone(), dest, undo, done })
            .map_err(|_| Error::io("the commit thread is gone"))?;
        wait.recv().unwrap_or_else(|_| {
            let _ = std::fs::remove_file(&tmp);
            Err(Error::io("the commit thread is gone"))
        })
    }

    /// Make the next `n` syncs fail (tests of the "fsync failed → 451, nothing kept" path).
    pub(super) fn fail_next_syncs(&self, n: u32) {
        self.fail.store(n, Ordering::SeqCst);
    }
}

fn injected(fail: &AtomicU32) -> bool {
    fail.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

fn run(rx: mpsc::Receiver<Job>, fail: Arc<AtomicU32>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        commit_batch(batch, &fail);
    }
}

fn commit_batch(batch: Vec<Job>, fail: &AtomicU32) {
    // 1. Sync every file's data, a few threads at a time.
    let synced: Vec<std::io::Result<()>> = if batch.len() == 1 {
        vec![batch[0].file.sync_data()]
    } else {
        let chunk = batch.len().div_ceil(SYNC_THREADS);
        std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .chunks(chunk)
                .map(|jobs| s.spawn(move || jobs.iter().map(|j| j.file.sync_data()).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        })
    };
    // 2. Rename the synced ones into place.
    let mut results = Vec::with_capacity(batch.len());
    let mut dirs = BTreeSet::new();
    for (job, synced) in batch.iter().zip(
        synced.into_iter().chain(std::iter::repeat_with(|| Err(std::io::Error::other("sync thread failed")))),
    ) {
        let r = synced
            .and_then(|()| {
                if injected(fail) {
                    Err(std::io::Error::other("injected sync failure"))
                } else {
                    Ok(())
                }
            })
            .and_then(|()| std::fs::rename(&job.tmp, &job.dest));
        match r {
            Ok(()) => {
                if let Some(d) = job.dest.parent() {
                    dirs.insert(d.to_path_buf());
                }
                results.push(Ok(()));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&job.tmp);
                results.push(Err(Error::io(format!("cannot make {} durable: {e}", job.dest.display()))));
            }
        }
    }
    // 3. One sync per directory makes the renames durable.
    for dir in &dirs {
        let r = File::open(dir).and_then(|d| d.sync_all());
        if let Err(e) = r {
            for (job, res) in batch.iter().zip(results.iter_mut()) {
                if res.is_ok() && job.dest.parent() == Some(dir.as_path()) {
                    if job.undo {
                        let _ = std::fs::remove_file(&job.dest);
                    }
                    *res = Err(Error::io(format!("cannot sync {}: {e}", dir.display())));
                }
            }
        }
    }
    for (job, res) in batch.into_iter().zip(results) {
        let _ = job.done.send(res);
    }
}
