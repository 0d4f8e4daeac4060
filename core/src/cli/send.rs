//! `postwire send`: one message through one SMTP session (being written).

/// Arguments of `postwire send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {}

/// Run `postwire send`.
pub fn run(_args: SendArgs) -> i32 {
    eprintln!("postwire send: not available in this build");
    2
}
