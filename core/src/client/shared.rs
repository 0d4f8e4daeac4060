//! The part of a session its handles read: a small snapshot ([`SessionState`]) and the published
//! transcript, behind one `std::sync::Mutex` next to the connection.
//!
//! Why a snapshot and not the session itself: a call in flight (a send waiting ten minutes for
//! the reply to its final dot) holds the session; a getter must not wait behind it — a binding's
//! `client.transcript` or `client.closed` read during a send used to block, or fail with "a call
//! is in flight". The session writes here once at the end of every call (and never while no
//! handle exists); getters lock only long enough to copy. The lock is never held across an
//! `.await`, so a plain mutex is right (tokio's own advice for short critical sections).

use std::sync::{Mutex, MutexGuard};

use crate::proto::{Capabilities, Reply};

use super::result::Timings;

/// What a [`super::ClientHandle`] knows about its session without asking it: the state as of
/// the end of the session's last call (or its opening).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    /// The 220 banner.
    pub banner: Reply,
    /// The server's EHLO capabilities (after STARTTLS, the ones advertised over TLS).
    pub capabilities: Capabilities,
    /// True when the server answered EHLO (false after a HELO fallback).
    pub esmtp: bool,
    /// True when the session runs over TLS.
    pub tls: bool,
    /// The name sent in EHLO/HELO.
    pub hello_name: String,
    /// The user of a successful login.
    pub authenticated_user: Option<String>,
    /// True once the connection is gone (QUIT, an error that left it unusable, an abandoned
    /// call).
    pub closed: bool,
    /// The queue id the server named for the last successful send.
    pub last_queue_id: Option<String>,
    /// Session phases: connect, banner, TLS, EHLO, AUTH.
    pub timings: Timings,
}

impl Default for SessionState {
    fn default() -> Self {
        SessionState {
            banner: Reply { code: 0, enhanced: None, lines: Vec::new() },
            capabilities: Capabilities::default(),
            esmtp: false,
            tls: false,
            hello_name: String::new(),
            authenticated_user: None,
            closed: false,
            last_queue_id: None,
            timings: Timings::default(),
        }
    }
}

/// What the session last published.
#[derive(Debug, Default)]
pub(crate) struct Published {
    pub(crate) state: SessionState,
    pub(crate) transcript: Vec<String>,
}

/// The published state, shared by the session and its handles.
#[derive(Debug, Default)]
pub(crate) struct Shared(Mutex<Published>);

impl Shared {
    /// Lock for a short copy or update. A panic elsewhere while holding it leaves plain data
    /// behind, so a poisoned lock is still used.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Published> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the state.
    pub(crate) fn state(&self) -> SessionState {
        self.lock().state.clone()
    }

    /// A copy of the published transcript.
    pub(crate) fn transcript(&self) -> Vec<String> {
        self.lock().transcript.clone()
    }
}
