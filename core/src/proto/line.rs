//! Finding one command line in a receive buffer under a length limit.

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
    todo!()
}
