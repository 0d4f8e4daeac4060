//! `Received:`-trace analysis (`analyze_received`, `postwire analyze`): where did this message
//! really come from, and does its trace look forged?
//!
//! - `line.rs`: one `Received:` value → [`ReceivedLine`] (grammar by `mail-parser`) + defects.
//! - `hop.rs`: lines → [`Hop`]s in path order with delays.
//! - `names.rs`: host-name and address comparison (Public Suffix List), private ranges, trust.
//! - `findings.rs`: the checks → [`Finding`]s with [`Severity`].
//! - `resolve.rs`: the optional forward-confirmed reverse DNS (the only I/O).
//! - `analysis.rs`: [`analyze_received`] and [`TraceAnalysis`].

mod analysis;
mod findings;
mod hop;
mod line;
pub mod names;
mod resolve;

pub use analysis::{
    analyze_offline, analyze_received, parse_hops, received_fields, TraceAnalysis, TraceOptions,
};
pub use findings::{DateLimits, Finding, Severity};
pub use hop::Hop;
pub use line::{parse_received_value, ReceivedLine};
