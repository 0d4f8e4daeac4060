//! This machine's host name, read once through the `gethostname` crate (no `unsafe` of our own):
//! the server's default `hostname` and the client's default EHLO name both start from it.

/// The host name the kernel reports, when it is a non-empty printable ASCII name.
pub fn system_hostname() -> Option<String> {
    let name = gethostname::gethostname().into_string().ok()?;
    let usable = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic());
    usable.then_some(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_name_is_printable_when_present() {
        if let Some(n) = super::system_hostname() {
            assert!(n.bytes().all(|b| b.is_ascii_graphic()), "{n:?}");
        }
    }
}
