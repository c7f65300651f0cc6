//! The TLS client of a scenario's https requests: whom it trusts (the
//! system store, or the `ca_file`), the client certificate it presents, and
//! the expiry of every certificate chain a server presents, reported to the
//! scenario's sink at each full handshake.

use crate::plan::tls::TlsPlan;
use crate::sample::SampleSink;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, OnceLock};
use x509_cert::der::Decode;

/// ALPN: HTTP/2 where the server offers it, as k6 and curl do.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The client configuration for `plan`; expiries go to `sink`.
pub fn client_config(plan: &TlsPlan, sink: Arc<dyn SampleSink>) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verify = if plan.insecure_skip_verify {
        None
    } else {
        let roots = plan.roots.clone().unwrap_or_else(system_roots);
        Some(
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(format!("cannot verify with these CA certificates: {e}")))?,
        )
    };
    let verifier = Arc::new(Recording { verify, provider: provider.clone(), sink });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &plan.client {
        Some(client) => builder.with_client_auth_cert(client.chain.clone(), client.key.clone_key())?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// The system's trusted CAs, read once: `SSL_CERT_FILE` / `SSL_CERT_DIR`
/// when set, else the distribution's store (`/etc/ssl/certs` on Debian).
/// Where there is none (a bare container image), Mozilla's roots as
/// compiled in.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(
                    errors = ?found.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "no system CA certificates found (SSL_CERT_FILE, SSL_CERT_DIR, the distribution's store): \
                     https targets are verified against the CA roots compiled in"
                );
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(roots)
        })
        .clone()
}

/// Verifies as webpki does (or not at all, with `insecure_skip_verify`),
/// after noting when the presented chain expires.
struct Recording {
    verify: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    sink: Arc<dyn SampleSink>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording").field("verify", &self.verify.is_some()).finish()
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Before verifying: an expired chain is still worth a value.
        if let Some(expiry) = earliest_expiry(std::iter::once(end_entity).chain(intermediates)) {
            self.sink.record_certificate(&server_name.to_str(), expiry);
        }
        match &self.verify {
            Some(verify) => verify.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    /// The handshake's signatures are checked even with verification off.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The earliest `notAfter` of `chain`, in seconds since the Unix epoch
/// (blackbox_exporter's `probe_ssl_earliest_cert_expiry`); None when no
/// certificate in it parses.
fn earliest_expiry<'a>(chain: impl Iterator<Item = &'a CertificateDer<'a>>) -> Option<u64> {
    chain
        .filter_map(|der| x509_cert::Certificate::from_der(der).ok())
        .map(|cert| cert.tbs_certificate.validity.not_after.to_unix_duration().as_secs())
        .min()
}
