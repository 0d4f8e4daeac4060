//! The tokio driver of one session: reads, writes, timers, the TLS handshake, and awaiting
//! hooks, the authenticator and Maildir delivery — every decision is the state machine's
//! (`server::session`). This file only carries out its [`Step`]s and reports their outcome.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::hooks::{HookResult, SessionInfo};
use super::io::Stream;
use super::session::{Event, HookCall, Session, Step, StopLevel};
use super::Shared;

/// How long a closing session may take to say its last reply and shut down.
const CLOSE_WRITE: Duration = Duration::from_secs(5);

/// Run one session on `tcp` to its end.
pub(super) async fn run(
    shared: Arc<Shared>,
    info: SessionInfo,
    tcp: tokio::net::TcpStream,
    mut shutdown: watch::Receiver<StopLevel>,
) {
    let rdns = match (&shared.resolver, shared.config.opts.reverse_dns) {
        (Some(r), true) => super::rdns::lookup(r, info.peer.ip(), Duration::from_secs(5)).await,
        _ => None,
    };
    let mut s = Session::new(Arc::clone(&shared.config), info, rdns, Instant::now());
    // The stop level the session has been told. Compared with the channel's value after every
    // step rather than asking `has_changed()`: awaiting a hook waits on the same channel for
    // `Forced` (`wait_for`), which marks a `Stopping` seen without the session hearing of it —
    // a session stopped during its `on_message` then sat idle until the grace period ran out.
    let mut told = *shutdown.borrow_and_update();
    if told > StopLevel::Running {
        s.handle(Event::Stop(told), Instant::now());
    }
    let mut io = Stream::Plain(tcp);
    loop {
        let step = s.poll(Instant::now());
        let event = match step {
            Step::Flush => match write_out(&mut s, &mut io, shared.config.opts.timeouts.write).await {
                Ok(()) => continue,
                Err(_) => break,
            },
            Step::Read => {
                if write_out(&mut s, &mut io, shared.config.opts.timeouts.write).await.is_err() {
                    break;
                }
                read(&mut s, &mut io, &mut shutdown).await
            }
            Step::CallHook(call) => {
                let answer = call_hook(&shared, call, &mut shutdown).await;
                answer.unwrap_or(Event::Stop(StopLevel::Forced))
            }
            Step::Authenticate { user, password } => {
                let Some(checker) = shared.config.opts.auth.clone() else { break };
                let fut = AssertUnwindSafe(checker.authenticate(user, password)).catch_unwind();
                match until_forced(fut, &mut shutdown).await {
                    Some(Ok(r)) => Event::Authenticated(r),
                    Some(Err(_)) => Event::Authenticated(Err("authenticator panicked".into())),
                    None => Event::Stop(StopLevel::Forced),
                }
            }
            Step::StartTls => {
                if write_out(&mut s, &mut io, shared.config.opts.timeouts.write).await.is_err() {
                    break;
                }
                match starttls(&shared, io).await {
                    Ok((event, tls)) => {
                        io = tls;
                        event
                    }
                    Err(event) => {
                        // The socket went with the failed handshake: nothing more to say.
                        s.handle(event, Instant::now());
                        return;
                    }
                }
            }
            Step::Deliver(req) if shared.queue.is_some() => {
                let Some(q) = shared.queue.clone() else { break };
                let stored = q.submit_as(&req.queue_id, &queue_entry(&req.envelope), &req.data).await;
                Event::Delivered(stored.map_err(|e| format!("not queued: {e}")))
            }
            Step::CheckStorage(size) => {
                let Some(q) = &shared.queue else { break };
                Event::Storage(match q.has_room_for(size) {
                    Ok(room) => room,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot tell the queue's free space");
                        false
                    }
                })
            }
            Step::Deliver(req) => {
                let Some(md) = shared.maildir.clone() else { break };
                let host = shared.config.opts.hostname.clone();
                let stored = tokio::task::spawn_blocking(move || {
                    md.deliver_message(
                        &req.queue_id,
                        &host,
                        &req.envelope.mail_from,
                        &req.envelope.rcpt_to,
                        &req.data,
                    )
                })
                .await;
                Event::Delivered(match stored {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(format!("delivery task failed: {e}")),
                })
            }
            Step::Close => {
                // The client may not be reading either: the last words get a short bound.
                let _ = write_out(&mut s, &mut io, CLOSE_WRITE).await;
                break;
            }
        };
        // A stop that happened while this step ran is reported first, so the session judges
        // the bytes that came after it (a NOOP after stop() is answered 421) knowing it.
        let level = *shutdown.borrow_and_update();
        if level > told {
            told = level;
            s.handle(Event::Stop(level), Instant::now());
        }
        if let Event::Stop(level) = event {
            if level <= told {
                continue;
            }
            told = level;
        }
        s.handle(event, Instant::now());
    }
    close(io).await;
}

/// End the connection. Plain TCP: dropping the socket closes it — the kernel sends what is still
/// buffered, then FIN, as `shutdown(SHUT_WR)` would — so no system call and no timer here (a
/// 5 s timer made tokio wake its I/O driver once per session: it ended before every command
/// deadline). TLS: `close_notify` first, bounded by [`CLOSE_WRITE`].
async fn close(io: Stream) {
    if let Stream::Tls(mut tls) = io {
        let _ = tokio::time::timeout(CLOSE_WRITE, tls.shutdown()).await;
    }
}

/// Write the session's pending replies.
async fn write_out(s: &mut Session, io: &mut Stream, limit: Duration) -> Result<(), ()> {
    if s.output().is_empty() {
        return Ok(());
    }
    let write = async {
        io.write_all(s.output()).await?;
        io.flush().await
    };
    match tokio::time::timeout(limit, write).await {
        Ok(Ok(())) => {
            s.output_written();
            Ok(())
        }
        _ => Err(()),
    }
}

/// Read into the session's buffer until its deadline, or until the server's stop level changes.
async fn read(s: &mut Session, io: &mut Stream, shutdown: &mut watch::Receiver<StopLevel>) -> Event {
    let deadline = s.deadline().map(tokio::time::Instant::from_std);
    let buf = s.input_buffer();
    let read = async {
        match deadline {
            Some(d) => tokio::time::timeout_at(d, io.read_buf(buf)).await.ok(),
            None => Some(io.read_buf(buf).await),
        }
    };
    tokio::select! {
        biased;
        changed = shutdown.changed() => match changed {
            Ok(()) => Event::Stop(*shutdown.borrow_and_update()),
            // The server is gone: stop as if forced.
            Err(_) => Event::Stop(StopLevel::Forced),
        },
        r = read => match r {
            None => Event::Timeout,
            Some(Ok(0)) | Some(Err(_)) => Event::Eof,
            Some(Ok(n)) => Event::Received(n),
        },
    }
}

/// Call a hook: a panic (when called or while awaited) or an error is a failed hook, which the
/// session answers 451. `None` when the server was forced to stop meanwhile.
async fn call_hook(
    shared: &Shared,
    call: HookCall,
    shutdown: &mut watch::Receiver<StopLevel>,
) -> Option<Event> {
    let hooks = &*shared.hooks;
    let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| call.call(hooks))) {
        Ok(Some(f)) => f,
        Ok(None) => return Some(Event::HookAnswered(Ok(None))),
        Err(_) => return Some(Event::HookAnswered(Err("hook panicked".into()))),
    };
    let answer: HookResult = match until_forced(AssertUnwindSafe(fut).catch_unwind(), shutdown).await? {
        Ok(r) => r,
        Err(_) => Err("hook panicked".into()),
    };
    Some(Event::HookAnswered(answer))
}

/// Await `fut` unless the server is forced to stop first.
async fn until_forced<F: std::future::Future>(
    fut: F,
    shutdown: &mut watch::Receiver<StopLevel>,
) -> Option<F::Output> {
    tokio::select! {
        r = fut => Some(r),
        _ = shutdown.wait_for(|l| *l >= StopLevel::Forced) => None,
    }
}

/// The handshake after STARTTLS: the stream to go on with, or why there is none.
async fn starttls(shared: &Shared, io: Stream) -> Result<(Event, Stream), Event> {
    let (Some(acceptor), Stream::Plain(tcp)) = (shared.tls.clone(), io) else {
        return Err(Event::TlsFailed("no TLS configured".into()));
    };
    let limit = shared.config.opts.timeouts.tls_handshake;
    match tokio::time::timeout(limit, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            let info = super::tls::info(tls.get_ref().1);
            Ok((Event::TlsEstablished(info), Stream::Tls(Box::new(tls))))
        }
        Ok(Err(e)) => Err(Event::TlsFailed(e.to_string())),
        Err(_) => Err(Event::TlsFailed("handshake timed out".into())),
    }
}

/// The queue's envelope of an accepted message: sender, recipients with their NOTIFY and ORCPT,
/// RET and ENVID (RFC 3461), as the notices need them.
fn queue_entry(env: &super::hooks::Envelope) -> crate::queue::NewEntry {
    let recipients = env
        .rcpt_to
        .iter()
        .enumerate()
        .map(|(i, address)| {
            let p = env.rcpt_params.get(i);
            crate::queue::NewRecipient {
                address: address.clone(),
                notify: p.and_then(|p| p.notify.as_ref()).and_then(|n| n.to_param_value()),
                orcpt: p.and_then(|p| p.orcpt.as_ref()).map(|(t, a)| format!("{t};{a}")),
            }
        })
        .collect();
    crate::queue::NewEntry {
        mail_from: env.mail_from.clone(),
        recipients,
        envid: env.mail_params.envid.clone(),
        ret: env.mail_params.ret.map(|r| r.as_str().to_ascii_lowercase()),
    }
}
