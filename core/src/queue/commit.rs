//! Group commit: many submitters, one committer thread, which takes every new message waiting
//! at that moment as one batch and wakes every submitter of the batch when it is durable. Under
//! load a batch holds many messages, so a busy server pays one sync per batch, not one per
//! message; alone, a message is committed at once.
//!
//! The batch's records are written at the end of the current segment with one write and made
//! durable with ONE `fdatasync`; each submitter learns where its record is. A new segment is
//! started when the current one has passed [`SEGMENT_SIZE`] (its creation made durable by one
//! directory sync), and after a failed write or sync: the failed batch is cut off again
//! (`set_len`) and every job of it fails.
//!
//! Only new messages come here: a message's state after an attempt is not synced at all (see
//! `Spool::record_attempt` for why losing one is safe).

use std::fs::File;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};

use tokio::sync::oneshot;

use super::segment::{Loc, Segments, SEGMENT_SIZE};
use crate::error::{Error, Result};

/// Most jobs in one batch (at most `IOV_MAX`, 1024 on Linux: the batch is one `writev`).
const MAX_BATCH: usize = 1024;

struct AppendJob {
    /// One whole record.
    record: Vec<u8>,
    /// A tokio oneshot: awaited by a server session, waited on by a blocking caller.
    done: oneshot::Sender<Result<Loc>>,
}

/// The committer's handle; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub(super) struct Committer {
    tx: mpsc::Sender<AppendJob>,
    /// Test hook: the next N syncs fail as a failing disk would.
    fail: Arc<AtomicU32>,
}

impl Committer {
    /// Start the committer thread; it appends to new segments of `segments`.
    pub(super) fn start(segments: Arc<Segments>) -> Result<Committer> {
        let (tx, rx) = mpsc::channel::<AppendJob>();
        let fail = Arc::new(AtomicU32::new(0));
        let f = Arc::clone(&fail);
        let writer = Writer { segments, current: None };
        std::thread::Builder::new()
            .name("postwire-commit".into())
            .spawn(move || run(rx, f, writer))
            .map_err(|e| Error::io(format!("cannot start the commit thread: {e}")))?;
        Ok(Committer { tx, fail })
    }

    /// Append `record` (one whole record) to the current segment; resolves when its batch is
    /// synced, saying where it is. On error nothing of it is kept. A session awaits it without
    /// holding a thread; a blocking caller blocks on it.
    pub(super) async fn append(&self, record: Vec<u8>) -> Result<Loc> {
        let (done, wait) = oneshot::channel();
        self.tx.send(AppendJob { record, done }).map_err(|_| Error::io("the commit thread is gone"))?;
        wait.await.unwrap_or_else(|_| Err(Error::io("the commit thread is gone")))
    }

    /// Make the next `n` syncs fail (tests of the "fsync failed → 451, nothing kept" path).
    pub(super) fn fail_next_syncs(&self, n: u32) {
        self.fail.store(n, Ordering::SeqCst);
    }
}

fn injected(fail: &AtomicU32) -> bool {
    fail.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

fn run(rx: mpsc::Receiver<AppendJob>, fail: Arc<AtomicU32>, mut writer: Writer) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        writer.append(batch, &fail);
    }
    writer.retire();
}

/// Write the jobs' records one after the other at `offset` of `file`: one `writev` (more only
/// when the kernel writes part of it), the records not copied into one buffer first.
fn write_all_at(file: &File, jobs: &[AppendJob], offset: u64) -> std::io::Result<()> {
    use std::io::{IoSlice, Seek, SeekFrom, Write};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    let mut slices: Vec<IoSlice<'_>> = jobs.iter().map(|j| IoSlice::new(&j.record)).collect();
    let mut bufs = &mut slices[..];
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
        let size: u64 = jobs.iter().map(|j| j.record.len() as u64).sum();
        if self.current.as_ref().is_some_and(|c| c.len >= SEGMENT_SIZE) {
            self.retire();
        }
        let segments = Arc::clone(&self.segments);
        let r = self.current().and_then(|cur| {
            let start = cur.len;
            let r =
                write_all_at(&cur.file, &jobs, start).and_then(|()| cur.file.sync_data()).and_then(|()| {
                    if injected(fail) {
                        Err(std::io::Error::other("injected sync failure"))
                    } else {
                        Ok(())
                    }
                });
            match r {
                Ok(()) => {
                    cur.len += size;
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
