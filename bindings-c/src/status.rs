//! The numbers of `pw_status`, in one place for the library and for the header generator
//! (`src/bin/header.rs` includes this file): success, one status per core [`ErrorKind`] with the
//! kind's own number (`PW_CONNECT` = 1 … `PW_IO` = 10, taken from `ErrorKind::number`, never
//! retyped), and the two failures that only a C boundary has.

use postwire::ErrorKind;

/// Success.
pub const OK: u32 = 0;
/// A panic inside the library was caught at its boundary (a bug in postwire: please report it).
/// Far from the kinds so that new kinds of the core never collide with it.
pub const PANIC: u32 = 100;
/// A pointer argument that must not be NULL was NULL; nothing was done.
pub const NULL_PARAMETER: u32 = 101;

/// The status of a core error kind: the kind's number.
pub fn of_kind(kind: ErrorKind) -> u32 {
    kind.number()
}

/// Every status as (`PW_` name, number, the API's snake_case name), in number order.
pub fn all() -> Vec<(String, u32, &'static str)> {
    let mut v = vec![("PW_OK".to_string(), OK, "ok")];
    for k in ErrorKind::ALL {
        v.push((format!("PW_{}", k.as_str().to_ascii_uppercase()), of_kind(k), k.as_str()));
    }
    v.push(("PW_PANIC".to_string(), PANIC, "panic"));
    v.push(("PW_NULL_PARAMETER".to_string(), NULL_PARAMETER, "null_parameter"));
    v
}
