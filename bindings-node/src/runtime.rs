//! The addon's image stays loaded for the whole process.
//!
//! Every Promise the addon returns settles through its completion channel (`completion.rs`) and
//! every client call, queue, and server with `sessionsOn: 'runtime'` runs on the core's shared
//! runtime (`postwire::host::runtime::shared`): one runtime per process, as in the Python
//! binding, not napi's own beside it (a server's sessions otherwise run on its JS thread,
//! `uvloop.rs`). That runtime's threads outlive any one Node environment (a `'runtime'` server
//! started from a worker thread keeps serving after the worker ends, until it is stopped), so
//! the addon's code must never be unloaded under them: the image is pinned at load with napi's
//! own `retain_current_module_for_unload_safety`.

use napi::bindgen_prelude::retain_current_module_for_unload_safety;

/// Pin the image (once, at load).
pub fn register() {
    retain_current_module_for_unload_safety();
}
