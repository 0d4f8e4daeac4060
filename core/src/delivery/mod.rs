//! Delivery of one message to its recipients' exchangers (RFC 5321 §5.1): per recipient domain,
//! resolve the route, try its addresses in order, and run one transaction per destination with
//! all of that destination's recipients — the step both `send_mail` (no smarthost) and the
//! queue runner take.
//!
//! - `options.rs`: [`DeliveryOptions`] (port, smarthost, limits, loopback guard, TLS, timeouts).
//! - `outcome.rs`: [`Recipient`], [`RecipientOutcome`], [`Status`] and the sans-IO rules that
//!   turn a client result or error into per-recipient outcomes.
//! - `targets.rs`: sans-IO — which addresses of a route are tried, in which order, and which
//!   are skipped (limits, loopback guard), each with its reason.
//! - `attempt.rs`: the I/O of one destination: connect address after address with the core
//!   [`crate::client::Client`] (no second SMTP client), then one transaction.
//! - `deliver.rs`: [`deliver`]: group by domain (or everything to the smarthost), route, attempt.
//!
//! Policy, as Postfix does it: the next address after a connect failure, a TLS failure (after
//! one plain-text retry of the same address: opportunistic TLS must not make mail undeliverable)
//! or a 4xx/5xx greeting or EHLO; once a session is up, its transaction decides — a 5xx stops,
//! a 4xx defers to a later attempt.

mod attempt;
mod deliver;
mod options;
mod outcome;
mod targets;

pub use deliver::{deliver, deliver_with, Outgoing};
pub use options::DeliveryOptions;
pub use outcome::{Recipient, RecipientOutcome, Status};
pub use targets::{is_guarded, Target};
