//! `postwire serve` (being written).

/// Arguments of `postwire serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Run `postwire serve`.
pub fn run(_args: ServeArgs) -> i32 {
    eprintln!("postwire serve: not available in this build");
    2
}
