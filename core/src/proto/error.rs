//! Why a command line was refused, and the reply that says so. Shared by the command grammar and
//! the ESMTP parameter grammar (its own file so neither imports the other for it).

use super::reply::Reply;

/// Why a command line was refused; [`CommandError::reply`] is what the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Not a command we know: `500 5.5.2`.
    Unknown { verb: String },
    /// Known verb, bad arguments: `code` is 501 (syntax), 553 (mailbox syntax) or 555 (bad
    /// MAIL/RCPT parameter), with an enhanced code and a message.
    Syntax { code: u16, enhanced: &'static str, message: String },
}

impl CommandError {
    /// The reply the server sends for this error.
    pub fn reply(&self) -> Reply {
        match self {
            CommandError::Unknown { .. } => Reply::new(500, "Command unrecognized", Some("5.5.2")),
            CommandError::Syntax { code, enhanced, message } => Reply::new(*code, message, Some(enhanced)),
        }
    }
}
