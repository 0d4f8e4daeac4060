//! `Client`: one SMTP session (`postwire::client::Client`) with Promise-returning methods.
//! `Client.connect(host, port?, options?)` opens it; calls on one client run one after the other
//! (an SMTP session is one conversation), each on the core's shared runtime. The binding keeps
//! the core's `ClientHandle`: the getters (`capabilities`, `transcript`, `banner`, `tls` …) read
//! the snapshot the session publishes after each call, so they answer at once also while a call
//! is in flight (with the state as of the end of the previous call).
//!
//! A client holds no libuv handle, so one never quit does not keep the process alive; its
//! connection closes when the object is garbage-collected or the process exits.

use std::collections::HashMap;
use std::future::Future;

use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use postwire::client::ClientHandle;
use postwire::host;

use crate::error::{promise, ResultExt};
use crate::options::js_options;
use crate::values::{message_bytes, recipients, MessageArg, Recipients, Reply, SendResult};

/// An SMTP session. Open one with `await Client.connect(host, port, options)`.
#[napi]
pub struct Client {
    inner: ClientHandle,
}

impl Client {
    /// Run `f` with the session once the calls before it are done; a Promise of its reply.
    fn call<'e, Fut>(
        &self,
        env: &'e Env,
        f: impl FnOnce(ClientHandle) -> Fut + Send + 'static,
    ) -> napi::Result<PromiseRaw<'e, Reply>>
    where
        Fut: Future<Output = postwire::Result<postwire::Reply>> + Send + 'static,
    {
        // In line now, while JS makes the call: the task may start after a later one's.
        promise(env, self.inner.in_turn(f), |_, r| Ok(Reply::from(r)))
    }
}

#[napi]
impl Client {
    /// Open a session: connect, read the banner, EHLO (HELO fallback), STARTTLS as `tls` says.
    /// `port` left out: 25, or 465 with `tls: "implicit"`.
    #[napi(ts_return_type = "Promise<Client>", catch_unwind)]
    pub fn connect<'e>(
        env: &'e Env,
        host: String,
        port: Option<u32>,
        #[napi(ts_arg_type = "ClientOptions")] options: Option<napi::bindgen_prelude::Object<'_>>,
    ) -> napi::Result<PromiseRaw<'e, Client>> {
        let options = js_options(env, options, &[])?;
        crate::logging::from_option(env, options.logger)?;
        let port = match port.map(u16::try_from) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => return Err(crate::error::invalid_input(env, "port must be 0..65535")),
        };
        let opts = host::options::client_options(&host, port, options.json).js(env)?;
        promise(env, ClientHandle::connect(opts), |_, c| Ok(Client { inner: c }))
    }

    /// The server's EHLO capabilities: keyword → parameters (`""` when none).
    #[napi(getter, catch_unwind)]
    pub fn capabilities(&self) -> HashMap<String, String> {
        self.inner.capabilities().0.into_iter().collect()
    }

    /// The server's 220 banner.
    #[napi(getter, catch_unwind)]
    pub fn banner(&self) -> Reply {
        self.inner.banner().into()
    }

    /// True once the session is encrypted.
    #[napi(getter, catch_unwind)]
    pub fn tls(&self) -> bool {
        self.inner.is_tls()
    }

    /// The name we sent in EHLO/HELO.
    #[napi(getter, catch_unwind)]
    pub fn hello_name(&self) -> String {
        self.inner.hello_name()
    }

    /// The user after a successful `login`, else null.
    #[napi(getter, ts_return_type = "string | null", catch_unwind)]
    pub fn authenticated_user(&self) -> Option<String> {
        self.inner.authenticated_user()
    }

    /// The wire log: `"C: …"` / `"S: …"` lines, AUTH secrets masked.
    #[napi(getter, catch_unwind)]
    pub fn transcript(&self) -> Vec<String> {
        self.inner.transcript()
    }

    /// True after `quit()` or when the server hung up.
    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// True while a call (a send, a login …) holds the session.
    #[napi(getter, catch_unwind)]
    pub fn in_flight(&self) -> bool {
        self.inner.in_flight()
    }

    /// AUTH: PLAIN, LOGIN or XOAUTH2 (`mechanism` left out: PLAIN or LOGIN as offered).
    #[napi(ts_return_type = "Promise<Reply>", catch_unwind)]
    pub fn login<'e>(
        &self,
        env: &'e Env,
        user: String,
        password: String,
        mechanism: Option<String>,
    ) -> napi::Result<PromiseRaw<'e, Reply>> {
        self.call(env, move |c| async move { c.login(&user, &password, mechanism.as_deref()).await })
    }

    /// One transaction: MAIL, RCPT per recipient, DATA or BDAT. `message` is a Buffer or a
    /// string (UTF-8); the client dot-stuffs and ends lines in CRLF. `options.dsn` adds the
    /// RFC 3461 parameters (`ret`, `envid`, `notify`, `orcpt`) when the server offers DSN.
    #[napi(ts_return_type = "Promise<SendResult>", catch_unwind)]
    pub fn send<'e>(
        &self,
        env: &'e Env,
        mail_from: String,
        #[napi(ts_arg_type = "string | string[]")] rcpt_to: Recipients,
        #[napi(ts_arg_type = "Buffer | string")] message: MessageArg,
        #[napi(ts_arg_type = "SendOptions")] options: Option<napi::bindgen_prelude::Object<'_>>,
    ) -> napi::Result<PromiseRaw<'e, SendResult>> {
        let envelope =
            host::options::send_options(&mail_from, recipients(rcpt_to), js_options(env, options, &[])?.json)
                .js(env)?;
        let msg = message_bytes(message);
        let send = self.inner.in_turn(move |c| async move { c.send_with(&envelope, &msg).await });
        promise(env, send, |_, r| Ok(SendResult::from(r)))
    }

    /// VRFY.
    #[napi(ts_return_type = "Promise<Reply>", catch_unwind)]
    pub fn verify<'e>(&self, env: &'e Env, address: String) -> napi::Result<PromiseRaw<'e, Reply>> {
        self.call(env, move |c| async move { c.verify(&address).await })
    }

    /// EXPN.
    #[napi(ts_return_type = "Promise<Reply>", catch_unwind)]
    pub fn expand<'e>(&self, env: &'e Env, name: String) -> napi::Result<PromiseRaw<'e, Reply>> {
        self.call(env, move |c| async move { c.expand(&name).await })
    }

    /// HELP.
    #[napi(ts_return_type = "Promise<Reply>", catch_unwind)]
    pub fn help<'e>(&self, env: &'e Env, topic: Option<String>) -> napi::Result<PromiseRaw<'e, Reply>> {
        self.call(env, move |c| async move { c.help(topic.as_deref()).await })
    }

    /// NOOP.
    #[napi(ts_return_type = "Promise<Reply>", catch_unwind)]
    pub fn noop<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Reply>> {
        self.call(env, |c| async move { c.noop().await })
    }

    /// RSET.
    #[napi(ts_return_type = "Promise<Reply>", catch_unwind)]
    pub fn reset<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Reply>> {
        self.call(env, |c| async move { c.reset().await })
    }

    /// QUIT and close the connection.
    #[napi(ts_return_type = "Promise<Reply>", catch_unwind)]
    pub fn quit<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Reply>> {
        self.call(env, |c| async move { c.quit().await })
    }
}
