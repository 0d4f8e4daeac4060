//! Message composition: build an RFC 5322 message (Date, Message-ID, MIME for HTML and
//! attachments, RFC 2047 encoded words for non-ASCII text) from plain fields, for callers who do
//! not want to write headers by hand. `compose(...)` of `shared/API.md`.
//!
//! The MIME tree, the body encodings (quoted-printable / base64 chosen per part), the `Subject`
//! and custom headers are written by the `mail-builder` crate. We do three things ourselves, and
//! this is why:
//!
//! - **Address headers** (`From`, `To`, `Cc`). mail-builder 0.4 puts an encoded word for a
//!   non-ASCII display name *inside a quoted string* (`"=?utf-8?B?...?=" <a@b>`), which RFC 2047
//!   §5 forbids and strict readers do not decode. We write the phrase ourselves: plain atoms,
//!   a quoted string for ASCII names with specials, bare encoded words for non-ASCII names.
//! - **Non-ASCII attachment file names**. mail-builder writes `filename="=?utf-8?...?="` (encoded
//!   words in a parameter, which RFC 2047 §5 also forbids though many readers accept it); we write
//!   the RFC 2231 form `filename*=utf-8''...` instead.
//! - **Message-ID**. mail-builder's default names the local host (`gethostname`), which leaks the
//!   machine name of whoever composes; ours uses the sender's domain and 128 random bits.
//!
//! Safety: every header value is checked for CR, LF and NUL (header injection) and refused with
//! `invalid_input`; every address is validated with [`crate::proto::address::parse_mailbox`];
//! `Bcc` is never written (its addresses belong in the envelope only — see
//! [`ComposeOptions::recipients`]), and a custom header named `Bcc` is refused.

use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;
use rand::Rng;

use crate::error::{Error, Result};
use crate::proto::address::parse_mailbox;

/// A file attached to a composed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name shown to the reader (may be non-ASCII; written per RFC 2231).
    pub filename: String,
    /// The MIME type, e.g. `"application/pdf"`.
    pub content_type: String,
    /// The file content.
    pub data: Vec<u8>,
}

impl Attachment {
    /// A new attachment.
    pub fn new(filename: impl Into<String>, content_type: impl Into<String>, data: Vec<u8>) -> Self {
        Attachment { filename: filename.into(), content_type: content_type.into(), data }
    }
}

/// The fields of a message to compose. Addresses are `a@b` or `Display Name <a@b>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeOptions {
    /// The author (`From`), one mailbox.
    pub from: String,
    /// `To` recipients.
    pub to: Vec<String>,
    /// The subject (non-ASCII is written as RFC 2047 encoded words).
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML alternative to `text` (makes the body `multipart/alternative`).
    pub html: Option<String>,
    /// `Cc` recipients.
    pub cc: Vec<String>,
    /// Blind recipients: in the envelope only ([`ComposeOptions::recipients`]), never in the
    /// message.
    pub bcc: Vec<String>,
    /// Extra headers, in order (`("Reply-To", "x@y")`). Names must be printable ASCII without
    /// `:`; the headers compose writes itself (From, To, Cc, Bcc, Subject, Date, Message-ID,
    /// MIME-Version, Content-*) are refused here.
    pub headers: Vec<(String, String)>,
    /// Attachments (make the body `multipart/mixed`).
    pub attachments: Vec<Attachment>,
    /// The `Date` as Unix seconds; `None` = now.
    pub date: Option<i64>,
    /// The `Message-ID` (with or without angle brackets); `None` = generated.
    pub message_id: Option<String>,
}

impl ComposeOptions {
    /// Options with the required fields; the rest empty.
    pub fn new(
        from: impl Into<String>,
        to: Vec<String>,
        subject: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        ComposeOptions {
            from: from.into(),
            to,
            subject: subject.into(),
            text: text.into(),
            ..Default::default()
        }
    }

    /// The envelope recipients: the bare addresses of `to`, `cc` and `bcc`, in that order,
    /// duplicates (case-insensitive) removed. This is where Bcc goes.
    pub fn recipients(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for a in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            let parsed = parse_address(a)?;
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&parsed.addr)) {
                out.push(parsed.addr);
            }
        }
        Ok(out)
    }

    /// The envelope sender: the bare address of `from`.
    pub fn sender(&self) -> Result<String> {
        Ok(parse_address(&self.from)?.addr)
    }
}

/// Headers compose writes itself; refused in [`ComposeOptions::headers`].
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
];

/// Build the message: RFC 5322 headers (From, To, Cc, Subject, Date, Message-ID, MIME-Version,
/// then the extra headers) and a MIME body (`text/plain`; `multipart/alternative` with `html`;
/// `multipart/mixed` with attachments). Lines end in CRLF.
///
/// Errors (`invalid_input`): an address that does not parse, CR/LF/NUL in any header field,
/// a reserved or malformed custom header name, no recipient at all.
pub fn compose(opts: &ComposeOptions) -> Result<Vec<u8>> {
    let from = parse_address(&opts.from)?;
    let to = opts.to.iter().map(|a| parse_address(a)).collect::<Result<Vec<_>>>()?;
    let cc = opts.cc.iter().map(|a| parse_address(a)).collect::<Result<Vec<_>>>()?;
    // Bcc addresses are validated (a typo should fail here, not at RCPT) but never written.
    for a in &opts.bcc {
        parse_address(a)?;
    }
    if to.is_empty() && cc.is_empty() && opts.bcc.is_empty() {
        return Err(Error::invalid_input("compose needs at least one recipient (to, cc or bcc)"));
    }
    check_header_value("Subject", &opts.subject)?;

    let message_id = match &opts.message_id {
        Some(id) => checked_message_id(id)?,
        None => generate_message_id(&from.addr),
    };

    let mut b = MessageBuilder::new()
        .header("From", Raw::new(format_address(&from)))
        .message_id(message_id)
        .date(Date::new(opts.date.unwrap_or_else(|| chrono::Utc::now().timestamp())));
    if !to.is_empty() {
        b = b.header("To", Raw::new(format_address_list(&to)));
    }
    if !cc.is_empty() {
        b = b.header("Cc", Raw::new(format_address_list(&cc)));
    }
    b = b.subject(Text::new(opts.subject.as_str()));

    for (name, value) in &opts.headers {
        check_header_name(name)?;
        check_header_value(name, value)?;
        b = b.header(name.as_str(), Text::new(value.as_str()));
    }

    b = b.text_body(opts.text.as_str());
    if let Some(html) = &opts.html {
        b = b.html_body(html.as_str());
    }
    if !opts.attachments.is_empty() {
        let mut parts = Vec::with_capacity(opts.attachments.len() + 1);
        let text = MimePart::new("text/plain", opts.text.as_str());
        parts.push(match &opts.html {
            Some(html) => {
                MimePart::new("multipart/alternative", vec![text, MimePart::new("text/html", html.as_str())])
            }
            None => text,
        });
        for a in &opts.attachments {
            parts.push(attachment_part(a)?);
        }
        b = b.body(MimePart::new("multipart/mixed", parts));
    }

    b.write_to_vec().map_err(|e| Error::io(format!("composing the message failed: {e}")))
}

/// One attachment as a MIME part with a Content-Disposition we write ourselves when the name is
/// not plain ASCII (RFC 2231), or mail-builder's quoted form when it is.
fn attachment_part(a: &Attachment) -> Result<MimePart<'_>> {
    check_header_value("attachment filename", &a.filename)?;
    check_content_type(&a.content_type)?;
    let part = MimePart::new(ContentType::new(a.content_type.as_str()), a.data.as_slice());
    if a.filename.bytes().all(|c| (0x20..0x7f).contains(&c)) {
        Ok(part.attachment(a.filename.as_str()))
    } else {
        let mut v = String::from("attachment; filename*=utf-8''");
        for &c in a.filename.as_bytes() {
            if c.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&c) {
                v.push(c as char);
            } else {
                v.push_str(&format!("%{c:02X}"));
            }
        }
        Ok(part.header("Content-Disposition", Raw::new(v)))
    }
}

/// A parsed `Name <a@b>` or `a@b`.
#[derive(Debug)]
struct NamedAddress {
    name: Option<String>,
    addr: String,
}

/// Parse `a@b`, `<a@b>`, `Name <a@b>` or `"Quoted, Name" <a@b>`; the address must pass
/// `parse_mailbox`.
fn parse_address(s: &str) -> Result<NamedAddress> {
    if s.contains(['\r', '\n', '\0']) {
        return Err(Error::invalid_input(format!("CR, LF or NUL in address {s:?}")));
    }
    let t = s.trim();
    let (name, addr) = match (t.rfind('<'), t.ends_with('>')) {
        (Some(lt), true) => {
            let name = t[..lt].trim();
            let name = if name.len() >= 2 && name.starts_with('"') && name.ends_with('"') {
                unquote(&name[1..name.len() - 1])
            } else {
                name.to_string()
            };
            (if name.is_empty() { None } else { Some(name) }, &t[lt + 1..t.len() - 1])
        }
        (None, false) => (None, t),
        _ => return Err(Error::invalid_input(format!("unbalanced angle brackets in address {s:?}"))),
    };
    if let Some(n) = &name {
        if n.chars().any(|c| c.is_control()) {
            return Err(Error::invalid_input(format!("control character in display name {s:?}")));
        }
    }
    parse_mailbox(addr).map_err(|e| Error::invalid_input(format!("bad address {addr:?}: {e}")))?;
    Ok(NamedAddress { name, addr: addr.to_string() })
}

/// Resolve `\x` quoted-pairs of a quoted-string's content.
fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut esc = false;
    for c in s.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// RFC 5322 `atext` plus space: a display name made only of these needs no quoting.
fn is_phrase_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ' ' || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// `Name <a@b>` with the name as atoms, a quoted string, or RFC 2047 encoded words.
fn format_address(a: &NamedAddress) -> String {
    match &a.name {
        None => format!("<{}>", a.addr),
        Some(n) if n.chars().all(is_phrase_char) && !n.starts_with(' ') && !n.contains("  ") => {
            format!("{n} <{}>", a.addr)
        }
        Some(n) if n.is_ascii() => {
            let mut q = String::with_capacity(n.len() + 2);
            q.push('"');
            for c in n.chars() {
                if c == '"' || c == '\\' {
                    q.push('\\');
                }
                q.push(c);
            }
            q.push('"');
            format!("{q} <{}>", a.addr)
        }
        Some(n) => format!("{} <{}>", encoded_words(n), a.addr),
    }
}

fn format_address_list(list: &[NamedAddress]) -> String {
    list.iter().map(format_address).collect::<Vec<_>>().join(", ")
}

/// `=?utf-8?B?...?=` words separated by spaces, each at most 75 characters (RFC 2047 §2),
/// split on character boundaries so every word decodes on its own.
fn encoded_words(s: &str) -> String {
    use base64::Engine;
    // 75 - len("=?utf-8?B?") - len("?=") = 63 base64 chars → at most 45 bytes of input (60 chars).
    const MAX_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if i + c.len_utf8() - start > MAX_BYTES {
            words.push(&s[start..end]);
            start = i;
        }
        end = i + c.len_utf8();
    }
    if start < s.len() {
        words.push(&s[start..]);
    }
    words
        .iter()
        .map(|w| format!("=?utf-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(w)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_header_value(what: &str, v: &str) -> Result<()> {
    if v.contains(['\r', '\n', '\0']) {
        return Err(Error::invalid_input(format!("CR, LF or NUL in {what} (header injection refused)")));
    }
    Ok(())
}

fn check_header_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.bytes().all(|c| (33..=126).contains(&c) && c != b':') {
        return Err(Error::invalid_input(format!("bad header name {name:?}")));
    }
    if RESERVED_HEADERS.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(Error::invalid_input(format!(
            "header {name:?} is written by compose from its own field; set that field instead"
        )));
    }
    Ok(())
}

fn check_content_type(ct: &str) -> Result<()> {
    let ok = ct.split_once('/').is_some_and(|(t, s)| {
        let tok = |x: &str| {
            !x.is_empty() && x.bytes().all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c))
        };
        tok(t) && tok(s)
    });
    if !ok {
        return Err(Error::invalid_input(format!("bad attachment content type {ct:?}")));
    }
    Ok(())
}

/// A caller's Message-ID, brackets stripped, checked to be `left@right` with no spaces,
/// controls or brackets.
fn checked_message_id(id: &str) -> Result<String> {
    let t = id.trim();
    let inner = t.strip_prefix('<').and_then(|x| x.strip_suffix('>')).unwrap_or(t);
    let ok = inner.split_once('@').is_some_and(|(l, r)| !l.is_empty() && !r.is_empty())
        && inner.bytes().all(|c| (33..=126).contains(&c) && !b"<>\"\\".contains(&c));
    if !ok {
        return Err(Error::invalid_input(format!("bad Message-ID {id:?}")));
    }
    Ok(inner.to_string())
}

/// `<unixtime.128-bit-hex@sender-domain>` (without brackets; mail-builder adds them).
fn generate_message_id(from_addr: &str) -> String {
    let domain = from_addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    let domain = domain.trim_start_matches('[').trim_end_matches(']');
    let domain = if domain.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
        && !domain.is_empty()
    {
        domain
    } else {
        "postwire.invalid"
    };
    let r: u128 = rand::thread_rng().gen();
    format!("{}.{r:032x}@{domain}", chrono::Utc::now().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{Address, MessageParser, MimeHeaders};

    fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
        MessageParser::default().parse(raw).expect("mail-parser could not parse the output")
    }

    fn first_addr(a: Option<&Address<'_>>) -> (Option<String>, String) {
        let a = a.expect("address header missing").first().expect("empty address list");
        (a.name().map(str::to_string), a.address().unwrap_or_default().to_string())
    }

    #[test]
    fn plain_message_has_date_message_id_and_fields() {
        let mut o = ComposeOptions::new(
            "Alice <alice@example.org>",
            vec!["bob@example.net".into()],
            "Hello",
            "Hi Bob\n",
        );
        o.date = Some(1_700_000_000);
        let raw = compose(&o).unwrap();
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(text.contains("\r\nDate: ") || text.starts_with("Date: "), "{text}");
        let m = parse(&raw);
        assert_eq!(m.subject(), Some("Hello"));
        assert_eq!(first_addr(m.from()), (Some("Alice".into()), "alice@example.org".into()));
        assert_eq!(first_addr(m.to()), (None, "bob@example.net".into()));
        assert_eq!(m.date().map(|d| d.to_timestamp()), Some(1_700_000_000));
        let mid = m.message_id().expect("Message-ID");
        assert!(mid.ends_with("@example.org"), "{mid}");
        assert_eq!(m.body_text(0).as_deref().map(str::trim_end), Some("Hi Bob"));
        assert_eq!(m.content_type().map(|c| c.c_type.as_ref()), Some("text"));
        assert_eq!(m.content_type().and_then(|c| c.subtype()), Some("plain"));
        // Every line ends in CRLF.
        assert!(!raw
            .windows(2)
            .enumerate()
            .any(|(i, w)| w[1] == b'\n' && w[0] != b'\r' && i + 1 < raw.len()));
    }

    #[test]
    fn generated_message_ids_differ() {
        let o = ComposeOptions::new("a@example.org", vec!["b@example.net".into()], "s", "t");
        let a = compose(&o).unwrap();
        let b = compose(&o).unwrap();
        assert_ne!(parse(&a).message_id(), parse(&b).message_id());
    }

    #[test]
    fn bcc_is_never_in_the_output_but_in_the_recipients() {
        let mut o = ComposeOptions::new("a@example.org", vec!["b@example.net".into()], "s", "t");
        o.bcc = vec!["Secret Person <hidden@example.com>".into()];
        o.cc = vec!["c@example.com".into()];
        let raw = compose(&o).unwrap();
        let text = String::from_utf8_lossy(&raw).to_lowercase();
        assert!(!text.contains("hidden"), "{text}");
        assert!(!text.contains("secret"), "{text}");
        // A Bcc header line (not the letters "bcc", which random hex in the Message-ID may hold).
        assert!(!text.starts_with("bcc:") && !text.contains("\nbcc:"), "{text}");
        assert!(parse(&raw).bcc().is_none());
        assert_eq!(o.recipients().unwrap(), vec!["b@example.net", "c@example.com", "hidden@example.com"]);
        // Bcc only: valid, no To header.
        let mut o2 = ComposeOptions::new("a@example.org", vec![], "s", "t");
        o2.bcc = vec!["hidden@example.com".into()];
        let raw2 = compose(&o2).unwrap();
        assert!(!String::from_utf8_lossy(&raw2).to_lowercase().contains("hidden"));
    }

    #[test]
    fn non_ascii_subject_and_names_are_encoded_words() {
        let mut o = ComposeOptions::new(
            "Zoë Ångström <zoe@example.org>",
            vec!["\"Doe, John\" <john@example.net>".into(), "日本語の名前 <jp@example.jp>".into()],
            "Grüße aus Köln — 東京 ✓",
            "Grüße\n",
        );
        o.headers = vec![("X-Note".into(), "naïve".into())];
        let raw = compose(&o).unwrap();
        // The header section is pure ASCII.
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        assert!(raw[..end].is_ascii(), "{}", String::from_utf8_lossy(&raw[..end]));
        let head = String::from_utf8_lossy(&raw[..end]);
        assert!(head.contains("=?utf-8?"), "{head}");
        // No encoded word inside a quoted string (RFC 2047 §5).
        assert!(!head.contains("\"=?"), "{head}");
        let m = parse(&raw);
        assert_eq!(m.subject(), Some("Grüße aus Köln — 東京 ✓"));
        assert_eq!(first_addr(m.from()), (Some("Zoë Ångström".into()), "zoe@example.org".into()));
        let to: Vec<_> = m
            .to()
            .unwrap()
            .iter()
            .map(|a| (a.name().unwrap_or_default().to_string(), a.address().unwrap().to_string()))
            .collect();
        assert_eq!(
            to,
            vec![
                ("Doe, John".to_string(), "john@example.net".to_string()),
                ("日本語の名前".to_string(), "jp@example.jp".to_string())
            ]
        );
        // mail-parser leaves unknown headers undecoded: check the encoded word itself.
        assert_eq!(m.header("X-Note").and_then(|h| h.as_text()), Some("=?utf-8?B?bmHDr3Zl?="));
        assert_eq!(m.body_text(0).as_deref().map(str::trim_end), Some("Grüße"));
    }

    #[test]
    fn long_non_ascii_name_splits_into_short_words() {
        let name = "Ünïcödé ".repeat(20);
        let name = name.trim();
        let o =
            ComposeOptions::new(format!("{name} <u@example.org>"), vec!["b@example.net".into()], "s", "t");
        let raw = compose(&o).unwrap();
        let text = String::from_utf8_lossy(&raw);
        for w in text.split(|c: char| c.is_whitespace()).filter(|w| w.starts_with("=?")) {
            assert!(w.len() <= 75, "encoded word too long: {w}");
        }
        assert_eq!(first_addr(parse(&raw).from()).0.as_deref(), Some(name));
    }

    #[test]
    fn html_makes_multipart_alternative() {
        let mut o = ComposeOptions::new("a@example.org", vec!["b@example.net".into()], "s", "plain");
        o.html = Some("<p>rich</p>".into());
        let raw = compose(&o).unwrap();
        let m = parse(&raw);
        assert_eq!(m.content_type().map(|c| c.c_type.as_ref()), Some("multipart"));
        assert_eq!(m.content_type().and_then(|c| c.subtype()), Some("alternative"));
        assert_eq!(m.body_text(0).as_deref().map(str::trim_end), Some("plain"));
        assert_eq!(m.body_html(0).as_deref().map(str::trim_end), Some("<p>rich</p>"));
        assert_eq!(m.attachment_count(), 0);
    }

    #[test]
    fn attachments_make_multipart_mixed_and_round_trip() {
        let mut o = ComposeOptions::new("a@example.org", vec!["b@example.net".into()], "s", "see files");
        o.html = Some("<b>see files</b>".into());
        let bin: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        o.attachments = vec![
            Attachment::new("report.pdf", "application/pdf", bin.clone()),
            Attachment::new("résumé \"final\".txt", "text/plain", b"line\r\n".to_vec()),
        ];
        let raw = compose(&o).unwrap();
        let m = parse(&raw);
        assert_eq!(m.content_type().and_then(|c| c.subtype()), Some("mixed"));
        assert_eq!(m.attachment_count(), 2);
        let a0 = m.attachment(0).unwrap();
        assert_eq!(a0.attachment_name(), Some("report.pdf"));
        assert_eq!(a0.contents(), bin.as_slice());
        let a1 = m.attachment(1).unwrap();
        assert_eq!(a1.attachment_name(), Some("résumé \"final\".txt"));
        assert_eq!(a1.contents(), b"line\r\n");
        assert_eq!(m.body_text(0).as_deref().map(str::trim_end), Some("see files"));
        assert_eq!(m.body_html(0).as_deref().map(str::trim_end), Some("<b>see files</b>"));
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("filename*=utf-8''r%C3%A9sum%C3%A9"), "{text}");
    }

    #[test]
    fn header_injection_is_refused() {
        let base = ComposeOptions::new("a@example.org", vec!["b@example.net".into()], "s", "t");
        type Mutation = Box<dyn Fn(&mut ComposeOptions)>;
        let cases: Vec<Mutation> = vec![
            Box::new(|o| o.subject = "hi\r\nBcc: victim@example.com".into()),
            Box::new(|o| o.subject = "hi\nX: y".into()),
            Box::new(|o| o.subject = "hi\0".into()),
            Box::new(|o| o.from = "a@example.org\r\nTo: x@y.z".into()),
            Box::new(|o| o.to = vec!["Name\n <b@example.net>".into()]),
            Box::new(|o| o.cc = vec!["c@example.net\r".into()]),
            Box::new(|o| o.bcc = vec!["c@exa\nmple.net".into()]),
            Box::new(|o| o.headers = vec![("X-A".into(), "v\r\nBcc: x@y.z".into())]),
            Box::new(|o| o.headers = vec![("X-A\r\nBcc".into(), "v".into())]),
            Box::new(|o| o.headers = vec![("Bcc".into(), "x@y.z".into())]),
            Box::new(|o| o.headers = vec![("bcc".into(), "x@y.z".into())]),
            Box::new(|o| o.headers = vec![("X A".into(), "v".into())]),
            Box::new(|o| o.headers = vec![("X:A".into(), "v".into())]),
            Box::new(|o| o.message_id = Some("a@b>\r\nBcc: x@y.z".into())),
            Box::new(|o| o.attachments = vec![Attachment::new("a\r\nb.txt", "text/plain", vec![])]),
            Box::new(|o| o.attachments = vec![Attachment::new("a.txt", "text/plain\r\nX: y", vec![])]),
        ];
        for (i, f) in cases.iter().enumerate() {
            let mut o = base.clone();
            f(&mut o);
            let e = compose(&o).expect_err(&format!("case {i} should be refused"));
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "case {i}: {e}");
        }
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in ["", "no-at-sign", "a@", "@b", "a@@b", "Name <a@b", "a b@c.d", "<>"] {
            let o = ComposeOptions::new(bad, vec!["b@example.net".into()], "s", "t");
            let e = compose(&o).expect_err(bad);
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{bad}: {e}");
            let o = ComposeOptions::new("a@example.org", vec![bad.into()], "s", "t");
            assert!(compose(&o).is_err(), "to {bad:?}");
        }
        let o = ComposeOptions::new("a@example.org", vec![], "s", "t");
        assert_eq!(compose(&o).unwrap_err().kind(), crate::ErrorKind::InvalidInput);
    }

    #[test]
    fn caller_message_id_and_custom_headers_are_kept() {
        let mut o = ComposeOptions::new("a@example.org", vec!["b@example.net".into()], "s", "t");
        o.message_id = Some("<fixed.1@example.org>".into());
        o.headers = vec![("Reply-To".into(), "r@example.org".into()), ("X-Mailer".into(), "postwire".into())];
        let raw = compose(&o).unwrap();
        let m = parse(&raw);
        assert_eq!(m.message_id(), Some("fixed.1@example.org"));
        assert_eq!(m.header("X-Mailer").and_then(|h| h.as_text()), Some("postwire"));
        assert_eq!(first_addr(m.reply_to()).1, "r@example.org");
    }
}
