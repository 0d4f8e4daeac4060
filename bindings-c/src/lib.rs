//! libpostwire: the C binding of postwire (`include/postwire.h`).
//!
//! One file per core module, mirroring the core tree: `client.rs`, `pool.rs`, `compose.rs`,
//! `send_mail.rs` wrap `core/src/client/`; `server.rs` + `hooks.rs` wrap `core/src/server/` on
//! the host layer's hook dispatch; `route.rs`, `queue.rs`, `relay_check.rs`, `trace.rs` wrap
//! the MTA modules of the same names (options through `host::mta`); `log.rs` the host layer's log forwarding; `proto.rs` the
//! protocol core. Around them: `ffi.rs` (the panic guard, NULL checks and argument conversions
//! every entry point goes through), `error.rs` (`pw_status` and the per-thread last error),
//! `status.rs` (the status numbers, from the core's `ErrorKind`), `options.rs` (the option
//! structs → the host layer's option values) and `values.rs` (replies, send results, addresses).
//!
//! The binding stays thin: convert arguments, call the core, convert the result or the error.
//! The conventions every function follows are written in the README's C section.

#![allow(non_camel_case_types)]
// Every `extern "C"` function documents its pointer contract under `# Safety`.
#![deny(unsafe_op_in_unsafe_fn)]

mod client;
mod compose;
mod error;
mod ffi;
mod hooks;
mod log;
mod options;
mod pool;
mod proto;
mod queue;
mod relay_check;
mod route;
mod send_mail;
mod server;
mod status;
mod trace;
mod values;
