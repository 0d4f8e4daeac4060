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

#[cfg(test)]
mod tests {
    use super::*;

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
