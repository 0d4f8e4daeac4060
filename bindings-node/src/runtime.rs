//! napi's async runtime, pointed at the core's one (`postwire::host::runtime::shared`): every
//! Promise the addon returns and every server it starts run on the same tokio threads, as in the
//! Python binding — one runtime per process, not napi's second one beside the core's.
//!
//! napi 3 lets an addon register an [`AsyncRuntime`] backend; this one hands each task to the
//! shared runtime. That runtime lives for the whole process (servers started from JS keep
//! running on it until they are stopped), so `shutdown` at environment teardown does not stop
//! it; instead the addon's image is pinned in memory at load (napi's own
//! `retain_current_module_for_unload_safety`), which is what napi's contract asks of a backend
//! whose threads may outlive an environment: no code of an unloaded image can ever run.

use std::future::Future;
use std::pin::Pin;

use napi::bindgen_prelude::{
    register_async_runtime, retain_current_module_for_unload_safety, AsyncRuntime, AsyncRuntimeRejection,
    AsyncRuntimeTask,
};
use postwire::host;

struct CoreRuntime;

// SAFETY: tasks run on the core's shared runtime, which may outlive a Node environment; the
// addon image is pinned at load ([`register`]) so nothing it runs can outlive the code.
unsafe impl AsyncRuntime for CoreRuntime {
    fn spawn(&self, task: AsyncRuntimeTask) -> Result<(), AsyncRuntimeRejection<AsyncRuntimeTask>> {
        match host::runtime::shared() {
            Ok(rt) => {
                // The handle is not needed: the task settles its own Promise.
                drop(rt.spawn(task));
                Ok(())
            }
            Err(e) => Err(AsyncRuntimeRejection::new(task, napi::Error::from_reason(e.to_string()))),
        }
    }

    fn block_on(&self, future: Pin<&mut dyn Future<Output = ()>>) -> napi::Result<()> {
        host::runtime::block_on(future).map_err(|e| napi::Error::from_reason(e.to_string()))
    }

    fn shutdown(&self) -> napi::Result<()> {
        // The shared runtime serves the whole process; see the module doc.
        Ok(())
    }
}

/// Register the backend and pin the image (once, at load).
pub fn register() {
    retain_current_module_for_unload_safety();
    register_async_runtime(CoreRuntime);
}
