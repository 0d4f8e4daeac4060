//! Group commit: many submitters, one committer thread, which takes every job waiting at that
//! moment as one batch and wakes every submitter of the batch when it is durable. Under load a
//! batch holds many jobs, so a busy server pays one round of syncs per batch, not one per job;
//! alone, a job is committed at once. Two kinds of job:
//!
//! - **Append** (a new message): the batch's records are written at the end of the current
//!   segment with one write and made durable with ONE `fdatasync`; each submitter learns where
//!   its record is. A new segment is started when the current one has passed
//!   [`SEGMENT_SIZE`] (its creation made durable by one directory sync), and after a failed
//!   write or sync: the failed batch is cut off again (`set_len`) and every job of it fails.
//! - **File** (a message's state after an attempt): the submitter writes a temporary file;
//!   the batch's files are synced together (from a few threads, so the filesystem journal
//!   folds them into one commit), renamed into place, and each directory synced once.
//!
//! Appends and files of one batch are made durable at the same time, on two threads.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};

use super::segment::{Loc, Segments, SEGMENT_SIZE};
use crate::error::{Error, Result};

/// Most jobs in one batch.
const MAX_BATCH: usize = 1024;
/// Threads syncing one batch's files.
const SYNC_THREADS: usize = 8;

enum Job {
    File(FileJob),
    Append(AppendJob),
}

struct AppendJob {
    /// One whole record.
    record: Vec<u8>,
    done: mpsc::SyncSender<Result<Loc>>,
}

struct FileJob {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
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
    /// Start the committer thread; it appends to new segments of `segments`.
    pub(super) fn start(segments: Arc<Segments>) -> Result<Committer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let fail = Arc::new(AtomicU32::new(0));
        let f = Arc::clone(&fail);
        let writer = Writer { segments, current: None };
        std::thread::Builder::new()
            .name("postwire-commit".into())
            .spawn(move || run(rx, f, writer))
            .map_err(|e| Error::io(format!("cannot start the commit thread: {e}")))?;
        Ok(Committer { tx, fail })
    }

    /// Make the written `file` (at `tmp`) durable at `dest`; blocks until its batch is synced.
    /// On error nothing is left at `tmp` (a file replaced at `dest` may or may not be).
    pub(super) fn commit(&self, file: File, tmp: PathBuf, dest: PathBuf) -> Result<()> {
        let (done, wait) = mpsc::sync_channel(1);
        self.tx
            .send(Job::File(FileJob { file, tmp: tmp.clone(), dest, done }))
            .map_err(|_| Error::io("the commit thread is gone"))?;
        wait.recv().unwrap_or_else(|_| {
            let _ = std::fs::remove_file(&tmp);
            Err(Error::io("the commit thread is gone"))
        })
    }

    /// Append `record` (one whole record) to the current segment; blocks until its batch is
    /// synced and says where it is. On error nothing of it is kept.
    pub(super) fn append(&self, record: Vec<u8>) -> Result<Loc> {
        let (done, wait) = mpsc::sync_channel(1);
        self.tx
            .send(Job::Append(AppendJob { record, done }))
            .map_err(|_| Error::io("the commit thread is gone"))?;
        wait.recv().unwrap_or_else(|_| Err(Error::io("the commit thread is gone")))
    }

    /// Make the next `n` syncs fail (tests of the "fsync failed → 451, nothing kept" path).
    pub(super) fn fail_next_syncs(&self, n: u32) {
        self.fail.store(n, Ordering::SeqCst);
    }
}

fn injected(fail: &AtomicU32) -> bool {
    fail.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

fn run(rx: mpsc::Receiver<Job>, fail: Arc<AtomicU32>, mut writer: Writer) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let (mut files, mut appends) = (Vec::new(), Vec::new());
        for job in batch {
            match job {
                Job::File(j) => files.push(j),
                Job::Append(j) => appends.push(j),
            }
        }
        match (files.is_empty(), appends.is_empty()) {
            (true, _) => writer.append(appends, &fail),
            (false, true) => commit_files(files, &fail),
            (false, false) => std::thread::scope(|s| {
                s.spawn(|| commit_files(files, &fail));
                writer.append(appends, &fail);
            }),
        }
    }
    writer.retire();
}

/// The segment being appended to.
struct Current {
    number: u64,
    file: File,
    len: u64,
}

/// The committer's side of the segments: the current one, created on the first append.
struct Writer {
    segments: Arc<Segments>,
    current: Option<Current>,
}

impl Writer {
    /// Write the batch's records at the end of the current segment with one write, sync once,
    /// and answer each job with its place; on failure cut the batch off and answer every job
    /// `Err`.
    fn append(&mut self, jobs: Vec<AppendJob>, fail: &AtomicU32) {
        let buf = jobs.iter().map(|j| j.record.as_slice()).collect::<Vec<_>>().concat();
        if self.current.as_ref().is_some_and(|c| c.len >= SEGMENT_SIZE) {
            self.retire();
        }
        let segments = Arc::clone(&self.segments);
        let r = self.current().and_then(|cur| {
            let start = cur.len;
            let r = cur.file.write_all_at(&buf, start).and_then(|()| cur.file.sync_data()).and_then(|()| {
                if injected(fail) {
                    Err(std::io::Error::other("injected sync failure"))
                } else {
                    Ok(())
                }
            });
            match r {
                Ok(()) => {
                    cur.len += buf.len() as u64;
                    Ok((cur.number, start))
                }
                Err(e) => {
                    // Keep nothing of the batch: its submitters are told it failed.
                    let _ = cur.file.set_len(start).and_then(|()| cur.file.sync_all());
                    Err(Error::io(format!(
                        "cannot make segment {} durable: {e}",
                        segments.path(cur.number).display()
                    )))
                }
            }
        });
        match r {
            Ok((number, start)) => {
                self.segments.add_live(number, jobs.len());
                let mut offset = start;
                for job in jobs {
                    let len = job.record.len() as u64;
                    let _ = job.done.send(Ok(Loc { segment: number, offset, len }));
                    offset += len;
                }
            }
            Err(e) => {
                // The next batch starts a new segment.
                self.retire();
                for job in jobs {
                    let _ = job.done.send(Err(e.clone()));
                }
            }
        }
    }

    /// The current segment, created (and its directory synced) when there is none.
    fn current(&mut self) -> Result<&mut Current> {
        if self.current.is_none() {
            let (number, file) = self.segments.create()?;
            self.current = Some(Current { number, file, len: 0 });
        }
        Ok(self.current.as_mut().expect("just set"))
    }

    /// Stop appending to the current segment (it is unlinked when nothing in it is live).
    fn retire(&mut self) {
        if let Some(cur) = self.current.take() {
            self.segments.retire(cur.number);
        }
    }
}

fn commit_files(batch: Vec<FileJob>, fail: &AtomicU32) {
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
                    *res = Err(Error::io(format!("cannot sync {}: {e}", dir.display())));
                }
            }
        }
    }
    for (job, res) in batch.into_iter().zip(results) {
        let _ = job.done.send(res);
    }
}
