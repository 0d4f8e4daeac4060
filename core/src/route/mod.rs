//! MX routing (RFC 5321 §5.1, RFC 7505): from a recipient domain to the ordered list of hosts
//! and addresses to deliver to, with an explanation of every step.
//!
//! - `types.rs`: the values ([`Route`], [`MxHost`], [`Step`]) — plain, owned, serialisable, so
//!   every binding hands them over as they are.
//! - `order.rs`: the sans-IO rules — MX ordering with equal preferences shuffled, null MX, our
//!   own host and every worse preference dropped, the replies that routing failures carry.
//! - `dns.rs`: the hickory-resolver queries (the only I/O here) and how their errors map.
//! - `resolve.rs`: [`resolve_mx`] and [`MxResolver`]: the CNAME chain, MX, A/AAAA, implicit MX.
//!
//! Failures are [`crate::Error`]s of kind `dns` carrying a synthesised [`crate::Reply`]: 5xx when
//! retrying cannot help (NXDOMAIN, mail looping back to us), 4xx when it may (SERVFAIL, timeout,
//! a CNAME loop — what a recursive resolver answers for one), so the queue decides on the reply
//! class the same way it does for an SMTP refusal.

pub(crate) mod dns;
mod order;
mod resolve;
mod types;

pub use order::{null_mx_reply, order_hosts, ResolveOptions};
pub use resolve::{resolve_mx, MxResolver};
pub use types::{MxHost, Route, Step, StepKind};
