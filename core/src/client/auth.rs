//! SMTP AUTH (RFC 4954) for the client: PLAIN (RFC 4616), LOGIN, XOAUTH2 (Google/Microsoft
//! bearer tokens). CRAM-MD5 is not offered (obsolete, and it needs the server to store plain
//! passwords).
//!
//! Credentials never travel in clear text unless the caller allows it: without TLS and without
//! `allow_plaintext_auth`, `login` fails with kind `auth` before anything is written. The
//! transcript shows every credential-bearing line as `****`.

use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::error::{Error, ErrorKind, Result};
use crate::proto::Reply;

use super::session::Client;
use super::transcript::MASK;
use super::validate;

/// The mechanisms we can run, in the order we pick them when the caller does not choose.
const AUTO_ORDER: &[&str] = &["PLAIN", "LOGIN"];
/// Everything `login` accepts as `mechanism`.
const SUPPORTED: &[&str] = &["PLAIN", "LOGIN", "XOAUTH2"];

/// The outcome of the last step: 2xx is success, 4xx `transient`, anything else `auth`.
fn finish(reply: Reply) -> Result<Reply> {
    if reply.is_positive() {
        Ok(reply)
    } else if reply.is_transient() {
        Err(Error::from_reply(reply))
    } else {
        Err(Error::new(ErrorKind::Auth, format!("authentication failed: {}", reply.one_line()))
            .with_reply(reply))
    }
}

impl Client {
    /// Authenticate as `user` with `secret` (a password, or the OAuth2 access token for
    /// `XOAUTH2`). `mechanism` (case-insensitive) picks PLAIN, LOGIN or XOAUTH2; `None` takes the
    /// first of PLAIN, LOGIN the server offers.
    ///
    /// Errors: `invalid_input` for CR/LF/NUL in any argument or a mechanism we do not implement;
    /// `auth` when the session is not encrypted and `allow_plaintext_auth` is off, when the
    /// server offers no usable mechanism, or when it refuses the credentials (reply attached);
    /// `transient` for a 4xx (454 temporary failure).
    pub async fn login(&mut self, user: &str, secret: &str, mechanism: Option<&str>) -> Result<Reply> {
        self.begin_call();
        let r = self.login_inner(user, secret, mechanism).await;
        self.end_call();
        r
    }

    async fn login_inner(&mut self, user: &str, secret: &str, mechanism: Option<&str>) -> Result<Reply> {
        validate::no_line_breaks("AUTH user name", user)?;
        validate::no_line_breaks("AUTH secret", secret)?;
        let chosen = match mechanism {
            Some(m) => {
                validate::token("AUTH mechanism", m)?;
                let m = m.to_ascii_uppercase();
                if !SUPPORTED.contains(&m.as_str()) {
                    return Err(Error::invalid_input(format!(
                        "AUTH mechanism {m} is not supported (use one of {})",
                        SUPPORTED.join(", ")
                    )));
                }
                Some(m)
            }
            None => None,
        };
        self.ensure_open()?;
        if !self.is_tls() && !self.opts.allow_plaintext_auth {
            return Err(Error::new(
                ErrorKind::Auth,
                "refusing to send credentials over an unencrypted connection (use TLS, or set allow_plaintext_auth)",
            ));
        }
        let offered = self.caps.auth_mechanisms();
        if offered.is_empty() {
            return Err(Error::new(ErrorKind::Auth, "the server does not offer AUTH"));
        }
        let mech = match chosen {
            Some(m) if offered.contains(&m) => m,
            Some(m) => {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!("the server does not offer AUTH {m} (it offers {})", offered.join(" ")),
                ))
            }
            None => match AUTO_ORDER.iter().find(|m| offered.iter().any(|o| o == *m)) {
                Some(m) => m.to_string(),
                None => {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!("no supported AUTH mechanism among {}", offered.join(" ")),
                    ))
                }
            },
        };

        let t = Instant::now();
        let result = match mech.as_str() {
            "PLAIN" => self.auth_plain(user, secret).await,
            "LOGIN" => self.auth_login(user, secret).await,
            _ => self.auth_xoauth2(user, secret).await,
        };
        self.timings.auth = Some(t.elapsed());
        self.dirty = true;
        if result.is_ok() {
            self.authenticated = Some(user.to_string());
        }
        result
    }

    async fn auth_plain(&mut self, user: &str, secret: &str) -> Result<Reply> {
        let payload = B64.encode(format!("\0{user}\0{secret}"));
        let reply = self
            .masked_line(&format!("AUTH PLAIN {payload}"), &format!("AUTH PLAIN {MASK}"), "AUTH PLAIN")
            .await?;
        if reply.code == 334 {
            // A server that wants more than PLAIN gives: cancel the exchange (RFC 4954 §4).
            let end = self.masked_line("*", "*", "AUTH PLAIN").await?;
            return finish(end).and(Err(Error::new(ErrorKind::Auth, "AUTH PLAIN: unexpected challenge")));
        }
        finish(reply)
    }

    async fn auth_login(&mut self, user: &str, secret: &str) -> Result<Reply> {
        let r = self.masked_line("AUTH LOGIN", "AUTH LOGIN", "AUTH LOGIN").await?;
        if r.code != 334 {
            return finish(r);
        }
        let r = self.masked_line(&B64.encode(user), MASK, "AUTH LOGIN").await?;
        if r.code != 334 {
            return finish(r);
        }
        let r = self.masked_line(&B64.encode(secret), MASK, "AUTH LOGIN").await?;
        finish(r)
    }

    async fn auth_xoauth2(&mut self, user: &str, token: &str) -> Result<Reply> {
        let payload = B64.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"));
        let r = self
            .masked_line(&format!("AUTH XOAUTH2 {payload}"), &format!("AUTH XOAUTH2 {MASK}"), "AUTH XOAUTH2")
            .await?;
        if r.code == 334 {
            // The server's error details come as a challenge; an empty response ends it.
            let end = self.masked_line("", "", "AUTH XOAUTH2").await?;
            return finish(end).and(Err(Error::new(ErrorKind::Auth, "AUTH XOAUTH2 refused")));
        }
        finish(r)
    }
}
