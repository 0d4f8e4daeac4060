//! The message body on the wire: the server's DATA/BDAT receiver and the client's DATA encoder.
//!
//! One receiver, one content policy for DATA and BDAT: BDAT chunks (RFC 3030) are counted, not
//! dot-terminated, but their content goes through the very same checks ([`DataReceiver::bdat`]) —
//! otherwise a later hop that turns BDAT into DATA could be smuggled through, and a line refused
//! in DATA would be accepted in BDAT.
//!
//! Receiver: dot-unstuffing that works across arbitrary TCP chunk boundaries, size limit enforced
//! while bytes arrive (the message is drained, not stored, past the limit), text-line limit, and
//! the SMTP-smuggling defence: only `<CRLF>.<CRLF>` ends the data; a bare CR or bare LF anywhere
//! (which covers `\n.\n`, `\r.\r`, `\r.\n`, `\n.\r`, `\n.\r\n`, `\r.\r\n`, `\r\n.\n`, `\r\n.\r`)
//! or a NUL byte (which covers `\r\n\x00.\r\n`) is, under the default [`BareLinePolicy::Reject`],
//! a violation that makes the server answer 5xx and close the connection — nothing of that
//! message is stored. [`BareLinePolicy::Normalize`] instead stores bare CR/LF as CRLF and drops
//! NUL bytes, which can never produce an end-of-data the sender did not write as CRLF.CRLF.

/// The known SMTP-smuggling variants of an end of data (a dot between bare CRs/LFs, and a NUL
/// before it): none of them may ever end a message. Shared by the tests and the fuzzer.
pub const SMUGGLING_SEQUENCES: [&[u8]; 9] = [
    b"\n.\n",
    b"\r.\r",
    b"\r.\n",
    b"\n.\r",
    b"\n.\r\n",
    b"\r.\r\n",
    b"\r\n.\n",
    b"\r\n.\r",
    b"\r\n\x00.\r\n",
];

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

/// How the end of the message is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// DATA: dot-stuffed, ended by `CRLF.CRLF`.
    Dot,
    /// BDAT: counted by the caller; a `.` is plain content, [`DataReceiver::finish`] ends it.
    Counted,
}

/// A rule the message broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataViolation {
    /// A bare CR or bare LF (policy Reject): smuggling attempt or broken client. Fatal.
    BareLineEnding,
    /// A NUL byte (policy Reject). Fatal.
    Nul,
    /// More than `max_size` bytes: nothing more is stored, the rest is drained, then 552.
    TooBig,
    /// A line longer than `max_line`: nothing more is stored, the rest is drained, then 500.
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

/// Incremental DATA/BDAT receiver. Feed it what the socket gives; it appends the unstuffed message
/// (with CRLF line endings, the final CRLF before the dot included) to `out`. Once the message is
/// doomed (too big, a line too long) or [`DataReceiver::stop_storing`] was called, it appends
/// nothing more: the rest is only counted and checked (drained), so a doomed message costs no
/// memory while the client finishes sending it.
#[derive(Debug, Clone)]
pub struct DataReceiver {
    limits: DataLimits,
    framing: Framing,
    /// False after `stop_storing()`.
    storing: bool,
    size: u64,
    violation: Option<DataViolation>,
    state: State,
    /// Bytes of the current line so far (a removed stuffing dot counts: it was on the wire).
    line_len: usize,
}

/// Where the receiver stands between two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Right after a real CRLF (or at the start): a `.` here is stuffing or the terminator.
    LineStart,
    /// Inside a line, or at the start of a line that did not begin after a real CRLF (after a
    /// normalised bare line ending or a dropped NUL): a `.` here is plain content.
    Mid,
    /// A CR inside a line; an LF must follow.
    Cr,
    /// A `.` at a real line start.
    Dot,
    /// `.` then CR at a real line start; an LF ends the data.
    DotCr,
    /// End of data seen.
    Done,
    /// A fatal violation was reported.
    Aborted(DataViolation),
}

impl DataReceiver {
    /// A receiver for one DATA message.
    pub fn new(limits: DataLimits) -> Self {
        DataReceiver {
            limits,
            framing: Framing::Dot,
            storing: true,
            size: 0,
            violation: None,
            state: State::LineStart,
            line_len: 0,
        }
    }

    /// A receiver for one message sent in BDAT chunks: the same checks, no dot-unstuffing, no
    /// end marker ([`DataReceiver::feed`] never returns `Done`; call [`DataReceiver::finish`]
    /// after the LAST chunk). A CRLF may be split across chunks.
    pub fn bdat(limits: DataLimits) -> Self {
        DataReceiver { framing: Framing::Counted, state: State::Mid, ..DataReceiver::new(limits) }
    }

    /// Store nothing more (the memory budget is exhausted): the rest is still counted and checked.
    pub fn stop_storing(&mut self) {
        self.storing = false;
    }

    /// End of a BDAT message: a CR left pending at the very end is a bare CR (refused under
    /// Reject, stored as CRLF under Normalize). Returns the fatal violation, if any.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Option<DataViolation> {
        match self.state {
            State::Cr if self.limits.policy == BareLinePolicy::Normalize => {
                self.end_line(out, State::Done);
                None
            }
            State::Cr => {
                self.abort(DataViolation::BareLineEnding);
                Some(DataViolation::BareLineEnding)
            }
            State::Aborted(v) => Some(v),
            _ => {
                self.state = State::Done;
                None
            }
        }
    }

    /// Where a line that starts after a real CRLF begins: a `.` there matters only in DATA.
    fn line_start(&self) -> State {
        match self.framing {
            Framing::Dot => State::LineStart,
            Framing::Counted => State::Mid,
        }
    }

    /// Consume bytes. Returns [`DataStatus::Done`] once `CRLF.CRLF` (or `.CRLF` at the very
    /// start) has been consumed; the message never includes the terminating `.CRLF`.
    /// Past `max_size` nothing more is appended to `out` but bytes are still consumed.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> DataStatus {
        let normalize = self.limits.policy == BareLinePolicy::Normalize;
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Mid => {
                    let rest = &input[i..];
                    let run =
                        rest.iter().position(|&b| b == b'\r' || b == b'\n' || b == 0).unwrap_or(rest.len());
                    if run > 0 {
                        self.content(&rest[..run], out);
                        i += run;
                        continue;
                    }
                    i += 1;
                    match rest[0] {
                        b'\r' => self.state = State::Cr,
                        b'\n' if normalize => self.end_line(out, State::Mid),
                        b'\n' => return self.abort(DataViolation::BareLineEnding),
                        _ if normalize => {} // NUL dropped
                        _ => return self.abort(DataViolation::Nul),
                    }
                }
                State::LineStart => {
                    if input[i] == b'.' {
                        i += 1;
                        self.state = State::Dot;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::Cr => {
                    if input[i] == b'\n' {
                        i += 1;
                        let next = self.line_start();
                        self.end_line(out, next);
                    } else if normalize {
                        // Bare CR: stored as CRLF, but the next line does not count as starting
                        // after a real CRLF, so no `.` there can end the data.
                        self.end_line(out, State::Mid);
                    } else {
                        return self.abort(DataViolation::BareLineEnding);
                    }
                }
                State::Dot => match input[i] {
                    b'\r' => {
                        i += 1;
                        self.state = State::DotCr;
                    }
                    b'\n' if normalize => {
                        i += 1;
                        self.content(b".", out);
                        self.end_line(out, State::Mid);
                    }
                    b'\n' => return self.abort(DataViolation::BareLineEnding),
                    0 if !normalize => return self.abort(DataViolation::Nul),
                    _ => {
                        // Dot-stuffing: the dot is removed, the rest of the line is content.
                        self.line_len = 1;
                        self.state = State::Mid;
                    }
                },
                State::DotCr => {
                    if input[i] == b'\n' {
                        self.state = State::Done;
                        return DataStatus::Done { consumed: i + 1 };
                    } else if normalize {
                        self.content(b".", out);
                        self.end_line(out, State::Mid);
                    } else {
                        return self.abort(DataViolation::BareLineEnding);
                    }
                }
                State::Done => return DataStatus::Done { consumed: 0 },
                State::Aborted(v) => return DataStatus::Abort(v),
            }
        }
        match self.state {
            State::Done => DataStatus::Done { consumed: 0 },
            State::Aborted(v) => DataStatus::Abort(v),
            _ => DataStatus::NeedMore,
        }
    }

    /// Append line content, enforcing the line and size limits. What is stored does not depend on
    /// how the input was chunked: up to the limit, then nothing.
    fn content(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let before = self.line_len;
        self.line_len += bytes.len();
        let max_line = self.limits.max_line;
        if max_line > 0 && self.line_len + 2 > max_line {
            let room = (max_line - 2).saturating_sub(before).min(bytes.len());
            self.emit(&bytes[..room], out);
            self.size += (bytes.len() - room) as u64;
            self.note(DataViolation::LineTooLong);
            return;
        }
        self.emit(bytes, out);
    }

    /// Append CRLF and move to `next`.
    fn end_line(&mut self, out: &mut Vec<u8>, next: State) {
        self.emit(b"\r\n", out);
        self.line_len = 0;
        self.state = next;
    }

    /// Append `bytes` to `out`, never past `max_size` bytes of this message and nothing once the
    /// message is doomed (a violation) or storing was stopped: from then on bytes are only
    /// counted. The stored part never depends on the chunking.
    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let before = self.size;
        self.size += bytes.len() as u64;
        if !self.storing || self.violation.is_some() {
            return;
        }
        let max = self.limits.max_size;
        if max > 0 && self.size > max {
            let room = max.saturating_sub(before) as usize;
            out.extend_from_slice(&bytes[..room.min(bytes.len())]);
            self.note(DataViolation::TooBig);
        } else {
            out.extend_from_slice(bytes);
        }
    }

    fn note(&mut self, v: DataViolation) {
        if self.violation.is_none() {
            self.violation = Some(v);
        }
    }

    fn abort(&mut self, v: DataViolation) -> DataStatus {
        self.violation = Some(v);
        self.state = State::Aborted(v);
        DataStatus::Abort(v)
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
/// leading `.` on any line doubled, NUL bytes dropped (RFC 5322 forbids them, and a server that
/// strips them would otherwise read `\r\n\0.\r\n` as the end), a final CRLF added if missing (an
/// empty message becomes one empty line) — followed by `.\r\n`.
/// Invariant (property-tested): the output contains no lone CR or LF and its only `\r\n.\r\n` is
/// the terminator.
pub fn encode_data(message: &[u8], out: &mut Vec<u8>) {
    out.reserve(message.len() + message.len() / 64 + 5);
    let mut line_start = true;
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                i += if message.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
                line_start = true;
            }
            0 => i += 1,
            b => {
                if line_start && b == b'.' {
                    out.push(b'.');
                }
                let rest = &message[i..];
                let run = rest.iter().position(|&c| c == b'\r' || c == b'\n' || c == 0).unwrap_or(rest.len());
                out.extend_from_slice(&rest[..run]);
                i += run;
                line_start = false;
            }
        }
    }
    if !line_start || message.is_empty() || !ends_with_line_break(message) {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

/// True when the last non-NUL byte of `m` is a CR or LF (so the encoder's output already ends
/// with CRLF).
fn ends_with_line_break(m: &[u8]) -> bool {
    matches!(m.iter().rev().find(|&&b| b != 0), Some(b'\r' | b'\n'))
}

/// Client side, for BDAT: the message with bare CR/LF normalised to CRLF (no dot-stuffing).
pub fn normalize_crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 2);
    let mut i = 0;
    while i < message.len() {
        let rest = &message[i..];
        let run = rest.iter().position(|&c| c == b'\r' || c == b'\n').unwrap_or(rest.len());
        out.extend_from_slice(&rest[..run]);
        i += run;
        if i < message.len() {
            out.extend_from_slice(b"\r\n");
            i += if message[i] == b'\r' && message.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limits(policy: BareLinePolicy) -> DataLimits {
        DataLimits { max_size: 0, max_line: 0, policy }
    }

    /// Feed `input` in the given chunk sizes (cycled); returns status, stored bytes, consumed total.
    fn run(l: DataLimits, input: &[u8], chunks: &[usize]) -> (DataStatus, Vec<u8>, usize) {
        let mut r = DataReceiver::new(l);
        let mut out = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        let mut status = DataStatus::NeedMore;
        while pos < input.len() {
            let n = chunks.get(k % chunks.len().max(1)).copied().unwrap_or(input.len()).max(1);
            k += 1;
            let end = (pos + n).min(input.len());
            status = r.feed(&input[pos..end], &mut out);
            match status {
                DataStatus::Done { consumed } => {
                    return (DataStatus::Done { consumed: pos + consumed }, out, pos + consumed)
                }
                DataStatus::Abort(_) => return (status, out, 0),
                DataStatus::NeedMore => pos = end,
            }
        }
        (status, out, pos)
    }

    fn whole(l: DataLimits, input: &[u8]) -> (DataStatus, Vec<u8>, usize) {
        run(l, input, &[usize::MAX])
    }

    #[test]
    fn simple_message_and_pipelined_rest() {
        let input = b"Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n";
        let (st, out, consumed) = whole(DataLimits::default(), input);
        assert_eq!(st, DataStatus::Done { consumed: input.len() - 6 });
        assert_eq!(consumed, input.len() - 6);
        assert_eq!(out, b"Subject: x\r\n\r\nhello\r\n");
    }

    #[test]
    fn empty_message() {
        let (st, out, _) = whole(DataLimits::default(), b".\r\nNOOP\r\n");
        assert_eq!(st, DataStatus::Done { consumed: 3 });
        assert!(out.is_empty());
    }

    #[test]
    fn one_empty_line() {
        let (st, out, _) = whole(DataLimits::default(), b"\r\n.\r\n");
        assert_eq!(st, DataStatus::Done { consumed: 5 });
        assert_eq!(out, b"\r\n");
    }

    #[test]
    fn dot_unstuffing() {
        let input = b"..\r\n...x\r\n.y\r\na.b\r\n..\r\n.\r\n";
        let (st, out, _) = whole(DataLimits::default(), input);
        assert!(matches!(st, DataStatus::Done { .. }));
        assert_eq!(out, b".\r\n..x\r\ny\r\na.b\r\n.\r\n");
    }

    #[test]
    fn terminator_split_at_every_boundary() {
        let input = b"line one\r\n..dot\r\nlast\r\n.\r\nRSET\r\n";
        let expected = b"line one\r\n.dot\r\nlast\r\n".to_vec();
        for split in 0..=input.len() {
            let mut r = DataReceiver::new(DataLimits::default());
            let mut out = Vec::new();
            let first = r.feed(&input[..split], &mut out);
            let (consumed, st) = match first {
                DataStatus::Done { consumed } => (consumed, first),
                DataStatus::NeedMore => match r.feed(&input[split..], &mut out) {
                    DataStatus::Done { consumed } => (split + consumed, DataStatus::Done { consumed }),
                    other => panic!("split {split}: {other:?}"),
                },
                other => panic!("split {split}: {other:?}"),
            };
            assert!(matches!(st, DataStatus::Done { .. }), "split {split}");
            assert_eq!(consumed, input.len() - 6, "split {split}");
            assert_eq!(out, expected, "split {split}");
        }
        let (st, out, consumed) = run(DataLimits::default(), input, &[1]);
        assert!(matches!(st, DataStatus::Done { .. }));
        assert_eq!((out, consumed), (expected, input.len() - 6));
    }

    #[test]
    fn feeding_after_done_consumes_nothing() {
        let mut r = DataReceiver::new(DataLimits::default());
        let mut out = Vec::new();
        assert_eq!(r.feed(b".\r\n", &mut out), DataStatus::Done { consumed: 3 });
        assert_eq!(r.feed(b"MAIL\r\n", &mut out), DataStatus::Done { consumed: 0 });
        assert!(out.is_empty());
    }

    const SMUGGLING: [&[u8]; 9] = SMUGGLING_SEQUENCES;

    fn smuggled(seq: &[u8]) -> Vec<u8> {
        let mut m = b"From: a@b\r\n\r\nhello".to_vec();
        m.extend_from_slice(seq);
        m.extend_from_slice(b"MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nforged\r\n.\r\n");
        m
    }

    #[test]
    fn smuggling_sequences_abort_under_reject() {
        for seq in SMUGGLING {
            let input = smuggled(seq);
            for chunks in [&[usize::MAX][..], &[1], &[2, 3], &[7]] {
                let (st, _, _) = run(DataLimits::default(), &input, chunks);
                let want = if seq.contains(&0) { DataViolation::Nul } else { DataViolation::BareLineEnding };
                assert_eq!(st, DataStatus::Abort(want), "{seq:?} {chunks:?}");
            }
        }
    }

    #[test]
    fn smuggling_sequences_do_not_end_data_under_normalize() {
        for seq in SMUGGLING {
            let input = smuggled(seq);
            for chunks in [&[usize::MAX][..], &[1], &[2, 3], &[5]] {
                let (st, out, consumed) = run(limits(BareLinePolicy::Normalize), &input, chunks);
                // The only end is the real CRLF.CRLF at the very end of the input.
                assert_eq!(st, DataStatus::Done { consumed: input.len() }, "{seq:?} {chunks:?}");
                assert_eq!(consumed, input.len(), "{seq:?} {chunks:?}");
                assert!(out.windows(7).any(|w| w == b"forged\r"), "{seq:?}");
                assert_no_lone_cr_lf(&out);
                assert!(!out.contains(&0));
            }
        }
    }

    fn assert_no_lone_cr_lf(b: &[u8]) {
        for (i, &c) in b.iter().enumerate() {
            if c == b'\r' {
                assert_eq!(b.get(i + 1), Some(&b'\n'), "lone CR at {i} in {b:?}");
            }
            if c == b'\n' {
                assert!(i > 0 && b[i - 1] == b'\r', "lone LF at {i} in {b:?}");
            }
        }
    }

    #[test]
    fn nul_is_refused_under_reject() {
        let (st, _, _) = whole(DataLimits::default(), b"a\x00b\r\n.\r\n");
        assert_eq!(st, DataStatus::Abort(DataViolation::Nul));
        let (st, _, _) = whole(DataLimits::default(), b".\x00\r\n.\r\n");
        assert_eq!(st, DataStatus::Abort(DataViolation::Nul));
        let mut r = DataReceiver::new(DataLimits::default());
        let mut out = Vec::new();
        assert_eq!(r.feed(b"x\ny", &mut out), DataStatus::Abort(DataViolation::BareLineEnding));
        assert_eq!(r.violation(), Some(DataViolation::BareLineEnding));
        assert!(DataViolation::BareLineEnding.is_fatal() && DataViolation::Nul.is_fatal());
        assert!(!DataViolation::TooBig.is_fatal() && !DataViolation::LineTooLong.is_fatal());
        // Aborted stays aborted.
        assert_eq!(r.feed(b"\r\n.\r\n", &mut out), DataStatus::Abort(DataViolation::BareLineEnding));
    }

    #[test]
    fn normalize_stores_crlf_and_drops_nul() {
        let l = limits(BareLinePolicy::Normalize);
        let (st, out, _) = whole(l, b"a\nb\rc\r\r\nd\x00e\r\n.\r\n");
        assert!(matches!(st, DataStatus::Done { .. }));
        assert_eq!(out, b"a\r\nb\r\nc\r\n\r\nde\r\n");
    }

    #[test]
    fn size_limit_drains_without_growing_output() {
        let l = DataLimits { max_size: 10, max_line: 0, policy: BareLinePolicy::Reject };
        let body = b"0123456789abcdef\r\nmore lines here\r\n.\r\nQUIT\r\n";
        for chunks in [&[usize::MAX][..], &[1], &[3]] {
            let mut r = DataReceiver::new(l);
            let mut out = b"prefix".to_vec();
            let mut pos = 0;
            let mut done = None;
            let mut k = 0;
            while pos < body.len() && done.is_none() {
                let n = chunks[k % chunks.len()].min(body.len() - pos);
                k += 1;
                match r.feed(&body[pos..pos + n], &mut out) {
                    DataStatus::Done { consumed } => done = Some(pos + consumed),
                    DataStatus::NeedMore => pos += n,
                    DataStatus::Abort(v) => panic!("{v:?}"),
                }
            }
            assert_eq!(done, Some(body.len() - 6));
            assert_eq!(r.violation(), Some(DataViolation::TooBig));
            assert!(out.len() <= 6 + 10, "{}", out.len());
            assert_eq!(r.size(), 35);
        }
    }

    #[test]
    fn size_exactly_at_limit_is_fine() {
        let l = DataLimits { max_size: 7, max_line: 0, policy: BareLinePolicy::Reject };
        let (st, out, _) = whole(l, b"hello\r\n.\r\n");
        assert!(matches!(st, DataStatus::Done { .. }));
        assert_eq!(out, b"hello\r\n");
    }

    #[test]
    fn line_limit() {
        let l = DataLimits { max_size: 0, max_line: 10, policy: BareLinePolicy::Reject };
        let mut r = DataReceiver::new(l);
        let mut out = Vec::new();
        assert!(matches!(r.feed(b"12345678\r\n.\r\n", &mut out), DataStatus::Done { .. }));
        assert_eq!(r.violation(), None);
        let mut r = DataReceiver::new(l);
        let mut out = Vec::new();
        assert!(matches!(r.feed(b"123456789\r\nok\r\n.\r\n", &mut out), DataStatus::Done { .. }));
        assert_eq!(r.violation(), Some(DataViolation::LineTooLong));
        // The default is RFC 5321's 1000 octets including CRLF.
        let mut long = vec![b'a'; 998];
        long.extend_from_slice(b"\r\n.\r\n");
        let mut r = DataReceiver::new(DataLimits::default());
        assert!(matches!(r.feed(&long, &mut Vec::new()), DataStatus::Done { .. }));
        assert_eq!(r.violation(), None);
        long.insert(0, b'a');
        let mut r = DataReceiver::new(DataLimits::default());
        assert!(matches!(r.feed(&long, &mut Vec::new()), DataStatus::Done { .. }));
        assert_eq!(r.violation(), Some(DataViolation::LineTooLong));
    }

    #[test]
    fn bdat_has_the_same_content_policy_without_dots() {
        let mut r = DataReceiver::bdat(DataLimits::default());
        let mut out = Vec::new();
        // A lone dot line is content; CRLF split across chunks is fine.
        assert_eq!(r.feed(b"a\r\n.\r", &mut out), DataStatus::NeedMore);
        assert_eq!(r.feed(b"\n..x\r\n", &mut out), DataStatus::NeedMore);
        assert_eq!(r.finish(&mut out), None);
        assert_eq!(out, b"a\r\n.\r\n..x\r\n");
        // The issue's reproduction: a bare LF inside a chunk, even with the dot after it.
        for seq in SMUGGLING {
            let mut r = DataReceiver::bdat(DataLimits::default());
            let st = r.feed(&smuggled(seq), &mut Vec::new());
            let want = if seq.contains(&0) { DataViolation::Nul } else { DataViolation::BareLineEnding };
            assert_eq!(st, DataStatus::Abort(want), "{seq:?}");
        }
        // A CR at the very end of the last chunk is bare.
        let mut r = DataReceiver::bdat(DataLimits::default());
        assert_eq!(r.feed(b"x\r", &mut Vec::new()), DataStatus::NeedMore);
        assert_eq!(r.finish(&mut Vec::new()), Some(DataViolation::BareLineEnding));
        // Normalize stores CRLF, as in DATA.
        let mut r = DataReceiver::bdat(limits(BareLinePolicy::Normalize));
        let mut out = Vec::new();
        assert_eq!(r.feed(b"a\nb\r\x00c\r", &mut out), DataStatus::NeedMore);
        assert_eq!(r.finish(&mut out), None);
        assert_eq!(out, b"a\r\nb\r\nc\r\n");
        // The line limit holds, and nothing past it is kept.
        let mut r = DataReceiver::bdat(DataLimits::default());
        let mut out = Vec::new();
        let mut long = vec![b'l'; 5000];
        long.extend_from_slice(b"\r\nmore\r\n");
        assert_eq!(r.feed(&long, &mut out), DataStatus::NeedMore);
        assert_eq!(r.violation(), Some(DataViolation::LineTooLong));
        assert!(out.len() < 1000, "a doomed message is not kept: {}", out.len());
    }

    #[test]
    fn doomed_or_unstored_messages_keep_nothing_more() {
        let mut r = DataReceiver::new(DataLimits::default());
        let mut out = Vec::new();
        let mut input = b"ok\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100_000));
        input.extend_from_slice(b"\r\nafter\r\n.\r\n");
        assert!(matches!(r.feed(&input, &mut out), DataStatus::Done { .. }));
        assert_eq!(r.violation(), Some(DataViolation::LineTooLong));
        assert_eq!(out.len(), 4 + 998, "up to the line limit, then nothing more");
        assert!(!out.windows(5).any(|w| w == b"after"));
        assert_eq!(r.size(), input.len() as u64 - 3);
        let mut r = DataReceiver::new(DataLimits::default());
        let mut out = Vec::new();
        r.stop_storing();
        assert!(matches!(r.feed(b"a\r\n.\r\n", &mut out), DataStatus::Done { .. }));
        assert!(out.is_empty());
        assert_eq!(r.violation(), None);
    }

    #[test]
    fn encode_examples() {
        let mut out = Vec::new();
        encode_data(b".a\nb\r.c\r\n..\r\n", &mut out);
        assert_eq!(out, b"..a\r\nb\r\n..c\r\n...\r\n.\r\n");
        out.clear();
        encode_data(b"", &mut out);
        assert_eq!(out, b"\r\n.\r\n");
        out.clear();
        encode_data(b"x", &mut out);
        assert_eq!(out, b"x\r\n.\r\n");
        out.clear();
        encode_data(b"a\r\n\x00.\r\n", &mut out);
        assert_eq!(out, b"a\r\n..\r\n.\r\n");
        assert_eq!(normalize_crlf(b"a\nb\rc\r\nd\r"), b"a\r\nb\r\nc\r\nd\r\n");
        assert_eq!(normalize_crlf(b"\x00.\n"), b"\x00.\r\n");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn chunking_does_not_change_the_result(
            body in proptest::collection::vec(prop_oneof![
                Just(b'\r'), Just(b'\n'), Just(b'.'), Just(0u8), Just(b'a'), any::<u8>()
            ], 0..200),
            chunks in proptest::collection::vec(1usize..9, 1..6),
            normalize in any::<bool>(),
        ) {
            let policy = if normalize { BareLinePolicy::Normalize } else { BareLinePolicy::Reject };
            let l = DataLimits { max_size: 150, max_line: 40, policy };
            let mut input = body.clone();
            input.extend_from_slice(b"\r\n.\r\nNEXT");
            let a = whole(l, &input);
            let b = run(l, &input, &chunks);
            let c = run(l, &input, &[1]);
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(&a, &c);
        }

        #[test]
        fn encode_then_receive_round_trips(msg in proptest::collection::vec(prop_oneof![
            Just(b'\r'), Just(b'\n'), Just(b'.'), Just(0u8), any::<u8>()
        ], 0..300)) {
            let mut wire = Vec::new();
            encode_data(&msg, &mut wire);
            assert_no_lone_cr_lf(&wire);
            prop_assert!(wire.ends_with(b"\r\n.\r\n"));
            let first = wire.windows(5).position(|w| w == b"\r\n.\r\n");
            prop_assert_eq!(first, Some(wire.len() - 5));
            prop_assert!(!wire.starts_with(b".\r\n"));

            let mut expected: Vec<u8> = normalize_crlf(&msg).into_iter().filter(|&b| b != 0).collect();
            if !expected.ends_with(b"\r\n") {
                expected.extend_from_slice(b"\r\n");
            }
            for policy in [BareLinePolicy::Normalize, BareLinePolicy::Reject] {
                let (st, out, consumed) = whole(limits(policy), &wire);
                prop_assert_eq!(st, DataStatus::Done { consumed: wire.len() });
                prop_assert_eq!(consumed, wire.len());
                prop_assert_eq!(&out, &expected);
            }
        }

        #[test]
        fn normalize_crlf_has_no_lone_endings(msg in proptest::collection::vec(any::<u8>(), 0..200)) {
            let n = normalize_crlf(&msg);
            assert_no_lone_cr_lf(&n);
            let stripped: Vec<u8> = msg.iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect();
            let n_stripped: Vec<u8> = n.iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect();
            prop_assert_eq!(stripped, n_stripped);
        }
    }
}
