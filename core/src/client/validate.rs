//! Caller input checked before a byte is written: addresses (through `proto::address`), the
//! EHLO name, ESMTP parameter values, AUTH data and command arguments. CR, LF and NUL anywhere are
//! `invalid_input` — the command-injection cases of the aiosmtplib, nodemailer and Ruby Net::SMTP
//! advisories.

use crate::error::{Error, Result};
use crate::proto::address::{parse_mailbox, Mailbox};

/// Refuse CR, LF and NUL in `value`; `what` names it in the error.
pub(crate) fn no_line_breaks(what: &str, value: &str) -> Result<()> {
    if let Some(c) = value.chars().find(|c| matches!(c, '\r' | '\n' | '\0')) {
        return Err(Error::invalid_input(format!(
            "{what} contains {} (refused: it could inject SMTP commands)",
            match c {
                '\r' => "CR",
                '\n' => "LF",
                _ => "NUL",
            }
        )));
    }
    Ok(())
}

/// Refuse any control character or space (EHLO names, mechanism names, keywords).
pub(crate) fn token(what: &str, value: &str) -> Result<()> {
    no_line_breaks(what, value)?;
    if value.is_empty() {
        return Err(Error::invalid_input(format!("{what} is empty")));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid_input(format!("{what} {value:?} contains a space or control character")));
    }
    Ok(())
}

/// A checked envelope address: `None` for the null path (`""` or `"<>"`), `Some(mailbox)`
/// otherwise; one pair of surrounding angle brackets is tolerated. `postmaster` (no domain) is
/// accepted as a recipient only and reported as `Err` with `allow_postmaster == false`.
pub(crate) enum Addr {
    Null,
    Postmaster,
    Mailbox(Mailbox),
}

pub(crate) fn address(what: &str, raw: &str, allow_null: bool, allow_postmaster: bool) -> Result<Addr> {
    no_line_breaks(what, raw)?;
    let s = raw.trim();
    let s = s.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(s);
    if s.is_empty() {
        return if allow_null {
            Ok(Addr::Null)
        } else {
            Err(Error::invalid_input(format!("{what} is empty")))
        };
    }
    if allow_postmaster && s.eq_ignore_ascii_case("postmaster") {
        return Ok(Addr::Postmaster);
    }
    parse_mailbox(s)
        .map(Addr::Mailbox)
        .map_err(|e| Error::invalid_input(format!("{what} {raw:?} is not a valid address: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn line_breaks_are_refused() {
        for bad in ["a\r@b", "a@b\n", "a\0@b", "a@b\r\nRCPT TO:<x@y>"] {
            let e = no_line_breaks("address", bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
        assert!(no_line_breaks("address", "a@b").is_ok());
        assert!(token("EHLO name", "client.example").is_ok());
        assert_eq!(token("EHLO name", "a b").unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(token("EHLO name", "").unwrap_err().kind(), ErrorKind::InvalidInput);
    }
}
