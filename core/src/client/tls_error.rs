//! Every TLS failure of the client as a sentence a user understands: rustls reports
//! `invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))` or
//! `received fatal alert: HandshakeFailure`, which says what broke but not what to do about it.
//! [`sentence`] is the one place that turns a `rustls::Error` into words (what happened, and where
//! there is one, the fix); [`handshake_error`] applies it to what a handshake returns.

use std::io;

use rustls::pki_types::UnixTime;
use rustls::{AlertDescription, CertificateError, PeerIncompatible};

use crate::error::{Error, ErrorKind};

/// webpki's error for a certificate with `basicConstraints CA:TRUE` presented by a server. rustls
/// passes it on as `CertificateError::Other` holding the webpki error, whose `Display` is its
/// variant name; we do not depend on rustls-webpki directly just to name it.
pub(crate) const CA_USED_AS_END_ENTITY: &str = "CaUsedAsEndEntity";

/// True when `e` is webpki's "CA certificate used as the server's certificate".
pub(crate) fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    matches!(e, rustls::Error::InvalidCertificate(CertificateError::Other(o))
        if o.0.to_string() == CA_USED_AS_END_ENTITY)
}

fn date(t: &UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(d) => d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => format!("{secs} seconds after 1970"),
    }
}

fn certificate(e: &CertificateError) -> String {
    use CertificateError as C;
    let mine = "the server's certificate";
    match e {
        C::Expired => format!("{mine} has expired"),
        C::ExpiredContext { time, not_after } => {
            format!("{mine} expired on {} (it is {} now)", date(not_after), date(time))
        }
        C::NotValidYet => format!("{mine} is not valid yet: check this machine's clock"),
        C::NotValidYetContext { time, not_before } => format!(
            "{mine} is not valid before {} (it is {} now): check this machine's clock",
            date(not_before),
            date(time)
        ),
        C::NotValidForName => {
            format!("{mine} is not for the name we connected to: set tls_server_name to a name it carries")
        }
        C::NotValidForNameContext { expected, presented } => format!(
            "{mine} is for {}, not for {}: connect by one of its names or set tls_server_name",
            if presented.is_empty() { "no name at all".to_string() } else { presented.join(", ") },
            expected.to_str()
        ),
        C::UnknownIssuer => format!(
            "{mine} is not signed by an authority this client trusts (it is self-signed or from a \
             private CA): give that CA's certificate, or the server's own certificate, as ca_file"
        ),
        C::BadSignature => format!("{mine} has a signature that does not verify"),
        C::BadEncoding => format!("{mine} is malformed (not valid DER)"),
        C::Revoked => format!("{mine} has been revoked by its issuer"),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            format!("{mine} is not meant for a server (its extended key usage lacks serverAuth)")
        }
        // rustls still produces the deprecated unit variant for some webpki errors.
        #[allow(deprecated)]
        C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            format!("{mine} is signed with an algorithm this client does not support")
        }
        C::UnhandledCriticalExtension => {
            format!("{mine} has a critical extension this client does not understand")
        }
        C::Other(o) if o.0.to_string() == CA_USED_AS_END_ENTITY => format!(
            "{mine} is a CA certificate (basicConstraints CA:TRUE, what `openssl req -x509` makes by \
             default) and is not the certificate given as ca_file: give that very certificate as \
             ca_file to trust it for this server"
        ),
        C::Other(o) => format!("{mine} was refused: {}", o.0),
        other => format!("{mine} was refused ({other:?})"),
    }
}

fn alert(a: &AlertDescription) -> String {
    use AlertDescription as A;
    match a {
        A::HandshakeFailure | A::InsufficientSecurity => format!(
            "the server ended the TLS handshake ({a:?} alert): it has no TLS version, cipher suite \
             or key exchange in common with this client"
        ),
        A::ProtocolVersion => {
            "the server refused the TLS version (ProtocolVersion alert): it speaks neither TLS 1.2 nor 1.3"
                .to_string()
        }
        A::UnrecognisedName => {
            "the server does not know the name we asked for (UnrecognisedName alert): set \
             tls_server_name to the name it serves"
                .to_string()
        }
        A::CertificateRequired | A::BadCertificate | A::UnknownCA => format!(
            "the server refused this client's side of the handshake ({a:?} alert): it may want a \
             client certificate, which this client does not send"
        ),
        other => format!("the server ended the TLS handshake with a {other:?} alert"),
    }
}

fn incompatible(p: &PeerIncompatible) -> String {
    use PeerIncompatible as P;
    match p {
        P::NoCipherSuitesInCommon => "the server has no TLS cipher suite in common with this client".into(),
        P::NoKxGroupsInCommon => "the server has no TLS key exchange group in common with this client".into(),
        P::NoSignatureSchemesInCommon => {
            "the server has no TLS signature scheme in common with this client".into()
        }
        P::ServerDoesNotSupportTls12Or13
        | P::Tls12NotOffered
        | P::Tls12NotOfferedOrEnabled
        | P::ServerTlsVersionIsDisabledByOurConfig => {
            "the server speaks no TLS version this client accepts (TLS 1.2 or 1.3)".into()
        }
        other => format!("the server's TLS is incompatible with this client ({other:?})"),
    }
}

/// `e` as a sentence saying what went wrong and, where there is one, what to do about it.
pub(crate) fn sentence(e: &rustls::Error) -> String {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => certificate(c),
        E::AlertReceived(a) => alert(a),
        E::PeerIncompatible(p) => incompatible(p),
        E::InvalidMessage(m) => format!(
            "the server answered with something that is not TLS ({m:?}): this port may speak plain \
             SMTP (use tls starttls, or the implicit-TLS port 465)"
        ),
        E::PeerMisbehaved(p) => format!("the server broke the TLS protocol ({p:?})"),
        E::NoCertificatesPresented => "the server sent no certificate".into(),
        E::DecryptError => "TLS data failed to decrypt: corrupted in transit, or tampered with".into(),
        E::FailedToGetCurrentTime => {
            "this machine's clock could not be read to check the server's certificate".into()
        }
        E::General(s) => format!("TLS failed: {s}"),
        other => format!("TLS failed: {other}"),
    }
}

/// The error of a failed TLS handshake: kind `tls` with [`sentence`] for a rustls error, a
/// sentence for the connection closing under it, the I/O error otherwise.
pub(crate) fn handshake_error(e: &io::Error) -> Error {
    let text = match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => sentence(tls),
        None if matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset) => {
            "the server closed the connection during the TLS handshake (does it speak TLS here?)".into()
        }
        None => format!("the TLS handshake failed: {e}"),
    };
    Error::new(ErrorKind::Tls, format!("TLS handshake: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::OtherError;
    use std::sync::Arc;
    use std::time::Duration;

    /// An error whose text is webpki's variant name, as webpki's own `Display` prints it.
    #[derive(Debug)]
    struct Named(&'static str);
    impl std::fmt::Display for Named {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Named {}

    fn cert(c: CertificateError) -> String {
        sentence(&rustls::Error::InvalidCertificate(c))
    }

    #[test]
    fn certificate_errors_read_as_sentences() {
        let t = |s| UnixTime::since_unix_epoch(Duration::from_secs(s));
        let s =
            cert(CertificateError::ExpiredContext { time: t(1_800_000_000), not_after: t(1_700_000_000) });
        assert!(s.contains("expired on 2023-11-14 22:13:20 UTC"), "{s}");
        let s = cert(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("mx.example.org").expect("name"),
            presented: vec!["DnsName(\"localhost\")".into()],
        });
        assert!(s.contains("not for mx.example.org") && s.contains("tls_server_name"), "{s}");
        assert!(cert(CertificateError::UnknownIssuer).contains("ca_file"));
        let ca = CertificateError::Other(OtherError(Arc::new(Named("CaUsedAsEndEntity"))));
        let s = cert(ca.clone());
        assert!(s.contains("CA certificate") && s.contains("ca_file"), "{s}");
        assert!(is_ca_used_as_end_entity(&rustls::Error::InvalidCertificate(ca)));
        let other = CertificateError::Other(OtherError(Arc::new(Named("EndEntityUsedAsCa"))));
        assert!(!is_ca_used_as_end_entity(&rustls::Error::InvalidCertificate(other.clone())));
        assert!(cert(other).ends_with("refused: EndEntityUsedAsCa"));
        for c in [
            CertificateError::Expired,
            CertificateError::NotValidYet,
            CertificateError::BadSignature,
            CertificateError::BadEncoding,
            CertificateError::Revoked,
            CertificateError::InvalidPurpose,
            #[allow(deprecated)]
            CertificateError::UnsupportedSignatureAlgorithm,
            CertificateError::UnhandledCriticalExtension,
        ] {
            let s = cert(c.clone());
            assert!(s.starts_with("the server's certificate "), "{c:?}: {s}");
            assert!(!s.contains("OtherError"), "{s}");
        }
    }

    #[test]
    fn handshake_errors_read_as_sentences() {
        use rustls::Error as E;
        let cases = [
            (E::AlertReceived(AlertDescription::HandshakeFailure), "no TLS version, cipher suite"),
            (E::AlertReceived(AlertDescription::ProtocolVersion), "neither TLS 1.2 nor 1.3"),
            (E::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon), "no TLS cipher suite in common"),
            (E::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13), "TLS 1.2 or 1.3"),
            (E::InvalidMessage(rustls::InvalidMessage::InvalidContentType), "plain SMTP"),
            (E::NoCertificatesPresented, "no certificate"),
            (E::General("boom".into()), "TLS failed: boom"),
        ];
        for (e, want) in cases {
            let s = sentence(&e);
            assert!(s.contains(want), "{e:?}: {s}");
        }
        let wrapped =
            io::Error::new(io::ErrorKind::InvalidData, E::AlertReceived(AlertDescription::UnknownCA));
        let err = handshake_error(&wrapped);
        assert_eq!(err.kind(), ErrorKind::Tls);
        assert!(err.message().contains("client certificate"), "{err}");
        let eof = handshake_error(&io::Error::from(io::ErrorKind::UnexpectedEof));
        assert!(eof.message().contains("closed the connection during the TLS handshake"), "{eof}");
    }
}
