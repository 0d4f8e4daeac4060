//! postwire: one Rust core that speaks SMTP — protocol, server, client — for Rust, Python, Node
//! and C.
//!
//! - [`proto`]: the sans-IO protocol core (parsers, replies, DATA codec).
//! - [`server`]: the SMTP server (`postwire serve`).
//! - [`client`]: the SMTP client (`postwire send`), pool and message composition.
//! - [`route`]: MX routing (`postwire mx`); [`delivery`]: delivery by MX or smarthost;
//!   [`queue`]: the durable store-and-forward queue (`postwire queue`).
//! - [`host`]: what every binding needs around the core (runtime, hook dispatch, completion
//!   queue, log forwarding, server handle, options from host values).
//! - [`relay_check`]: the open-relay checker (`postwire relay-check`).
//! - [`trace`]: `Received:`-trace analysis (`postwire analyze`).
//! - [`error`]: the one error type.
//!
//! The `cli` feature (on by default, for the `postwire` binary) adds [`cli`]; the bindings build
//! without it.

#[cfg(feature = "cli")]
pub mod cli;
pub mod client;
pub mod delivery;
pub mod error;
pub mod host;
pub mod hostname;
pub mod option_values;
pub mod proto;
pub mod queue;
pub mod relay_check;
pub mod route;
pub mod server;
pub mod trace;

pub use error::{Error, ErrorKind, Result};
pub use proto::Reply;
