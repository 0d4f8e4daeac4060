//! Writes `include/postwire.h` (`make c-header`): cbindgen over this crate with
//! `cbindgen.toml`, plus the `pw_status` values, computed here from the core's `ErrorKind` so the
//! header's numbers can never drift from the core's (cbindgen alone copies enum discriminants as
//! written; it cannot evaluate `ErrorKind::Connect as u32`).
//!
//! Usage: `postwire-c-header [OUTPUT]` (default: `include/postwire.h` of the workspace).

#[path = "../status.rs"]
mod status;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// The `pw_status` block: an enum of the values (as rustls-ffi writes its result enum: the C
/// type is `uint32_t`, so a value the header does not know yet is still representable).
fn status_block() -> String {
    let mut s = String::from(
        "/**\n * What every fallible function returns: PW_OK (0), one status per error kind of the\n \
         * library (the kind's number: the API contract's errors table), PW_PANIC (a bug inside\n \
         * the library, caught at its boundary) or PW_NULL_PARAMETER (a NULL pointer argument).\n \
         * pw_status_name() gives the kind's name, pw_last_error_message() the text.\n */\n\
         enum pw_status_value\n#ifdef __cplusplus\n  : uint32_t\n#endif // __cplusplus\n {\n",
    );
    for (name, number, kind) in status::all() {
        let _ = writeln!(s, "    /** `{kind}` */\n    {name} = {number},");
    }
    s.push_str("};\ntypedef uint32_t pw_status;\n");
    s
}

fn main() -> ExitCode {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| dir.join("../include/postwire.h"));
    let mut config = match cbindgen::Config::from_file(dir.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("postwire-c-header: {e}");
            return ExitCode::FAILURE;
        }
    };
    config.after_includes = Some(format!("\n{}", status_block()));
    match cbindgen::Builder::new().with_config(config).with_crate(&dir).generate() {
        Ok(b) => {
            b.write_to_file(&out);
            eprintln!("postwire-c-header: wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("postwire-c-header: {e}");
            ExitCode::FAILURE
        }
    }
}
