//! The TLS client of a scenario's https requests: whom it trusts (the
//! system store, or the `ca_file`), the client certificate it presents, and
//! the expiry of every certificate chain a server presents, reported to the
//! scenario's sink at each full handshake.

use crate::model::sample::SampleSink;
use crate::plan::tls::TlsPlan;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, OnceLock};
use x509_cert::der::Decode;

/// ALPN: HTTP/2 where the server offers it, as k6 and curl do.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// What a scenario's https origins connect with: its client configuration
/// (one per scenario and reload, so connections are pooled by it) and the
/// server name that replaces the URL's host, if any.
#[derive(Clone)]
pub struct TlsContext {
    pub config: Arc<ClientConfig>,
    pub server_name: Option<ServerName<'static>>,
}

impl TlsContext {
    /// The context for `plan`; the expiry of every chain a server presents goes to `sink`.
    pub fn new(plan: &TlsPlan, sink: Arc<dyn SampleSink>) -> Result<TlsContext, rustls::Error> {
        Ok(TlsContext { config: Arc::new(client_config(plan, sink)?), server_name: plan.server_name.clone() })
    }
}

/// The client configuration for `plan`; expiries go to `sink`.
fn client_config(plan: &TlsPlan, sink: Arc<dyn SampleSink>) -> Result<ClientConfig, rustls::Error> {
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
    let verifier =
        Arc::new(Recording { verify, pinned: plan.ca_certificates.clone(), provider: provider.clone(), sink });
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
    /// The `ca_file` certificates: one presented as the server's own is trusted.
    pinned: Arc<Vec<CertificateDer<'static>>>,
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
        let Some(verify) = &self.verify else { return Ok(ServerCertVerified::assertion()) };
        match verify.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(_) if self.pinned.iter().any(|ca| ca.as_ref() == end_entity.as_ref()) => {
                verify_pinned(end_entity, server_name, now)
            }
            verified => verified,
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

/// A server that presents a certificate of the `ca_file` itself: webpki
/// refuses a CA certificate as a server's (`CaUsedAsEndEntity`), which is
/// what `openssl req -x509` makes, while curl (OpenSSL) and Go accept a
/// trusted certificate as it stands. Its dates and names are still checked.
fn verify_pinned(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, rustls::Error> {
    use rustls::CertificateError;
    let parsed = webpki::EndEntityCert::try_from(end_entity).map_err(|_| CertificateError::BadEncoding)?;
    parsed.verify_is_valid_for_subject_name(server_name).map_err(|_| CertificateError::NotValidForName)?;
    let validity = x509_cert::Certificate::from_der(end_entity)
        .map_err(|_| CertificateError::BadEncoding)?
        .tbs_certificate
        .validity;
    let now = now.as_secs();
    if now < validity.not_before.to_unix_duration().as_secs() {
        return Err(CertificateError::NotValidYet.into());
    }
    if now > validity.not_after.to_unix_duration().as_secs() {
        return Err(CertificateError::Expired.into());
    }
    Ok(ServerCertVerified::assertion())
}
