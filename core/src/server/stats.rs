//! Server counters (`server.stats`), updated with relaxed atomics on the hot path.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters shared by all sessions.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub connections: AtomicU64,
    pub active: AtomicU64,
    pub refused_connections: AtomicU64,
    pub messages_accepted: AtomicU64,
    pub messages_rejected: AtomicU64,
    pub recipients_accepted: AtomicU64,
    pub recipients_rejected: AtomicU64,
    pub bytes_received: AtomicU64,
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    pub fn snapshot(&self) -> ServerStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ServerStats {
            connections: g(&self.connections),
            active_connections: g(&self.active),
            refused_connections: g(&self.refused_connections),
            messages_accepted: g(&self.messages_accepted),
            messages_rejected: g(&self.messages_rejected),
            recipients_accepted: g(&self.recipients_accepted),
            recipients_rejected: g(&self.recipients_rejected),
            bytes_received: g(&self.bytes_received),
        }
    }
}

/// A snapshot of the server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerStats {
    /// Sessions accepted since start.
    pub connections: u64,
    /// Sessions open now.
    pub active_connections: u64,
    /// Connections turned away with 421 (server full).
    pub refused_connections: u64,
    /// Messages answered 250 after DATA/BDAT.
    pub messages_accepted: u64,
    /// Messages refused after DATA/BDAT (hook, size, storage failure, smuggling).
    pub messages_rejected: u64,
    /// RCPT accepted.
    pub recipients_accepted: u64,
    /// RCPT refused (relay policy, hook, limits).
    pub recipients_rejected: u64,
    /// Message bytes received (after unstuffing).
    pub bytes_received: u64,
}
