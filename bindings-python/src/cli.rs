//! `python -m postwire …`: the very CLI of the `postwire` binary (`postwire::cli`), with the GIL
//! released while it runs.

use pyo3::prelude::*;

/// Run the `postwire` command line with `argv` (program name first); returns the exit code.
#[pyfunction]
pub fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.allow_threads(|| postwire::cli::main_with_args(argv))
}
