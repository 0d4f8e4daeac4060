//! SMTP replies: the `Reply` value of the API contract, its wire form (multi-line, enhanced status
//! codes), and the client-side parser that reads one reply out of a byte buffer under limits.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A server reply: `code`, optional enhanced status code (`"5.7.1"`), and its text lines (the
/// enhanced code is not repeated in `lines`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The RFC 3463 enhanced status code, e.g. `"2.1.5"`, when the reply carried one.
    pub enhanced: Option<String>,
    /// The text lines, without code, separator or enhanced code.
    pub lines: Vec<String>,
}

/// Bounds for parsing replies from an untrusted server.
#[derive(Debug, Clone, Copy)]
pub struct ReplyLimits {
    /// Longest accepted reply line in bytes including CRLF (RFC 5321 says 512; we allow more).
    pub max_line: usize,
    /// Most lines in one multi-line reply.
    pub max_lines: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits { max_line: 4096, max_lines: 128 }
    }
}

impl Reply {
    /// A reply with `text` split on `\n` into lines (the API's `Reply(code, text="",
    /// enhanced=None)`). `enhanced` is e.g. `Some("5.7.1")`. Without one, an enhanced code at the
    /// start of `text` whose class digit matches `code` is recognised and taken out of the text
    /// (`Reply::new(550, "5.7.1 Relaying denied", None)` has `enhanced == Some("5.7.1")`), the way
    /// the reply parser reads it off the wire, so a hook's `(550, "5.7.1 ...")` is never sent
    /// with the code twice or without it.
    pub fn new(code: u16, text: &str, enhanced: Option<&str>) -> Reply {
        let mut text = text;
        let enhanced = match enhanced {
            Some(e) => Some(e.to_string()),
            None => {
                let class = b'0' + (code / 100 % 10) as u8;
                match enhanced_prefix(text.as_bytes()).filter(|e| e.as_bytes()[0] == class) {
                    Some(e) => {
                        let found = e.to_string();
                        text = text[found.len()..].strip_prefix(' ').unwrap_or(&text[found.len()..]);
                        Some(found)
                    }
                    None => None,
                }
            }
        };
        let lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()).collect();
        Reply { code, enhanced, lines }
    }

    /// The lines joined by `\n` (the API's `text`).
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// `"550 5.7.1 Relaying denied"`: code, enhanced code, lines joined by a space; for logs and
    /// error messages.
    pub fn one_line(&self) -> String {
        let mut s = self.code.to_string();
        if let Some(e) = &self.enhanced {
            s.push(' ');
            s.push_str(e);
        }
        for l in self.lines.iter().filter(|l| !l.is_empty()) {
            s.push(' ');
            s.push_str(l);
        }
        s
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
    /// 3xx.
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
    /// 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// Append the wire form: `250-line\r\n … 250 last\r\n`, each line prefixed with the
    /// enhanced code when there is one. An empty reply is one line with no text.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let code = self.code.to_string();
        let n = self.lines.len().max(1);
        for i in 0..n {
            let line = self.lines.get(i).map(String::as_str).unwrap_or("");
            let last = i + 1 == n;
            out.extend_from_slice(code.as_bytes());
            let has_text = self.enhanced.is_some() || !line.is_empty();
            if !last {
                out.push(b'-');
            } else if has_text {
                out.push(b' ');
            }
            if let Some(e) = &self.enhanced {
                out.extend_from_slice(e.as_bytes());
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            // A reply line can never carry its own line break: CR and LF are dropped here so a
            // caller's text cannot forge further reply lines.
            out.extend(line.bytes().filter(|&b| b != b'\r' && b != b'\n'));
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The wire form as a new buffer.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }

    /// Parse one complete reply from the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed, `Ok(Some((reply, consumed)))` when a whole
    /// reply is there, and a protocol error when the bytes are not SMTP (no 3-digit code, mixed
    /// codes across continuation lines, a line over `max_line` even before its CRLF arrived, more
    /// than `max_lines` lines). Bare LF line endings are accepted (liberal in what we read). The
    /// enhanced code is recognised when every line begins with the same `C.S.D ` whose class
    /// digit equals the reply's first digit.
    pub fn parse(buf: &[u8], limits: &ReplyLimits) -> Result<Option<(Reply, usize)>, Error> {
        let mut pos = 0;
        let mut code: Option<u16> = None;
        let mut texts: Vec<&[u8]> = Vec::new();
        loop {
            let rest = &buf[pos..];
            let window = &rest[..rest.len().min(limits.max_line)];
            let lf = match window.iter().position(|&b| b == b'\n') {
                Some(i) => i,
                None if rest.len() >= limits.max_line => {
                    return Err(Error::protocol(format!("reply line longer than {} bytes", limits.max_line)))
                }
                None => return Ok(None),
            };
            let line = &rest[..lf];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            pos += lf + 1;
            let (c, last, text) = split_reply_line(line)?;
            match code {
                None => code = Some(c),
                Some(prev) if prev != c => {
                    return Err(Error::protocol(format!(
                        "reply lines carry different codes ({prev} then {c})"
                    )))
                }
                Some(_) => {}
            }
            if texts.len() >= limits.max_lines {
                return Err(Error::protocol(format!("reply has more than {} lines", limits.max_lines)));
            }
            texts.push(text);
            if last {
                break;
            }
        }
        let code = code.unwrap_or_default();
        let class = b'0' + (code / 100) as u8;
        let enhanced = enhanced_prefix(texts[0])
            .filter(|e| e.as_bytes()[0] == class)
            .filter(|e| texts.iter().all(|t| enhanced_prefix(t) == Some(e)));
        let lines = texts
            .iter()
            .map(|t| {
                let t = match enhanced {
                    Some(e) => t[e.len()..].strip_prefix(b" ").unwrap_or(&t[e.len()..]),
                    None => t,
                };
                String::from_utf8_lossy(t).into_owned()
            })
            .collect();
        let enhanced = enhanced.map(str::to_string);
        Ok(Some((Reply { code, enhanced, lines }, pos)))
    }
}

/// Split `250-text` into (code, is-last-line, text). A bare `250` is a last line with no text.
fn split_reply_line(line: &[u8]) -> Result<(u16, bool, &[u8]), Error> {
    let bad = || {
        let shown = String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned();
        Error::protocol(format!("not an SMTP reply line: {shown:?}"))
    };
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) || !(b'1'..=b'5').contains(&line[0]) {
        return Err(bad());
    }
    let code = u16::from(line[0] - b'0') * 100 + u16::from(line[1] - b'0') * 10 + u16::from(line[2] - b'0');
    match line.get(3) {
        None => Ok((code, true, &[])),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(bad()),
    }
}

/// The `C.S.D` enhanced status code at the start of `text` (followed by a space or the end).
fn enhanced_prefix(text: &[u8]) -> Option<&str> {
    let end = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
    let cand = &text[..end];
    let mut parts = cand.split(|&b| b == b'.');
    let class = parts.next()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    if parts.next().is_some()
        || class.len() != 1
        || !matches!(class[0], b'2' | b'4' | b'5')
        || !(1..=3).contains(&subject.len())
        || !(1..=3).contains(&detail.len())
        || !subject.iter().chain(detail).all(u8::is_ascii_digit)
    {
        return None;
    }
    std::str::from_utf8(cand).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn parse(b: &[u8]) -> Result<Option<(Reply, usize)>, Error> {
        Reply::parse(b, &ReplyLimits::default())
    }

    #[test]
    fn build_and_wire_form() {
        let r = Reply::new(250, "Ok\nsecond line", Some("2.1.5"));
        assert_eq!(r.lines, vec!["Ok", "second line"]);
        assert_eq!(r.text(), "Ok\nsecond line");
        assert_eq!(r.to_wire(), b"250-2.1.5 Ok\r\n250 2.1.5 second line\r\n");
        assert_eq!(r.one_line(), "250 2.1.5 Ok second line");
        let r = Reply::new(354, "End data with <CR><LF>.<CR><LF>", None);
        assert_eq!(r.to_wire(), b"354 End data with <CR><LF>.<CR><LF>\r\n");
        assert!(r.is_intermediate() && !r.is_positive());
        assert_eq!(Reply::new(220, "", None).to_wire(), b"220\r\n");
        assert_eq!(Reply::new(250, "", Some("2.0.0")).to_wire(), b"250 2.0.0\r\n");
        let empty = Reply { code: 250, enhanced: None, lines: vec![] };
        assert_eq!(empty.to_wire(), b"250\r\n");
        // CR inside a line cannot forge another reply line.
        let forged = Reply { code: 250, enhanced: None, lines: vec!["a\r\n354 go".into()] };
        assert_eq!(forged.to_wire(), b"250 a354 go\r\n");
        assert!(Reply::new(421, "x", None).is_transient());
        assert!(Reply::new(554, "x", None).is_permanent());
    }

    #[test]
    fn enhanced_code_at_the_start_of_the_text_is_recognised() {
        let r = Reply::new(550, "5.7.1 Relaying denied", None);
        assert_eq!((r.enhanced.as_deref(), r.text()), (Some("5.7.1"), "Relaying denied".to_string()));
        assert_eq!(r.to_wire(), b"550 5.7.1 Relaying denied\r\n");
        // Only a code of the reply's own class; an explicit one wins and the text stays as given.
        let r = Reply::new(550, "2.1.5 odd", None);
        assert_eq!((r.enhanced.as_deref(), r.text()), (None, "2.1.5 odd".to_string()));
        let r = Reply::new(451, "4.3.0 x", Some("4.4.1"));
        assert_eq!((r.enhanced.as_deref(), r.text()), (Some("4.4.1"), "4.3.0 x".to_string()));
        let r = Reply::new(452, "4.3.1", None);
        assert_eq!((r.enhanced.as_deref(), r.text()), (Some("4.3.1"), String::new()));
    }

    #[test]
    fn round_trip_multiline_enhanced() {
        let r = Reply::new(550, "Relaying denied\nsee policy", Some("5.7.1"));
        let wire = r.to_wire();
        let (p, n) = parse(&wire).unwrap().unwrap();
        assert_eq!((p, n), (r, wire.len()));
    }

    #[test]
    fn parse_ehlo_reply() {
        let wire = b"250-mx.example Hello\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 STARTTLS\r\nrest";
        let (r, n) = parse(wire).unwrap().unwrap();
        assert_eq!(n, wire.len() - 4);
        assert_eq!(r.code, 250);
        assert_eq!(r.enhanced, None);
        assert_eq!(r.lines, vec!["mx.example Hello", "SIZE 1000", "8BITMIME", "STARTTLS"]);
    }

    #[test]
    fn partial_buffers_need_more() {
        let wire = b"250-2.0.0 one\r\n250 2.0.0 two\r\n";
        for cut in 0..wire.len() {
            assert!(parse(&wire[..cut]).unwrap().is_none(), "cut {cut}");
        }
        let (r, n) = parse(wire).unwrap().unwrap();
        assert_eq!(n, wire.len());
        assert_eq!(r.enhanced.as_deref(), Some("2.0.0"));
        assert_eq!(r.lines, vec!["one", "two"]);
    }

    #[test]
    fn bare_lf_and_bare_code() {
        let (r, n) = parse(b"250-a\n250 b\nX").unwrap().unwrap();
        assert_eq!((r.lines, n), (vec!["a".to_string(), "b".to_string()], 12));
        let (r, _) = parse(b"220\r\n").unwrap().unwrap();
        assert_eq!((r.code, r.lines), (220, vec![String::new()]));
    }

    #[test]
    fn enhanced_only_when_consistent_and_matching_class() {
        // Class digit differs from the code: not an enhanced code, kept as text.
        let (r, _) = parse(b"250 5.1.1 odd\r\n").unwrap().unwrap();
        assert_eq!((r.enhanced, r.lines), (None, vec!["5.1.1 odd".to_string()]));
        // Not on every line: kept as text.
        let (r, _) = parse(b"250-2.0.0 a\r\n250 b\r\n").unwrap().unwrap();
        assert_eq!(r.enhanced, None);
        assert_eq!(r.lines, vec!["2.0.0 a", "b"]);
        let (r, _) = parse(b"451 4.3.0\r\n").unwrap().unwrap();
        assert_eq!((r.enhanced.as_deref(), r.lines), (Some("4.3.0"), vec![String::new()]));
        let (r, _) = parse(b"250 2.0.00000 x\r\n").unwrap().unwrap();
        assert_eq!(r.enhanced, None);
    }

    #[test]
    fn protocol_errors() {
        for bad in [&b"hello\r\n"[..], b"25\r\n", b"2a0 x\r\n", b"250x\r\n", b"650 x\r\n", b"\r\n"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol, "{bad:?}");
        }
        let e = parse(b"250-a\r\n251 b\r\n").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.message().contains("different codes"));
    }

    #[test]
    fn line_too_long_even_without_crlf() {
        let limits = ReplyLimits { max_line: 512, max_lines: 10 };
        let mut big = b"250 ".to_vec();
        big.resize(1 << 20, b'a');
        assert!(Reply::parse(&big, &limits).is_err());
        assert!(Reply::parse(&big[..511], &limits).unwrap().is_none());
        assert!(Reply::parse(&big[..512], &limits).is_err());
        let mut ok = big[..510].to_vec();
        ok.extend_from_slice(b"\r\n");
        assert!(Reply::parse(&ok, &limits).unwrap().is_some());
        // A later line too long.
        let mut two = b"250-short\r\n".to_vec();
        two.extend_from_slice(&big[..600]);
        assert!(Reply::parse(&two, &limits).is_err());
    }

    #[test]
    fn too_many_lines() {
        let limits = ReplyLimits { max_line: 100, max_lines: 3 };
        assert!(Reply::parse(b"250-a\r\n250-b\r\n250 c\r\n", &limits).unwrap().is_some());
        assert!(Reply::parse(b"250-a\r\n250-b\r\n250-c\r\n250 d\r\n", &limits).is_err());
        // Detected before the last line arrives.
        assert!(Reply::parse(b"250-a\r\n250-b\r\n250-c\r\n250-d\r\n", &limits).is_err());
    }

    proptest::proptest! {
        /// Arbitrary bytes never panic the reply parser, and a parsed reply never claims more
        /// bytes than it was given.
        #[test]
        fn parse_never_panics(buf in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let limits = ReplyLimits { max_line: 64, max_lines: 4 };
            if let Ok(Some((_, n))) = Reply::parse(&buf, &limits) {
                proptest::prop_assert!(n <= buf.len());
            }
        }

        /// Built replies parse back to themselves.
        #[test]
        fn build_parse_round_trip(code in 200u16..600, enhanced: bool, text in "[a-zA-Z <>=.]{0,30}(\n[a-zA-Z <>=.]{0,30}){0,3}") {
            let enh = enhanced.then(|| format!("{}.1.2", code / 100));
            let r = Reply::new(code, &text, enh.as_deref());
            let wire = r.to_wire();
            let parsed = Reply::parse(&wire, &ReplyLimits::default()).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let (p, n) = parsed.ok_or_else(|| proptest::test_runner::TestCaseError::fail("incomplete"))?;
            proptest::prop_assert_eq!(n, wire.len());
            proptest::prop_assert_eq!(p.code, code);
            // Leading spaces of a line are not recoverable after an enhanced code; compare the rest.
            if !enhanced {
                proptest::prop_assert_eq!(p.lines, r.lines);
            }
        }
    }
}
