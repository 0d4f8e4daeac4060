//! AUTH PLAIN and LOGIN on the server side (RFC 4954, RFC 4616), offered only over TLS unless
//! `allow_insecure_auth` says otherwise.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::io::Stream;
use super::session::{Session, Stop};
use crate::proto::Reply;

impl Session {
    /// `AUTH mechanism [initial-response]`.
    pub(super) async fn auth(
        &mut self,
        io: &mut Stream,
        mechanism: String,
        initial: Option<String>,
    ) -> Result<(), Stop> {
        let Some(checker) = self.shared.opts.auth.clone() else {
            self.error_reply(Reply::new(502, "AUTH not available", Some("5.5.1")));
            return Ok(());
        };
        if self.info.helo.is_none() || !self.esmtp {
            self.error_reply(Reply::new(503, "Send EHLO first", Some("5.5.1")));
            return Ok(());
        }
        if self.info.authenticated_user.is_some() {
            self.error_reply(Reply::new(503, "Already authenticated", Some("5.5.1")));
            return Ok(());
        }
        if self.tx.is_some() {
            self.error_reply(Reply::new(503, "AUTH not allowed during a mail transaction", Some("5.5.1")));
            return Ok(());
        }
        if !self.info.tls && !self.shared.opts.allow_insecure_auth {
            self.error_reply(Reply::new(
                538,
                "Encryption required for requested authentication mechanism",
                Some("5.7.11"),
            ));
            return Ok(());
        }
        let creds = match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => self.plain(io, initial).await?,
            "LOGIN" => self.login(io, initial).await?,
            _ => {
                self.error_reply(Reply::new(504, "Unrecognized authentication type", Some("5.5.4")));
                return Ok(());
            }
        };
        let (user, password) = match creds {
            Ok(c) => c,
            Err(r) => {
                self.error_reply(r);
                return Ok(());
            }
        };
        match checker.authenticate(user.clone(), password).await {
            Ok(true) => {
                tracing::info!(session = %self.info.id, user = %user, "authenticated");
                self.info.authenticated_user = Some(user);
                self.reply(Reply::new(235, "Authentication successful", Some("2.7.0")));
            }
            Ok(false) => {
                tracing::info!(session = %self.info.id, user = %user, "authentication failed");
                self.error_reply(Reply::new(535, "Authentication credentials invalid", Some("5.7.8")));
            }
            Err(e) => {
                tracing::warn!(session = %self.info.id, "authenticator failed: {e}");
                self.reply(Reply::new(454, "Temporary authentication failure", Some("4.7.0")));
            }
        }
        Ok(())
    }

    /// RFC 4616: `[authzid] NUL authcid NUL passwd`.
    async fn plain(
        &mut self,
        io: &mut Stream,
        initial: Option<String>,
    ) -> Result<Result<(String, String), Reply>, Stop> {
        let response = match initial {
            Some(s) => s,
            None => {
                self.reply(Reply::new(334, "", None));
                match self.challenge_response(io).await? {
                    Ok(s) => s,
                    Err(r) => return Ok(Err(r)),
                }
            }
        };
        let raw = match decode(&response) {
            Ok(b) => b,
            Err(r) => return Ok(Err(r)),
        };
        let mut parts = raw.split(|&b| b == 0);
        let (Some(authz), Some(user), Some(pass), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(Err(Reply::new(501, "Malformed PLAIN response", Some("5.5.2"))));
        };
        if !authz.is_empty() && authz != user {
            return Ok(Err(Reply::new(535, "Authorization identity not allowed", Some("5.7.8"))));
        }
        Ok(text_pair(user, pass))
    }

    /// The LOGIN mechanism: `Username:` and `Password:` challenges.
    async fn login(
        &mut self,
        io: &mut Stream,
        initial: Option<String>,
    ) -> Result<Result<(String, String), Reply>, Stop> {
        let user_b64 = match initial {
            Some(s) => s,
            None => {
                self.reply(Reply::new(334, "VXNlcm5hbWU6", None));
                match self.challenge_response(io).await? {
                    Ok(s) => s,
                    Err(r) => return Ok(Err(r)),
                }
            }
        };
        let user = match decode(&user_b64) {
            Ok(b) => b,
            Err(r) => return Ok(Err(r)),
        };
        self.reply(Reply::new(334, "UGFzc3dvcmQ6", None));
        let pass_b64 = match self.challenge_response(io).await? {
            Ok(s) => s,
            Err(r) => return Ok(Err(r)),
        };
        let pass = match decode(&pass_b64) {
            Ok(b) => b,
            Err(r) => return Ok(Err(r)),
        };
        Ok(text_pair(&user, &pass))
    }

    /// One client response to a 334 challenge; `*` cancels (RFC 4954 §4).
    async fn challenge_response(&mut self, io: &mut Stream) -> Result<Result<String, Reply>, Stop> {
        let Some(line) = self.auth_line(io).await? else {
            return Ok(Err(Reply::new(500, "Authentication response too long", Some("5.5.6"))));
        };
        let text = String::from_utf8_lossy(&line).trim().to_string();
        if text == "*" {
            return Ok(Err(Reply::new(501, "Authentication cancelled", Some("5.0.0"))));
        }
        Ok(Ok(text))
    }
}

fn decode(s: &str) -> Result<Vec<u8>, Reply> {
    if s == "=" {
        return Ok(Vec::new());
    }
    B64.decode(s.trim()).map_err(|_| Reply::new(501, "Cannot decode response", Some("5.5.2")))
}

fn text_pair(user: &[u8], pass: &[u8]) -> Result<(String, String), Reply> {
    match (std::str::from_utf8(user), std::str::from_utf8(pass)) {
        (Ok(u), Ok(p)) if !u.is_empty() => Ok((u.to_string(), p.to_string())),
        _ => Err(Reply::new(501, "Malformed credentials", Some("5.5.2"))),
    }
}
