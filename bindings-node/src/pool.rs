//! `Pool`: sessions kept open per destination and shared by sends (`postwire::client::Pool`,
//! which owns every rule: caps, idle expiry, health check, bounded retry).

use napi::bindgen_prelude::{Object, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use postwire::client::Pool as CorePool;
use postwire::host;

use crate::error::{promise, ResultExt};
use crate::options::js_options;
use crate::values::{message_bytes, recipients, MessageArg, PoolStats, Recipients, SendResult};

/// A pool of SMTP sessions: `await pool.send(destination, from, to, message)`.
#[napi]
pub struct Pool {
    inner: CorePool,
}

#[napi]
impl Pool {
    /// A new, empty pool (`maxConnections` 10 by default; see `PoolOptions`).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "PoolOptions")] options: Option<Object<'_>>,
    ) -> napi::Result<Self> {
        let options = js_options(&env, options, &[])?;
        crate::logging::from_option(&env, options.logger)?;
        let opts = host::options::pool_options(options.json).js(&env)?;
        Ok(Pool { inner: CorePool::new(opts) })
    }

    /// Send one message through a pooled session to `destination` (same result, errors and
    /// `options` — `dsn` — as `client.send`). Waits while the caps are reached.
    #[napi(ts_return_type = "Promise<SendResult>", catch_unwind)]
    pub fn send<'e>(
        &self,
        env: &'e Env,
        #[napi(ts_arg_type = "Destination")] destination: Object<'_>,
        mail_from: String,
        #[napi(ts_arg_type = "string | string[]")] rcpt_to: Recipients,
        #[napi(ts_arg_type = "Buffer | string")] message: MessageArg,
        #[napi(ts_arg_type = "SendOptions")] options: Option<Object<'_>>,
    ) -> napi::Result<PromiseRaw<'e, SendResult>> {
        let dest = host::options::destination(js_options(env, Some(destination), &[])?.json).js(env)?;
        let envelope =
            host::options::send_options(&mail_from, recipients(rcpt_to), js_options(env, options, &[])?.json)
                .js(env)?;
        let msg = message_bytes(message);
        let pool = self.inner.clone();
        promise(env, async move { pool.send_with(&dest, &envelope, &msg).await }, |_, r| {
            Ok(SendResult::from(r))
        })
    }

    /// The counters now: open, idle, created, reused, retried.
    #[napi(getter, catch_unwind)]
    pub fn stats(&self) -> PoolStats {
        self.inner.stats().into()
    }

    /// QUIT every idle session and refuse further sends; sends in flight finish first.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn close<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, ()>> {
        let pool = self.inner.clone();
        promise(
            env,
            async move {
                pool.close().await;
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }
}
