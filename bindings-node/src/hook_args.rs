//! Hook arguments built by two small JS functions: `session(...)` and `envelope(...)` take
//! primitives and return the objects `Session` and `Envelope` (`values.rs`, which keeps their
//! types for the d.ts) describe.
//!
//! Why not napi-rs's `#[napi(object)]` conversion: it makes each object with one napi call per
//! property (an internalised key and a map transition each) — on the JS thread, per message,
//! that was about a tenth of the server's CPU with a counting `onMessage`
//! (`perf record --call-graph dwarf` on bench/node_sink.js under `smtp-source -s 10 -d`). An
//! object literal in JS is built by V8's compiled code from one call.

use napi::bindgen_prelude::{FnArgs, FunctionRef, Unknown};
use napi::Env;
use postwire::server::{Envelope as CoreEnvelope, SessionInfo};

use crate::values::{params, Params};

/// The JS source of the two functions (key order as `values.rs` declares the fields).
const FACTORIES: &str = r#"(function () {
  const session = (id, peerHost, peerPort, localHost, localPort, helo, tls, authenticatedUser) => ({
    id,
    peer: { host: peerHost, port: peerPort },
    local: { host: localHost, port: localPort },
    helo,
    tls,
    authenticatedUser,
  });
  // No parameters (the common case) come as undefined: empty objects are made here.
  const envelope = (mailFrom, rcptTo, mailParams, rcptParams) => ({
    mailFrom,
    rcptTo,
    mailParams: mailParams ?? {},
    rcptParams: rcptParams ?? rcptTo.map(() => ({})),
  });
  return [session, envelope];
})()"#;

type SessionArgs = FnArgs<(String, String, u32, String, u32, Option<String>, bool, Option<String>)>;
type EnvelopeArgs = FnArgs<(String, Vec<String>, Option<Params>, Option<Vec<Params>>)>;

/// The two functions, kept for the server's life.
pub struct HookArgs {
    session: FunctionRef<SessionArgs, Unknown<'static>>,
    envelope: FunctionRef<EnvelopeArgs, Unknown<'static>>,
}

impl HookArgs {
    /// Compile the functions in `env`.
    pub fn new(env: &Env) -> napi::Result<Self> {
        let pair: napi::bindgen_prelude::Array<'_> = env.run_script(FACTORIES)?;
        let session: napi::bindgen_prelude::Function<'_, SessionArgs, Unknown<'static>> =
            pair.get(0)?.ok_or_else(|| napi::Error::from_reason("no session factory"))?;
        let envelope: napi::bindgen_prelude::Function<'_, EnvelopeArgs, Unknown<'static>> =
            pair.get(1)?.ok_or_else(|| napi::Error::from_reason("no envelope factory"))?;
        Ok(HookArgs { session: session.create_ref()?, envelope: envelope.create_ref()? })
    }

    /// The `Session` object of `s`.
    pub fn session<'e>(&self, env: &'e Env, s: SessionInfo) -> napi::Result<Unknown<'e>> {
        let args = (
            s.id,
            s.peer.ip().to_string(),
            u32::from(s.peer.port()),
            s.local.ip().to_string(),
            u32::from(s.local.port()),
            s.helo,
            s.tls,
            s.authenticated_user,
        );
        self.session.borrow_back(env)?.call(FnArgs::from(args))
    }

    /// The `Envelope` object of `e`.
    pub fn envelope<'e>(&self, env: &'e Env, e: CoreEnvelope) -> napi::Result<Unknown<'e>> {
        let mail = e.mail_params.to_pairs();
        let rcpt: Vec<_> = e.rcpt_params.iter().map(|p| p.to_pairs()).collect();
        let args = (
            e.mail_from,
            e.rcpt_to,
            (!mail.is_empty()).then(|| params(mail)),
            rcpt.iter().any(|p| !p.is_empty()).then(|| rcpt.into_iter().map(params).collect()),
        );
        self.envelope.borrow_back(env)?.call(FnArgs::from(args))
    }
}
