//! The host layer: what every binding (Python, Node, C) needs around the core, written once.
//!
//! A binding runs the core inside someone else's process — an interpreter with a global lock, a
//! JavaScript event loop, a C program with its own threads. What that takes is the same for all
//! three, so it lives here and each binding is left with converting values and mapping errors:
//!
//! - [`runtime`]: the one tokio runtime of the process, rebuilt after `fork()`.
//! - [`batch`]: a thread that hands queued items to the host in batches (one lock of the host per
//!   batch, not per item) — the hook thread and the log thread are two of them.
//! - [`dispatch`]: the server's [`Hooks`](crate::server::Hooks) and
//!   [`Authenticator`](crate::server::Authenticator) as requests with a responder, answered by
//!   the host on its own thread (Python, C) or through a callback (Node); a dropped responder or
//!   a hook failure answers `451 4.3.0`, a hook that never answers is cut at `hook_timeout`.
//! - [`workers`]: a bounded pool of host threads taking items in batches, so that hooks that
//!   block overlap (Python's plain hooks; `ServerOptions::hook_workers`).
//! - [`completion`]: finished async calls queued for the host ([`Inbox`]: push, wake only when
//!   empty, take all), with a file descriptor that becomes readable when there is something to
//!   collect, for hosts that run their own loop (asyncio, a C program's `poll`); Node wakes its
//!   JS thread with a threadsafe function instead.
//! - [`log`]: a `tracing` layer that forwards records (level, target, message, fields) to the
//!   host in batches; a filtered-out event costs one atomic load.
//! - [`ticked`]: a current-thread runtime stepped by the host's own event loop (Node's), so
//!   sessions and the host's hooks share one thread.
//! - [`server`]: [`Server::start`](crate::server::Server::start) and its [`ServerHandle`].
//! - [`options`]: host values (JSON-shaped: a dict, an object) into `ServerOptions` /
//!   `ClientOptions`, with the defaults and validation of the core's option types.
//! - [`mta`]: the same for `resolve_mx`, `Queue`, `check_relay` and `analyze_received`, and
//!   their results out as JSON-shaped values.

pub mod batch;
pub mod completion;
pub mod dispatch;
pub mod log;
pub mod mta;
pub mod options;
pub mod runtime;
pub mod server;
pub mod ticked;
pub mod workers;

pub use batch::{Batch, BatchThread};
pub use completion::{spawn_caught, CompletionQueue, Inbox};
pub use dispatch::{hook_reply, AuthResponder, HookDispatch, HookRequest, HookResponder, Responder};
pub use log::{LogRecord, LogSink};
pub use server::ServerHandle;
pub use workers::{WorkerBatch, WorkerPool};
