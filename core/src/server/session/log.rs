//! The per-message log line, in Postfix's habit of `key=value` fields an admin greps for:
//! `client=`, `helo=`, `tls=`, `user=`, `from=`, `to=`, `nrcpt=`, `size=`, `status=`.
//!
//! Cheap when logging is filtered out or quiet: the fields are `Display` wrappers around what
//! the session already holds, formatted only if the event is enabled (no string is built for a
//! line nobody will see).

use std::fmt;

use super::{Session, TlsInfo};
use crate::server::hooks::Envelope;

/// `<a@b>`, `<>` for the null sender.
struct Angle<'a>(&'a str);
impl fmt::Display for Angle<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

/// `<a@b>,<c@d>`.
struct Recipients<'a>(&'a [String]);
impl fmt::Display for Recipients<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "<{r}>")?;
        }
        Ok(())
    }
}

/// `TLSv1.3/TLS13_AES_256_GCM_SHA384`, or `none`.
struct Tls<'a>(Option<&'a TlsInfo>);
impl fmt::Display for Tls<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(t) => write!(f, "{}/{}", t.protocol, t.cipher),
            None => f.write_str("none"),
        }
    }
}

/// A name the client gave (HELO, AUTH user), or `-`.
struct Given<'a>(Option<&'a str>);
impl fmt::Display for Given<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.filter(|s| !s.is_empty()).unwrap_or("-"))
    }
}

impl Session {
    /// One line per message that reached its end: `refusal` is `None` when it was accepted, else
    /// the reply that refused it (`on_message`).
    pub(super) fn log_message(
        &self,
        queue_id: &str,
        envelope: &Envelope,
        size: usize,
        refusal: Option<&str>,
    ) {
        let info = &self.info;
        macro_rules! line {
            ($($extra:tt)*) => {
                tracing::info!(
                    session = %info.id,
                    id = %queue_id,
                    client = %info.peer,
                    helo = %Given(info.helo.as_deref()),
                    tls = %Tls(self.tls.as_ref()),
                    user = %Given(info.authenticated_user.as_deref()),
                    from = %Angle(&envelope.mail_from),
                    to = %Recipients(&envelope.rcpt_to),
                    nrcpt = envelope.rcpt_to.len(),
                    size,
                    $($extra)*
                )
            };
        }
        match refusal {
            None => line!(status = "accepted", "message accepted"),
            Some(reply) => line!(status = "refused", reply, "message refused"),
        }
    }
}
