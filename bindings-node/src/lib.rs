//! The `postwire` npm package's native addon (napi-rs) over the postwire core.
//!
//! One file per core module, mirroring the core tree: `client.rs` and `pool.rs` wrap
//! `core/src/client/` (session and pool), `compose.rs` and `send_mail.rs` the functions beside
//! them, `server.rs` + `hooks.rs` wrap `core/src/server/` (hooks through the core's
//! `host::dispatch` in callback mode, their arguments built by `hook_args.rs`), `proto.rs` the
//! protocol core (the shared vectors),
//! `mta.rs` the MTA modules (`route`, `queue`, `relay_check`, `trace`, through `host::mta`).
//! Around them the Node ends of the core's host layer (`postwire::host`): `completion.rs`
//! settles every Promise the addon returns through one channel per JS environment (the core's
//! completion inbox and one threadsafe function; the keep-alive Promise of a started server or
//! queue too), `runtime.rs` pins the addon's image (the core's shared runtime outlives an
//! environment), `uvloop.rs` steps the core's `host::ticked` runtime from the JS thread's libuv
//! loop (where a server's sessions run by default), `logging.rs` hands the core's log records to a JS `logger`, `options.rs` turns option objects into the JSON the core deserializes (names,
//! defaults and checks are the core's), `values.rs` gives the API's values their JS shape and
//! `error.rs` maps a core error to a JS `Error` with `.code`, `.kind`, `.reply`, `.rejected`.
//!
//! The binding stays thin: convert arguments, call the core, convert the result or the error.
//! No panic crosses into Node: every exported function is `#[napi(catch_unwind)]` (a panic
//! becomes a thrown error), a Promise whose future panicked is rejected, and the
//! code that runs inside napi's own callbacks (hooks and log records on the JS thread, Promise
//! resolvers) has no `unwrap` and never returns an error napi would make fatal.

// `cargo clippy --all-targets` builds this crate in test mode, where napi-derive registers
// nothing: exported functions then look unused.
#![cfg_attr(test, allow(dead_code))]

mod client;
mod completion;
mod compose;
mod error;
mod hook_args;
mod hooks;
mod logging;
mod mta;
mod options;
mod pool;
mod proto;
mod runtime;
mod send_mail;
mod server;
mod uvloop;
mod values;

/// Runs when the addon is loaded: its image stays loaded for the process (see `runtime.rs`).
#[napi_derive::module_init]
fn init() {
    runtime::register();
}
