//! The client's TLS configuration: rustls with the ring provider, the webpki roots plus an
//! optional PEM CA file, or (tests only) a verifier that accepts any certificate.
//!
//! The two configurations without a CA file are built once per process and shared: building the
//! root store costs more than a pooled session's whole transaction.
//!
//! A CA file may hold the server's own self-signed certificate, as Python's `ssl` allows. OpenSSL
//! 3's `req -x509` marks such certificates `CA:TRUE`, and webpki refuses a CA certificate as a
//! server's certificate (`CaUsedAsEndEntity`) even when it is the very trust anchor. So with a CA
//! file the standard webpki verifier is wrapped by [`Verifier`]: when, and only when, webpki
//! says `CaUsedAsEndEntity` and the server's certificate is byte for byte one of the CA file's,
//! the certificate is accepted as pinned — after checking it names the server. Its dates are
//! already checked by then: webpki checks validity before basic constraints
//! (`check_issuer_independent_properties`), so an expired pinned certificate fails as expired
//! (`client_tls_pinned.rs` holds that order to account).

use std::io::BufReader;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_name, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::tls_error::{is_ca_used_as_end_entity, sentence};
use crate::error::{Error, Result};

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::tls(format!("TLS configuration: {e}")))
}

fn webpki_store() -> RootCertStore {
    RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

/// The rustls configuration for a session: shared unless a CA file is given.
pub(crate) fn client_config(ca_file: Option<&Path>, accept_invalid: bool) -> Result<Arc<ClientConfig>> {
    static VERIFIED: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    static INSECURE: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if accept_invalid {
        if let Some(c) = INSECURE.get() {
            return Ok(c.clone());
        }
        let cfg = with_verifier(Verifier::new(webpki_store(), Trust::Anything)?)?;
        return Ok(INSECURE.get_or_init(|| cfg).clone());
    }
    match ca_file {
        None => {
            if let Some(c) = VERIFIED.get() {
                return Ok(c.clone());
            }
            let cfg = builder()?.with_root_certificates(webpki_store()).with_no_client_auth();
            Ok(VERIFIED.get_or_init(|| Arc::new(cfg)).clone())
        }
        Some(path) => {
            let mut roots = webpki_store();
            let file = std::fs::File::open(path)
                .map_err(|e| Error::io(format!("CA file {}: {e}", path.display())))?;
            let mut pinned = Vec::new();
            for cert in CertificateDer::pem_reader_iter(BufReader::new(file)) {
                let cert = cert.map_err(|e| Error::io(format!("CA file {}: {e}", path.display())))?;
                roots
                    .add(cert.clone())
                    .map_err(|e| Error::tls(format!("CA file {}: {}", path.display(), sentence(&e))))?;
                pinned.push(cert);
            }
            if pinned.is_empty() {
                return Err(Error::invalid_input(format!(
                    "CA file {} holds no PEM certificate",
                    path.display()
                )));
            }
            with_verifier(Verifier::new(roots, Trust::WebPkiOrPinned(pinned))?)
        }
    }
}

fn with_verifier(v: Verifier) -> Result<Arc<ClientConfig>> {
    Ok(Arc::new(builder()?.dangerous().with_custom_certificate_verifier(Arc::new(v)).with_no_client_auth()))
}

/// The name the certificate must match: an IP address or a DNS name.
pub(crate) fn server_name(name: &str) -> Result<ServerName<'static>> {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(name.to_string())
        .map_err(|_| Error::invalid_input(format!("{name:?} is not a valid TLS server name")))
}

/// What [`Verifier`] accepts as the server's certificate.
#[derive(Debug)]
enum Trust {
    /// What webpki accepts, and the server's own self-signed certificate from the CA file as a
    /// pinned trust anchor (see the module documentation).
    WebPkiOrPinned(Vec<CertificateDer<'static>>),
    /// Anything (`accept_invalid_certs`, i.e. tests against self-signed peers). Handshake
    /// signatures are still checked, so the handshake itself is sound.
    Anything,
}

/// The client's certificate verifier: webpki's checks and signature verification, with the
/// [`Trust`] exceptions.
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    trust: Trust,
}

impl Verifier {
    fn new(roots: RootCertStore, trust: Trust) -> Result<Verifier> {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| Error::tls(format!("TLS configuration: {e}")))?;
        Ok(Verifier { webpki, trust })
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let pinned = match &self.trust {
            Trust::Anything => return Ok(ServerCertVerified::assertion()),
            Trust::WebPkiOrPinned(pinned) => pinned,
        };
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(e)
                if is_ca_used_as_end_entity(&e)
                    && pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                // Validity was checked before webpki got to basic constraints; the name is ours.
                verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
