//! The SMTP client (being written).

pub mod compose;
pub use compose::{compose, Attachment, ComposeOptions};
