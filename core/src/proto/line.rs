//! The server's receive buffer ([`LineBuffer`]) and finding one command line in it under a length
//! limit ([`find_line`]).
//!
//! The buffer is sans-IO: the I/O layer reads into its spare capacity ([`LineBuffer::read_buf`],
//! no byte zero-filled before the socket overwrites it) and the session state machine takes
//! command lines, AUTH lines, DATA runs and BDAT octets from its front without copying them.

/// The outcome of looking for a line at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFind {
    /// A full line: `len` bytes of content, `consumed` bytes including the line ending.
    Line { len: usize, consumed: usize },
    /// No line ending yet and the buffer is still under the limit.
    NeedMore,
    /// No line ending within `max` bytes: the caller answers 500 and discards up to the next LF.
    TooLong,
}

/// Look for a line ending in `buf[..]`. `max` counts the content plus CRLF (RFC 5321: 512 for
/// commands). CRLF always ends a line; a bare LF ends it too when `allow_bare_lf`.
/// (With `allow_bare_lf == false` a bare LF is part of the content, and the parser will refuse it.)
pub fn find_line(buf: &[u8], max: usize, allow_bare_lf: bool) -> LineFind {
    let window = &buf[..buf.len().min(max)];
    let mut from = 0;
    while let Some(i) = window[from..].iter().position(|&b| b == b'\n') {
        let lf = from + i;
        if lf > 0 && window[lf - 1] == b'\r' {
            return LineFind::Line { len: lf - 1, consumed: lf + 1 };
        }
        if allow_bare_lf {
            return LineFind::Line { len: lf, consumed: lf + 1 };
        }
        from = lf + 1;
    }
    if buf.len() >= max {
        LineFind::TooLong
    } else {
        LineFind::NeedMore
    }
}

/// Initial capacity; it grows only while message content streams in, or for a long line.
const INITIAL_CAPACITY: usize = 4 * 1024;

/// What [`LineBuffer::next_line`] found at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextLine {
    /// A line of `len` content bytes (`buffered()[..len]`); `consumed` bytes with its ending.
    /// The caller reads the line, then calls [`LineBuffer::consume`]`(consumed)`.
    Line { len: usize, consumed: usize },
    /// Over the limit: the caller answers 500; the buffer drops bytes up to the next LF.
    TooLong,
    /// No complete line yet: read more.
    NeedMore,
}

/// Received bytes not yet consumed, with the "discard up to the next LF" state of an over-long
/// line.
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    start: usize,
    /// After an over-long line: drop bytes up to the next LF.
    discarding: bool,
}

impl LineBuffer {
    /// An empty buffer with a small initial capacity.
    pub fn new() -> LineBuffer {
        LineBuffer { buf: Vec::with_capacity(INITIAL_CAPACITY), start: 0, discarding: false }
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Mark `n` buffered bytes consumed.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
    }

    /// Forget everything buffered (STARTTLS: what came before the handshake is never executed).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.discarding = false;
    }

    /// Append received bytes (tests, fuzzing, hosts that read into their own buffers).
    pub fn extend(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer to read into: its length is the end of the valid bytes and the socket appends
    /// into its spare capacity (`read_buf`). Consumed bytes are dropped first; the capacity grows
    /// (doubling, up to `cap`) only when it is full. Always leaves spare capacity.
    pub fn read_buf(&mut self, cap: usize) -> &mut Vec<u8> {
        self.compact();
        if self.buf.len() == self.buf.capacity() {
            let want = (self.buf.capacity() * 2).clamp(INITIAL_CAPACITY, cap.max(INITIAL_CAPACITY));
            // At the cap with no room the caller's limits (line too long) have already decided;
            // one more byte of room keeps a read from returning 0 as if the peer had closed.
            self.buf.reserve_exact(want.saturating_sub(self.buf.len()).max(1));
        }
        &mut self.buf
    }

    /// Let the capacity grow to `cap` now (message content streams in: one full socket read at
    /// a time). It stays that size for the rest of the session: shrinking and regrowing it per
    /// message costs more than the memory.
    pub fn grow(&mut self, cap: usize) {
        if self.buf.capacity() < cap {
            self.compact();
            self.buf.reserve_exact(cap - self.buf.len());
        }
    }

    /// Drop consumed bytes: all of them when everything was consumed (cheap), else by moving the
    /// rest to the front only when the buffer is full.
    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 && self.buf.len() == self.buf.capacity() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// The next line of at most `max` bytes (ending included), skipping what is left of an
    /// over-long line first. A full buffer of `max` bytes without a line ending is too long.
    pub fn next_line(&mut self, max: usize, allow_bare_lf: bool) -> NextLine {
        if self.discarding {
            match self.buffered().iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.start += i + 1;
                    self.discarding = false;
                }
                None => {
                    self.start = self.buf.len();
                    return NextLine::NeedMore;
                }
            }
        }
        match find_line(self.buffered(), max, allow_bare_lf) {
            LineFind::Line { len, consumed } => NextLine::Line { len, consumed },
            LineFind::TooLong => {
                self.discarding = true;
                NextLine::TooLong
            }
            LineFind::NeedMore => NextLine::NeedMore,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_buffer_lines_discard_and_reads() {
        let mut b = LineBuffer::new();
        b.extend(b"NOOP\r\nQU");
        assert_eq!(b.next_line(512, false), NextLine::Line { len: 4, consumed: 6 });
        assert_eq!(&b.buffered()[..4], b"NOOP");
        b.consume(6);
        assert_eq!(b.next_line(512, false), NextLine::NeedMore);
        let buf = b.read_buf(64 * 1024);
        assert!(buf.capacity() > buf.len());
        buf.extend_from_slice(b"IT\r\n");
        assert_eq!(b.next_line(512, false), NextLine::Line { len: 4, consumed: 6 });
        b.consume(6);
        // Over-long: reported once, then dropped up to the next LF, even across reads.
        b.extend(&[b'x'; 600]);
        assert_eq!(b.next_line(512, false), NextLine::TooLong);
        assert_eq!(b.next_line(512, false), NextLine::NeedMore);
        b.extend(b"yyy\nRSET\r\n");
        assert_eq!(b.next_line(512, false), NextLine::Line { len: 4, consumed: 6 });
        b.consume(6);
        b.extend(b"junk after starttls\r\n");
        b.clear();
        assert!(b.buffered().is_empty());
        assert_eq!(b.next_line(512, false), NextLine::NeedMore);
    }

    #[test]
    fn crlf_lines() {
        assert_eq!(find_line(b"NOOP\r\nQUIT\r\n", 512, false), LineFind::Line { len: 4, consumed: 6 });
        assert_eq!(find_line(b"\r\n", 512, false), LineFind::Line { len: 0, consumed: 2 });
        assert_eq!(find_line(b"NOOP\r", 512, false), LineFind::NeedMore);
        assert_eq!(find_line(b"", 512, false), LineFind::NeedMore);
    }

    #[test]
    fn bare_lf() {
        assert_eq!(find_line(b"NOOP\nQUIT\r\n", 512, true), LineFind::Line { len: 4, consumed: 5 });
        // Not allowed: the LF stays in the content, the line ends at the next CRLF.
        assert_eq!(find_line(b"NOOP\nQUIT\r\n", 512, false), LineFind::Line { len: 9, consumed: 11 });
        assert_eq!(find_line(b"NOOP\nQU", 512, false), LineFind::NeedMore);
    }

    #[test]
    fn limit_counts_crlf() {
        let mut l = vec![b'a'; 510];
        l.extend_from_slice(b"\r\n");
        assert_eq!(find_line(&l, 512, false), LineFind::Line { len: 510, consumed: 512 });
        let mut l = vec![b'a'; 511];
        l.extend_from_slice(b"\r\n");
        assert_eq!(find_line(&l, 512, false), LineFind::TooLong);
        assert_eq!(find_line(&vec![b'a'; 511], 512, false), LineFind::NeedMore);
        assert_eq!(find_line(&vec![b'a'; 512], 512, false), LineFind::TooLong);
        assert_eq!(find_line(&vec![b'a'; 1 << 20], 512, true), LineFind::TooLong);
    }
}
