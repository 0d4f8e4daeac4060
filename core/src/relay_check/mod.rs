//! The open-relay checker (`check_relay`, `postwire relay-check`): does this server accept mail
//! from a stranger for a stranger? Every address trick of nmap's `smtp-open-relay` script and of
//! DSBL's relay tests is tried as a named probe, and each gets a verdict with the reply and a
//! swaks-style transcript — evidence a person can read, not a boolean.
//!
//! - `matrix.rs`: the probes and their tricks (pure).
//! - `verdict.rs`: replies → verdicts → `open` / `inconclusive` (pure).
//! - `report.rs`: [`RelayReport`], [`RelayTest`].
//! - `options.rs`: [`RelayCheckOptions`].
//! - `runner.rs`: [`check_relay`], the only I/O, over the core client's single-step primitives.
//!
//! No message content is sent unless `send_data` is set; every probe ends with RSET and the check
//! with QUIT.

mod matrix;
mod options;
mod report;
mod runner;
mod verdict;

pub use matrix::{literal, probes, select, server_name_of, tricks, Probe, ProbeContext};
pub use options::{RelayCheckOptions, DEFAULT_PROBE_DOMAIN};
pub use report::{RelayReport, RelayTest};
pub use runner::check_relay;
pub use verdict::{classify, summarise, summarise_names, Verdict};
