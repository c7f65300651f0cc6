//! A scenario's TLS settings, planned: the files its `tls` block names are
//! read and checked here, so that a missing or unusable file is a config
//! problem with its path (at start, in `sloprober check`, and at a reload,
//! which is how rotated files are picked up).

use crate::config::TlsConfig;
use crate::model::env::{interpolate, EnvVars};
use crate::model::problems::Problems;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::RootCertStore;
use std::fmt;
use std::sync::Arc;

/// What https connections of a scenario trust and present.
#[derive(Clone, Default)]
pub struct TlsPlan {
    /// Trusted instead of the system store (`ca_file`).
    pub roots: Option<Arc<RootCertStore>>,
    /// The certificates of `ca_file` as written: a server presenting one of
    /// them itself (a self-signed certificate made as a CA, as `openssl req
    /// -x509` makes them) is trusted as curl and Go trust it.
    pub ca_certificates: Arc<Vec<CertificateDer<'static>>>,
    /// Presented when the server asks for a certificate.
    pub client: Option<Arc<ClientCertificate>>,
    pub insecure_skip_verify: bool,
    /// Sent as SNI and verified instead of the URL's host.
    pub server_name: Option<ServerName<'static>>,
}

/// A client certificate chain and its key.
pub struct ClientCertificate {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// Says what is configured, never the key.
impl fmt::Debug for TlsPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsPlan")
            .field("ca_roots", &self.roots.as_ref().map(|r| r.len()))
            .field("client_certificates", &self.client.as_ref().map(|c| c.chain.len()))
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsPlan {
    /// Reads the files `config` names; every problem is added under `path` (`target.tls`).
    pub fn read(config: &TlsConfig, path: &str, env: &EnvVars, problems: &mut Problems) -> TlsPlan {
        let mut file = |field: &str, value: &Option<String>| -> Option<String> {
            let value = value.as_ref()?;
            interpolate(value, env).map_err(|e| problems.add(format!("{path}.{field}"), e)).ok()
        };
        let (ca_file, cert_file, key_file) = (
            file("ca_file", &config.ca_file),
            file("cert_file", &config.cert_file),
            file("key_file", &config.key_file),
        );
        let mut ca_certificates = Vec::new();
        let roots = ca_file.and_then(|ca| match read_certificates(&ca).and_then(|certs| roots_of(&ca, certs)) {
            Ok((roots, certs)) => {
                ca_certificates = certs;
                Some(Arc::new(roots))
            }
            Err(e) => {
                problems.add(format!("{path}.ca_file"), e);
                None
            }
        });
        let client = match (cert_file, key_file) {
            (Some(cert), Some(key)) => match read_client_certificate(&cert, &key) {
                Ok(client) => Some(Arc::new(client)),
                Err((field, e)) => {
                    problems.add(format!("{path}.{field}"), e);
                    None
                }
            },
            (Some(_), None) => {
                problems.add(format!("{path}.key_file"), "cert_file is set: give the file of its private key too");
                None
            }
            (None, Some(_)) => {
                problems.add(format!("{path}.cert_file"), "key_file is set: give the file of its certificate too");
                None
            }
            (None, None) => None,
        };
        if config.insecure_skip_verify && config.ca_file.is_some() {
            problems.add(format!("{path}.insecure_skip_verify"), "ca_file is set too: verify against it, or skip");
        }
        let server_name = config.server_name.as_ref().and_then(|name| match ServerName::try_from(name.clone()) {
            Ok(name) => Some(name),
            Err(_) => {
                problems.add(format!("{path}.server_name"), format!("\"{name}\" is not a DNS name or an IP address"));
                None
            }
        });
        TlsPlan {
            roots,
            ca_certificates: Arc::new(ca_certificates),
            client,
            insecure_skip_verify: config.insecure_skip_verify,
            server_name,
        }
    }
}

pub(crate) fn read_roots(file: &str) -> Result<RootCertStore, String> {
    roots_of(file, read_certificates(file)?).map(|(roots, _)| roots)
}

/// The trust anchors of `certs` (read from `file`), and the certificates themselves.
fn roots_of(
    file: &str,
    certs: Vec<CertificateDer<'static>>,
) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs.iter().cloned());
    match (added, ignored) {
        (0, _) => Err(format!("{file}: no usable CA certificate in it")),
        (_, 0) => Ok((roots, certs)),
        (_, ignored) => Err(format!("{file}: {ignored} of its certificates cannot be used as a CA")),
    }
}

pub(crate) fn read_certificates(file: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("{file}: {}", pem_error(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{file}: {}", pem_error(e)))?;
    if certs.is_empty() {
        return Err(format!("{file}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it"));
    }
    Ok(certs)
}

/// The chain and key, checked to belong together; on error, the field to blame.
fn read_client_certificate(cert: &str, key: &str) -> Result<ClientCertificate, (&'static str, String)> {
    let chain = read_certificates(cert).map_err(|e| ("cert_file", e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| ("key_file", format!("{key}: {}", pem_error(e))))?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key_der)
        .map_err(|e| ("key_file", format!("{key}: not a usable private key ({e})")))?;
    let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing_key);
    // A key type whose public half cannot be told is left to the handshake.
    if let Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) = certified.keys_match() {
        return Err(("key_file", format!("{key}: not the private key of the certificate in {cert}")));
    }
    Ok(ClientCertificate { chain, key: key_der })
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => format!("cannot read it ({e})"),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item of the expected kind in it".to_string(),
        other => format!("not valid PEM ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(config: &TlsConfig) -> Vec<String> {
        let mut problems = Problems::default();
        TlsPlan::read(config, "target.tls", &EnvVars::default(), &mut problems);
        problems.into_vec().iter().map(ToString::to_string).collect()
    }

    fn write_pair(dir: &std::path::Path, name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap().self_signed(&key).unwrap();
        let (cert_path, key_path) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}-key.pem")));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path.display().to_string(), key_path.display().to_string())
    }

    #[test]
    fn usable_files_plan_cleanly_and_the_key_never_shows() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "client");
        let config =
            TlsConfig { ca_file: Some(cert.clone()), cert_file: Some(cert), key_file: Some(key), ..Default::default() };
        let mut problems = Problems::default();
        let plan = TlsPlan::read(&config, "target.tls", &EnvVars::default(), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(plan.roots.as_ref().map(|r| r.len()), Some(1));
        let shown = format!("{plan:?}");
        assert!(!shown.contains("PRIVATE") && !shown.contains("key: "), "{shown}");
    }

    #[test]
    fn each_unusable_setting_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "a");
        let (_, other_key) = write_pair(dir.path(), "b");
        let missing = dir.path().join("nope.pem").display().to_string();
        let cases: Vec<(TlsConfig, &str)> = vec![
            (TlsConfig { ca_file: Some(missing.clone()), ..Default::default() }, "target.tls.ca_file: "),
            (TlsConfig { ca_file: Some(key.clone()), ..Default::default() }, "target.tls.ca_file: "),
            (
                TlsConfig { cert_file: Some(cert.clone()), ..Default::default() },
                "target.tls.key_file: cert_file is set",
            ),
            (TlsConfig { key_file: Some(key.clone()), ..Default::default() }, "target.tls.cert_file: key_file is set"),
            (
                TlsConfig { cert_file: Some(cert.clone()), key_file: Some(other_key), ..Default::default() },
                "target.tls.key_file: ",
            ),
            (
                TlsConfig { cert_file: Some(cert.clone()), key_file: Some(cert.clone()), ..Default::default() },
                "target.tls.key_file: ",
            ),
            (
                TlsConfig { ca_file: Some(cert.clone()), insecure_skip_verify: true, ..Default::default() },
                "target.tls.insecure_skip_verify: ",
            ),
            (TlsConfig { ca_file: Some("${NO_SUCH_VAR}".into()), ..Default::default() }, "target.tls.ca_file: "),
            (
                TlsConfig { server_name: Some("not a name!".into()), ..Default::default() },
                "target.tls.server_name: \"not a name!\" is not a DNS name",
            ),
        ];
        for (config, expected) in cases {
            let problems = problems_of(&config);
            assert!(
                problems.len() == 1 && problems[0].starts_with(expected),
                "{config:?}: expected one problem starting {expected:?}, got {problems:?}"
            );
        }
        let mismatched = problems_of(&TlsConfig {
            cert_file: Some(cert),
            key_file: Some(dir.path().join("b-key.pem").display().to_string()),
            ..Default::default()
        });
        assert!(mismatched[0].contains("not the private key of the certificate"), "{mismatched:?}");
        assert!(problems_of(&TlsConfig { ca_file: Some(missing), ..Default::default() })[0].contains("cannot read it"));
    }
}
