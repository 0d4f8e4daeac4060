//! `Server`: every option of the API contract (`ServerOptions`; names, defaults and checks are
//! the core's), JS hooks (`hooks.rs`), `listen` / `start` / `stop` / `forceStop`, `stats`.
//!
//! The sessions run on the JS thread (`sessionsOn: 'jsThread'`, the default: the thread's
//! `TickedRuntime`, stepped by libuv — `uvloop.rs`) or on the core's shared runtime
//! (`'runtime'`); the core `Server` keeps its handle either way. Process
//! lifetime is Node's `net.Server`'s: between `start()` and the end of `stop()` a pending internal
//! Promise keeps the event loop (and so the process) alive; hooks and logging never do by
//! themselves.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::{FromNapiValue, Function, JsObjectValue, JsValue, Object, PromiseRaw, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;
use postwire::host::{self, HookDispatch};
use postwire::server::Server as CoreServer;

use crate::error::{invalid_input, promise, ResultExt};
use crate::hooks::JsHooks;
use crate::options::{js_options, Hook};
use crate::values::{Address, ServerStats};

/// An SMTP server: `new Server(options)`, `await server.listen(host, port)`, `server.start()`,
/// `await server.stop()`.
#[napi]
pub struct Server {
    server: Arc<CoreServer>,
    dispatch: Option<Arc<HookDispatch>>,
    /// `sessionsOn: 'jsThread'` (the default): serve on this thread's runtime (`uvloop.rs`).
    on_js_thread: bool,
    /// Where `start()` put the sessions: 0 not started, 1 the JS thread, 2 the runtime.
    placed: AtomicU8,
}

/// `sessionsOn` as the options JSON has it (taken out: the core does not read it): true for
/// `'jsThread'` (or unset), false for `'runtime'`.
fn sessions_on_js_thread(env: &Env, json: &mut serde_json::Value) -> napi::Result<bool> {
    match json.as_object_mut().and_then(|m| m.remove("sessions_on")) {
        None | Some(serde_json::Value::Null) => Ok(true),
        Some(serde_json::Value::String(s)) if s == "jsThread" => Ok(true),
        Some(serde_json::Value::String(s)) if s == "runtime" => Ok(false),
        Some(_) => Err(invalid_input(env, "option sessionsOn must be 'jsThread' or 'runtime'")),
    }
}

/// The options that may hold a function (left out of the options the core reads).
const HOOKS: [&str; 5] = ["onConnect", "onMailFrom", "onRcptTo", "onMessage", "auth"];

/// The function under `key`, if any; something else there is `PW_INVALID_INPUT`.
fn hook<'a, A: napi::bindgen_prelude::JsValuesTupleIntoVec>(
    env: &Env,
    options: &Object<'a>,
    key: &str,
) -> napi::Result<Option<Hook<'a, A>>> {
    let v: Unknown<'a> = options.get_named_property(key)?;
    match v.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        ValueType::Function => Ok(Some(unsafe { Function::from_napi_value(env.raw(), v.raw())? })),
        _ => Err(invalid_input(env, format!("option {key} must be a function"))),
    }
}

#[napi]
impl Server {
    /// A server with `options` (see `ServerOptions`; every one optional).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "ServerOptions")] options: Option<Object<'_>>,
    ) -> napi::Result<Self> {
        let hooks = match &options {
            None => JsHooks::default(),
            Some(o) => JsHooks {
                connect: hook(&env, o, "onConnect")?.map(|f| f.create_ref()).transpose()?,
                mail_from: hook(&env, o, "onMailFrom")?.map(|f| f.create_ref()).transpose()?,
                rcpt_to: hook(&env, o, "onRcptTo")?.map(|f| f.create_ref()).transpose()?,
                message: hook(&env, o, "onMessage")?.map(|f| f.create_ref()).transpose()?,
                auth: match o.get_named_property::<Unknown<'_>>("auth")?.get_type()? {
                    ValueType::Function => hook(&env, o, "auth")?.map(|f| f.create_ref()).transpose()?,
                    _ => None,
                },
            },
        };
        let mut options = js_options(&env, options, &HOOKS)?;
        let on_js_thread = sessions_on_js_thread(&env, &mut options.json)?;
        crate::logging::from_option(&env, options.logger)?;
        let mut opts = host::options::server_options(options.json).js(&env)?;
        let dispatch = if hooks.any() {
            let callable_auth = hooks.auth.is_some();
            let d = Arc::new(hooks.dispatch(&env, opts.hook_timeout, on_js_thread)?);
            if callable_auth {
                opts.auth = Some(d.clone());
            }
            Some(d)
        } else {
            None
        };
        let server = match &dispatch {
            Some(d) => CoreServer::with_hooks(opts, d.clone()),
            None => CoreServer::new(opts),
        }
        .js(&env)?;
        Ok(Server { server: Arc::new(server), dispatch, on_js_thread, placed: AtomicU8::new(0) })
    }

    /// Bind `host:port` (defaults `127.0.0.1` and 0, an ephemeral port); resolves to the bound
    /// `{host, port}`. May be called several times before `start()`.
    #[napi(ts_return_type = "Promise<Address>", catch_unwind)]
    pub fn listen<'e>(
        &self,
        env: &'e Env,
        host: Option<String>,
        port: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, Address>> {
        let host = host.unwrap_or_else(|| "127.0.0.1".into());
        let port =
            u16::try_from(port.unwrap_or(0)).map_err(|_| invalid_input(env, "port must be 0..65535"))?;
        let server = Arc::clone(&self.server);
        promise(
            env,
            async move {
                let addr: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| {
                        postwire::Error::invalid_input(format!("cannot resolve listen host {host:?}"))
                    })?;
                server.listen(addr)
            },
            |_, a| Ok(Address::from(a)),
        )
    }

    /// Serve in the background until `stop()`; the process stays alive meanwhile. A server is
    /// started once: a later call while it serves does nothing; after `stop()` it throws
    /// `invalid_input` (a stopped server never serves again: build a new one).
    #[napi(catch_unwind)]
    pub fn start(&self, env: Env) -> napi::Result<()> {
        // Only JS calls start(), on this thread: nobody starts it between this look and the start.
        if !self.server.startable().js(&env)? {
            return Ok(());
        }
        let js_thread = if self.on_js_thread { crate::uvloop::runtime(&env) } else { None };
        let serving = match &js_thread {
            Some(rt) => self.server.start_on(rt),
            None => self.server.start(),
        }
        .js(&env)?;
        self.placed.store(if js_thread.is_some() { 1 } else { 2 }, Ordering::Relaxed);
        // Pending until the server stopped serving: this is what keeps the event loop alive. It
        // never rejects (nobody awaits it); an error of serving comes out of `stop()`.
        let _pending: PromiseRaw<'_, ()> = promise(
            &env,
            async move {
                let _ = serving.stopped().await;
                Ok(())
            },
            |_, ()| Ok(()),
        )?;
        Ok(())
    }

    /// Graceful stop: no new sessions, idle ones told 421, transactions in flight may finish
    /// for up to `shutdownGrace` seconds; resolves once every session ended. Idempotent.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn stop<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, ()>> {
        self.server.stop();
        let handle = self.server.handle();
        let dispatch = self.dispatch.clone();
        promise(
            env,
            async move {
                let served = match handle {
                    Some(h) => h.stopped().await,
                    None => Ok(()),
                };
                if let Some(d) = dispatch {
                    d.close();
                }
                // Records of the last sessions reach the logger before stop() resolves.
                crate::logging::delivered().await;
                served
            },
            |_, ()| Ok(()),
        )
    }

    /// Close every session now, even mid-message (421); `stop()` still resolves when done.
    #[napi(catch_unwind)]
    pub fn force_stop(&self) {
        self.server.force_stop();
    }

    /// True between `start()` and the end of `stop()`.
    #[napi(getter, catch_unwind)]
    pub fn running(&self) -> bool {
        self.server.running()
    }

    /// Where the sessions run: `'jsThread'` or `'runtime'` — as asked before `start()`, as
    /// placed after it (`'runtime'` where the JS thread cannot host them).
    #[napi(getter, catch_unwind, ts_return_type = "'jsThread' | 'runtime'")]
    pub fn sessions_on(&self) -> &'static str {
        match (self.placed.load(Ordering::Relaxed), self.on_js_thread) {
            (1, _) | (0, true) => "jsThread",
            _ => "runtime",
        }
    }

    /// The addresses bound so far.
    #[napi(getter, catch_unwind)]
    pub fn addresses(&self) -> Vec<Address> {
        self.server.local_addrs().into_iter().map(Address::from).collect()
    }

    /// The host name in force (banner, EHLO, Received `by`).
    #[napi(getter, catch_unwind)]
    pub fn hostname(&self) -> String {
        self.server.options().hostname.clone()
    }

    /// Counters: connections, activeConnections, refusedConnections, messagesAccepted,
    /// messagesRejected, recipientsAccepted, recipientsRejected, bytesReceived.
    #[napi(getter, catch_unwind)]
    pub fn stats(&self) -> ServerStats {
        self.server.stats().into()
    }
}
