//! The core's log records (`postwire::host::log`) → a JS logger with nodemailer's convention:
//! an object with `debug`, `info`, `warn` and `error`, each called as
//! `logger.info({target, ...fields}, message)` (`true` means the `console`).
//!
//! The core filters (one atomic load per event) and queues records to its log thread, which
//! hands them here in batches; a batch crosses to the JS thread in one threadsafe-function call.
//! That function is weak: logging never keeps the process alive. Logging is per process (the
//! core has one log forwarder), so the last logger given — by `setLogger` or a `logger` option —
//! receives every record; without one nothing is forwarded at all.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{FnArgs, Function, JsObjectValue, Object, ObjectRef, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Either, Env, Status};
use napi_derive::napi;
use postwire::host::log::{self, LogRecord};
use tracing::level_filters::LevelFilter;
use tracing::Level;

use crate::error::invalid_input;

/// What crosses to the JS thread: a batch of records, or a barrier answered once every batch
/// queued before it was delivered (`delivered`).
enum LogItem {
    Records(Vec<LogRecord>),
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// Carries batches to the JS thread (weak: never holds the process open).
type LogFn = ThreadsafeFunction<LogItem, (), (), Status, false, true>;

static SINK: Mutex<Option<Arc<LogFn>>> = Mutex::new(None);

fn sink() -> std::sync::MutexGuard<'static, Option<Arc<LogFn>>> {
    SINK.lock().unwrap_or_else(|p| p.into_inner())
}

fn level_of(name: &str) -> Option<LevelFilter> {
    Some(match name {
        "off" | "silent" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "info" => LevelFilter::INFO,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        _ => return None,
    })
}

fn method(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        _ => "debug",
    }
}

/// Send the core's log records to `logger` (an object with `debug/info/warn/error`, or `true`
/// for the console) from `level` up (`"error"`, `"warn"`, `"info"` — the default —, `"debug"`,
/// `"trace"`); `null` or `false` stops forwarding. Process-wide: the last logger set receives
/// every record, whichever server or client logged it.
#[napi(
    catch_unwind,
    ts_args_type = "logger: Logger | boolean | null, level?: 'off' | 'error' | 'warn' | 'info' | 'debug' | 'trace'"
)]
pub fn set_logger(
    env: Env,
    logger: Option<Either<Object<'_>, bool>>,
    level: Option<String>,
) -> napi::Result<()> {
    let filter = match level.as_deref() {
        None => LevelFilter::INFO,
        Some(name) => {
            level_of(name).ok_or_else(|| invalid_input(&env, format!("unknown log level {name:?}")))?
        }
    };
    let target = match logger {
        None | Some(Either::B(false)) => None,
        Some(Either::B(true)) => Some(env.get_global()?.get_named_property::<Object>("console")?),
        Some(Either::A(obj)) => Some(obj),
    };
    let Some(target) = target else {
        log::set_level(LevelFilter::OFF);
        *sink() = None;
        return Ok(());
    };
    let logger_ref: ObjectRef<false> = target.create_ref()?;
    let carrier: Function<'_, (), ()> = env.create_function_from_closure("postwireLog", |_| Ok(()))?;
    let tsfn: LogFn = carrier
        .build_threadsafe_function::<LogItem>()
        .callee_handled::<false>()
        .weak::<true>()
        .build_callback(move |ctx| {
            // Never an Err out of here: napi would make it a fatal exception.
            match ctx.value {
                LogItem::Records(records) => {
                    if let Ok(logger) = logger_ref.get_value(&ctx.env) {
                        for r in records {
                            deliver(&ctx.env, &logger, r);
                        }
                    }
                }
                LogItem::Barrier(done) => {
                    let _ = done.send(());
                }
            }
            Ok(())
        })?;
    *sink() = Some(Arc::new(tsfn));
    install_once();
    log::set_level(filter);
    Ok(())
}

/// Call `logger[method]({target, ...fields}, message)`; a logger that throws loses the record.
fn deliver(env: &Env, logger: &Object<'_>, r: LogRecord) {
    let call = || -> napi::Result<()> {
        let f: Function<'_, FnArgs<(Object<'_>, String)>, Unknown<'_>> =
            logger.get_named_property(method(r.level))?;
        let mut meta = Object::new(env)?;
        meta.set_named_property("target", r.target)?;
        for (k, v) in &r.fields {
            meta.set_named_property(k, v.as_str())?;
        }
        // `call` (not `apply`) clears an exception the logger threw, so none stays pending.
        f.bind(logger)?.call(FnArgs::from((meta, r.message)))?;
        Ok(())
    };
    let _ = call();
}

/// Install the core's forwarder once per process: each batch goes to the current sink.
fn install_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::install(Box::new(|batch| {
            let records: Vec<LogRecord> = batch.collect();
            let target = sink().clone();
            if let Some(t) = target {
                // Not delivered (queue closing at exit): the records are dropped.
                let _ = t.call(LogItem::Records(records), ThreadsafeFunctionCallMode::NonBlocking);
            }
        }));
    });
}

/// Wait until every record the core logged so far reached the JS logger: the core's log thread
/// hands its queue over (`log::flush`, blocking: run it off the JS thread), then a barrier goes
/// through the same threadsafe function behind the batches. Without it a Promise settled through
/// another channel (`server.stop()`) could resolve before the last batch's callback ran — the
/// order of two threadsafe functions' callbacks in one turn of the loop is libuv's.
pub async fn delivered() {
    let _ = tokio::task::spawn_blocking(log::flush).await;
    let Some(t) = sink().clone() else { return };
    let (tx, rx) = tokio::sync::oneshot::channel();
    if t.call(LogItem::Barrier(tx), ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok {
        // Dropped unanswered (the environment is closing): nothing more will be delivered.
        let _ = rx.await;
    }
}

/// Apply a `logger` option: given, it becomes the process's logger at `info` level.
pub fn from_option(env: &Env, logger: Option<Either<Object<'_>, bool>>) -> napi::Result<()> {
    match logger {
        None => Ok(()),
        Some(l) => set_logger(*env, Some(l), None),
    }
}
