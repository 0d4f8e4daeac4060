//! The MTA capabilities: `resolveMx` (`core/src/route`), `Queue` (`core/src/queue`),
//! `checkRelay` (`core/src/relay_check`; with `relayProbes`, `relayVerdict` and `relaySummary`
//! for the shared vectors), `analyzeReceived` and `parseReceived`
//! (`core/src/trace`). Options are read by the core (`postwire::host::mta`, through
//! `options::js_options`: camelCase in, the API's snake_case names to the core, an unknown option
//! is `PW_INVALID_INPUT`); results go out as the core's JSON shape (`host::mta::to_value`, what
//! `--json` prints) with camelCase keys, as plain objects typed in `header.d.ts` (`Route`,
//! `QueueEntry`, `RunStats`, `RelayReport`, `TraceAnalysis`, `ReceivedLine`).

use napi::bindgen_prelude::{Object, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use postwire::host::{self, mta};
use postwire::queue::Queue as CoreQueue;
use postwire::route::MxResolver;
use serde_json::Value;

use crate::error::{invalid_input, promise, ResultExt};
use crate::options::{camel, js_options};
use crate::values::{message_bytes, MessageArg, Reply};

/// A core result as the JS value: the `--json` shape with camelCase keys.
fn out<T: serde::Serialize>(result: &T) -> Value {
    camel(mta::to_value(result))
}

/// The options object as the core's JSON, its `logger` (if any) applied as everywhere else.
fn options_json(env: &Env, options: Option<Object<'_>>) -> napi::Result<Value> {
    let o = js_options(env, options, &[])?;
    crate::logging::from_option(env, o.logger)?;
    Ok(o.json)
}

fn port_of(env: &Env, port: Option<u32>) -> napi::Result<Option<u16>> {
    port.map(|p| u16::try_from(p).map_err(|_| invalid_input(env, "port must be 0..65535"))).transpose()
}

/// The route for `domain` (RFC 5321 §5.1, RFC 7505): the CNAME chain followed, MX hosts by
/// preference (equal ones shuffled; `seed` repeats an order) with their addresses, implicit MX,
/// null MX, and the explanation. Rejects with `PW_DNS` (NXDOMAIN, SERVFAIL, CNAME loop …; the
/// reply says whether a retry may help) or `PW_INVALID_INPUT`.
#[napi(ts_return_type = "Promise<Route>", catch_unwind)]
pub fn resolve_mx<'e>(
    env: &'e Env,
    domain: String,
    #[napi(ts_arg_type = "ResolveMxOptions")] options: Option<Object<'_>>,
) -> napi::Result<PromiseRaw<'e, Value>> {
    let opts = mta::resolve_options(options_json(env, options)?).js(env)?;
    promise(env, async move { MxResolver::new(opts)?.resolve(&domain).await }, |_, r| Ok(out(&r)))
}

/// Probe `host:port` with every address trick of nmap's smtp-open-relay script and more (or the
/// `tests` named); resolves to the report with each probe's verdict and transcript. Sends no
/// message content unless `sendData`; every connection ends with RSET/QUIT.
#[napi(ts_return_type = "Promise<RelayReport>", catch_unwind)]
pub fn check_relay<'e>(
    env: &'e Env,
    host: String,
    port: Option<u32>,
    #[napi(ts_arg_type = "CheckRelayOptions")] options: Option<Object<'_>>,
) -> napi::Result<PromiseRaw<'e, Value>> {
    let opts = mta::relay_check_options(&host, port_of(env, port)?, options_json(env, options)?).js(env)?;
    promise(env, async move { postwire::relay_check::check_relay(&opts).await }, |_, r| Ok(out(&r)))
}

/// The probe matrix `checkRelay` runs against a server with `context`, in order (what the
/// shared `relay_probes.json` pins for every runtime).
#[napi(ts_return_type = "RelayProbe[]", catch_unwind)]
pub fn relay_probes(
    env: &Env,
    #[napi(ts_arg_type = "ProbeContext")] context: Object<'_>,
) -> napi::Result<Value> {
    let ctx = mta::probe_context(options_json(env, Some(context))?).js(env)?;
    Ok(out(&postwire::relay_check::probes(&ctx)))
}

/// The verdict a probe gets for `reply` (to its RCPT): `relayed`, `refused`, `deferred`,
/// `auth_required` or `error`.
#[napi(ts_return_type = "'relayed' | 'refused' | 'deferred' | 'auth_required' | 'error'", catch_unwind)]
pub fn relay_verdict(reply: &Reply) -> String {
    postwire::relay_check::classify(&reply.inner).as_str().to_string()
}

/// `{open, inconclusive}` of a report whose probes got `verdicts` (as `RelayReport` sums up).
#[napi(ts_return_type = "{ open: boolean; inconclusive: boolean }", catch_unwind)]
pub fn relay_summary(env: Env, verdicts: Vec<String>) -> napi::Result<Value> {
    let (open, inconclusive) = postwire::relay_check::summarise_names(&verdicts).js(&env)?;
    Ok(serde_json::json!({ "open": open, "inconclusive": inconclusive }))
}

/// The `Received:` trace of `message` (a whole message or its header): hops oldest first,
/// findings (`chain_break`, `helo_mismatch`, `after_trusted`, `date_order`,
/// `private_ip_in_public_path`, `unparsable` …) and `suspicious`. With `resolve`, the
/// forward-confirmed reverse DNS of each address through `nameservers`.
#[napi(ts_return_type = "Promise<TraceAnalysis>", catch_unwind)]
pub fn analyze_received<'e>(
    env: &'e Env,
    #[napi(ts_arg_type = "Buffer | string")] message: MessageArg,
    #[napi(ts_arg_type = "AnalyzeReceivedOptions")] options: Option<Object<'_>>,
) -> napi::Result<PromiseRaw<'e, Value>> {
    let opts = mta::trace_options(options_json(env, options)?).js(env)?;
    let msg = message_bytes(message);
    promise(env, async move { postwire::trace::analyze_received(&msg, &opts).await }, |_, r| Ok(out(&r)))
}

/// One `Received:` field value (the text after `Received:`, folded lines included) parsed
/// field for field; what is odd about it is in `defects` (it never throws on bad input).
#[napi(ts_return_type = "ReceivedLine", catch_unwind)]
pub fn parse_received(#[napi(ts_arg_type = "Buffer | string")] value: MessageArg) -> Value {
    out(&postwire::trace::parse_received_value(&message_bytes(value)))
}

/// A durable store-and-forward queue on a spool directory: `submit` returns a queue id once the
/// message is on disk (fsynced); `run()`/`flush()` deliver (by MX, or through `smarthost`),
/// `start()`/`stop()` run that in the background; a message that fails for good, or is still
/// deferred at `maxAge`, gets one DSN to its sender (never to `<>`). Entries left in the spool
/// are picked up by the next `Queue` on it.
#[napi]
pub struct Queue {
    inner: CoreQueue,
}

#[napi]
impl Queue {
    /// Open (creating) the spool `spoolDir`, with `options` (see `QueueOptions`).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        spool_dir: String,
        #[napi(ts_arg_type = "QueueOptions")] options: Option<Object<'_>>,
    ) -> napi::Result<Self> {
        let opts = mta::queue_options(options_json(&env, options)?).js(&env)?;
        let inner = CoreQueue::open(&spool_dir, opts).js(&env)?;
        Ok(Queue { inner })
    }

    /// Store `message` for `envelope` (`{mailFrom, rcptTo, envid?, ret?}`; `mailFrom: ""` is
    /// `<>`; a recipient is an address or `{address, notify?, orcpt?}`); resolves to the queue id
    /// once message and envelope are fsynced. Rejects with `PW_INVALID_INPUT` or `PW_IO`
    /// (nothing kept).
    #[napi(ts_return_type = "Promise<string>", catch_unwind)]
    pub fn submit<'e>(
        &self,
        env: &'e Env,
        #[napi(ts_arg_type = "QueueEnvelope")] envelope: Object<'_>,
        #[napi(ts_arg_type = "Buffer | string")] message: MessageArg,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let entry = mta::queue_envelope(js_options(env, Some(envelope), &[])?.json).js(env)?;
        let msg = message_bytes(message);
        let q = self.inner.clone();
        promise(env, async move { q.submit(&entry, &msg).await }, |_, id| Ok(id))
    }

    /// Deliver every entry that is due now, once; resolves when all were attempted.
    #[napi(ts_return_type = "Promise<RunStats>", catch_unwind)]
    pub fn run<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Value>> {
        let q = self.inner.clone();
        promise(env, async move { q.run_once().await }, |_, s| Ok(out(&s)))
    }

    /// Deliver every entry now, due or not.
    #[napi(ts_return_type = "Promise<RunStats>", catch_unwind)]
    pub fn flush<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Value>> {
        let q = self.inner.clone();
        promise(env, async move { q.flush().await }, |_, s| Ok(out(&s)))
    }

    /// Every entry with its per-recipient state (status, attempts, next try, last reply),
    /// oldest first.
    #[napi(ts_return_type = "Promise<Array<QueueEntry>>", catch_unwind)]
    pub fn list<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Value>> {
        let q = self.inner.clone();
        promise(env, async move { q.list_async().await }, |_, entries| Ok(out(&entries)))
    }

    /// Deliver in the background: due entries, again on every submit and every
    /// `pollInterval`. The process stays alive until `stop()`.
    #[napi(catch_unwind)]
    pub fn start(&self, env: Env) -> napi::Result<()> {
        let was_running = self.inner.running();
        host::runtime::start_queue(&self.inner).js(&env)?;
        if !was_running {
            // Pending until no runner task is left (the core's `Queue::stopped`; a runner still
            // finishing a stopped run counts): what keeps the event loop alive, as a started
            // Server does. Only JS calls start(), on this thread.
            let q = self.inner.clone();
            let _pending: PromiseRaw<'_, ()> = promise(
                &env,
                async move {
                    q.stopped().await;
                    Ok(())
                },
                |_, ()| Ok(()),
            )?;
        }
        Ok(())
    }

    /// Stop the background runner after its current run; resolves when it has stopped.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn stop<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, ()>> {
        // Takes effect now (a `start()` right after it starts a new runner); resolves later.
        let stopped = self.inner.stop();
        promise(
            env,
            async move {
                stopped.await;
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }

    /// True while the background runner runs (the core queue's state): from `start()` until
    /// `stop()` takes effect.
    #[napi(getter, catch_unwind)]
    pub fn running(&self) -> bool {
        self.inner.running()
    }
}
