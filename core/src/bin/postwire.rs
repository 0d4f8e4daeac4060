//! The `postwire` executable: a thin shell over `postwire::cli`.

fn main() {
    std::process::exit(postwire::cli::main_with_args(std::env::args_os()));
}
