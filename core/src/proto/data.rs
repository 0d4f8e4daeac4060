//! The message body on the wire: the server's DATA receiver and the client's DATA encoder.
//!
//! Receiver: dot-unstuffing that works across arbitrary TCP chunk boundaries, size limit enforced
//! while bytes arrive (the message is drained, not stored, past the limit), text-line limit, and
//! the SMTP-smuggling defence: only `<CRLF>.<CRLF>` ends the data; a bare CR or bare LF anywhere
//! (which covers `\n.\n`, `\r.\r`, `\r.\n`, `\n.\r`, `\n.\r\n`, `\r.\r\n`, `\r\n.\n`, `\r\n.\r`)
//! or a NUL byte (which covers `\r\n\x00.\r\n`) is, under the default [`BareLinePolicy::Reject`],
//! a violation that makes the server answer 5xx and close the connection — nothing of that
//! message is stored. [`BareLinePolicy::Normalize`] instead stores bare CR/LF as CRLF and drops
//! NUL bytes, which can never produce an end-of-data the sender did not write as CRLF.CRLF.

/// What to do with bare CR, bare LF and NUL inside DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareLinePolicy {
    /// Refuse the message (5xx) and close the session. The default.
    #[default]
    Reject,
    /// Store bare CR / bare LF as CRLF and drop NUL bytes.
    Normalize,
}

/// Limits for one message.
#[derive(Debug, Clone, Copy)]
pub struct DataLimits {
    /// Largest message in bytes (after unstuffing, before our Received line); 0 = unlimited.
    pub max_size: u64,
    /// Longest text line in bytes including CRLF; 0 = unlimited. Default 1000 (RFC 5321 §4.5.3.1.6).
    pub max_line: usize,
    /// Bare CR/LF and NUL handling.
    pub policy: BareLinePolicy,
}

impl Default for DataLimits {
    fn default() -> Self {
        DataLimits { max_size: 0, max_line: 1000, policy: BareLinePolicy::Reject }
    }
}

/// A rule the message broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataViolation {
    /// A bare CR or bare LF (policy Reject): smuggling attempt or broken client. Fatal.
    BareLineEnding,
    /// A NUL byte (policy Reject). Fatal.
    Nul,
    /// More than `max_size` bytes: drained to the end, then 552.
    TooBig,
    /// A line longer than `max_line`: drained to the end, then 500.
    LineTooLong,
}

impl DataViolation {
    /// True when the server must answer and close at once, without reading further.
    pub fn is_fatal(self) -> bool {
        matches!(self, DataViolation::BareLineEnding | DataViolation::Nul)
    }
}

/// Where the receiver stands after [`DataReceiver::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataStatus {
    /// All input consumed, end not seen yet.
    NeedMore,
    /// End of data seen; `consumed` bytes of the input belonged to the message (the rest are the
    /// next pipelined commands). Check [`DataReceiver::violation`].
    Done { consumed: usize },
    /// A fatal violation (bare line ending / NUL under Reject): stop reading, answer, close.
    Abort(DataViolation),
}

/// Incremental DATA receiver. Feed it what the socket gives; it appends the unstuffed message
/// (with CRLF line endings, the final CRLF before the dot included) to `out`.
#[derive(Debug, Clone)]
pub struct DataReceiver {
    limits: DataLimits,
    // Implementation state (implementer: add what you need, e.g. position-in-line, pending CR,
    // bytes seen, current line length, first violation).
    size: u64,
    violation: Option<DataViolation>,
}

impl DataReceiver {
    /// A receiver for one message.
    pub fn new(limits: DataLimits) -> Self {
        todo!()
    }

    /// Consume bytes. Returns [`DataStatus::Done`] once `CRLF.CRLF` (or `.CRLF` at the very
    /// start) has been consumed; the message never includes the terminating `.CRLF`.
    /// Past `max_size` nothing more is appended to `out` but bytes are still consumed.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> DataStatus {
        todo!()
    }

    /// Message bytes seen so far (after unstuffing), including those drained past the limit.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The first non-fatal violation (TooBig, LineTooLong) or the fatal one.
    pub fn violation(&self) -> Option<DataViolation> {
        self.violation
    }
}

/// Client side: append `message` as DATA content — bare CR and bare LF normalised to CRLF, a
/// leading `.` on any line doubled, a final CRLF added if missing — followed by `.\r\n`.
/// Invariant (property-tested): the output contains no lone CR or LF and its only `\r\n.\r\n` is
/// the terminator.
pub fn encode_data(message: &[u8], out: &mut Vec<u8>) {
    todo!()
}

/// Client side, for BDAT: the message with bare CR/LF normalised to CRLF (no dot-stuffing).
pub fn normalize_crlf(message: &[u8]) -> Vec<u8> {
    todo!()
}
