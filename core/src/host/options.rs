//! Host values into the core's option types. A binding turns the host's keyword arguments or
//! options object into a JSON-shaped value (a generic walk: dict → object, None → null …,
//! knowing nothing of the options) and calls [`server_options`]; the names, the defaults (every
//! field left out), the units (float seconds) and the checks are the core's, written once in the
//! option types' `Deserialize` (`option_values::de`).

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::server::ServerOptions;

/// Deserialize `T` from `value`; a mistake is `invalid_input` naming the option
/// (`"option max_recipients: invalid type: string \"x\", expected usize"`).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T> {
    // serde_path_to_error: serde's own messages do not say which field was wrong.
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            Error::invalid_input(format!("options: {}", e.inner()))
        } else {
            Error::invalid_input(format!("option {path}: {}", e.inner()))
        }
    })
}

/// `ServerOptions` from the host's options (an object; missing fields take the defaults),
/// validated ([`ServerOptions::validate`]).
pub fn server_options(value: Value) -> Result<ServerOptions> {
    let opts: ServerOptions = from_value(value)?;
    opts.validate()?;
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn defaults_come_from_the_core() {
        let o = server_options(json!({ "hostname": "mx.example.test" })).unwrap();
        let d = ServerOptions::default();
        assert_eq!((o.max_recipients, o.max_message_size, o.timeouts), (d.max_recipients, d.max_message_size, d.timeouts));
        assert_eq!(o.hook_timeout, Duration::from_secs(60));
    }

    #[test]
    fn host_values_convert() {
        let o = server_options(json!({
            "hostname": "mx.example.test",
            "relay_networks": ["192.0.2.0/24", "::1"],
            "max_message_size": null,
            "timeouts": { "command": 2.5, "data": 10 },
            "auth": { "alice": "s3cret" },
            "delivery": "discard",
            "shutdown_grace": 0.5,
            "tls_cert": null,
        }))
        .unwrap();
        assert_eq!(o.relay_networks.len(), 2);
        assert_eq!(o.max_message_size, 0);
        assert_eq!(o.timeouts.command, Duration::from_millis(2500));
        assert_eq!(o.timeouts.tls_handshake, ServerOptions::default().timeouts.tls_handshake);
        assert!(o.auth.is_some());
        assert_eq!(o.delivery, crate::server::Delivery::Discard);
        let uniform = server_options(json!({ "hostname": "h", "timeouts": 7 })).unwrap();
        assert_eq!(uniform.timeouts.write, Duration::from_secs(7));
    }

    #[test]
    fn mistakes_are_invalid_input_naming_the_option() {
        for (v, needle) in [
            (json!({ "relay_networks": ["not-a-net"] }), "relay_networks"),
            (json!({ "timeouts": { "bogus": 1 } }), "bogus"),
            (json!({ "timeouts": 0 }), "timeouts"),
            (json!({ "shutdown_grace": -1 }), "shutdown_grace"),
            (json!({ "max_recipients": "many" }), "max_recipients"),
            (json!({ "no_such_option": 1 }), "no_such_option"),
            (json!({ "delivery": "queue:/tmp/x" }), "delivery"),
            (json!({ "max_connections": 0 }), "max_connections"),
        ] {
            let e = server_options(v.clone()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{v}");
            assert!(e.message().contains(needle), "{v}: {}", e.message());
        }
    }
}
