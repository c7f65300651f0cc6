//! A CA made in the test (rcgen) and https servers on 127.0.0.1 that present what it signed.
#![allow(dead_code)]

use super::*;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A CA and what it signed, written as PEM files under a temp dir.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: rcgen::Certificate,
    pub ca_key: KeyPair,
    /// When the CA expires: earlier than the server's certificate, so the chain's earliest expiry is the CA's.
    pub ca_expiry: i64,
}

impl Pki {
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "sloprober test CA");
        params.not_after = rcgen::date_time_ymd(2030, 3, 1);
        let ca_expiry = params.not_after.unix_timestamp();
        let ca_key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        let pki = Pki { dir: tempfile::tempdir().unwrap(), ca, ca_key, ca_expiry };
        std::fs::write(pki.path("ca.pem"), pki.ca.pem()).unwrap();
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A leaf certificate for `names`, signed by the CA; (certificate, key).
    pub fn issue(&self, names: &[&str], client: bool) -> (rcgen::Certificate, KeyPair) {
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 6, 1);
        params.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = KeyPair::generate().unwrap();
        (params.signed_by(&key, &self.ca, &self.ca_key).unwrap(), key)
    }

    /// A client certificate and key as `client.pem` / `client-key.pem`.
    pub fn client_files(&self) -> (PathBuf, PathBuf) {
        let (cert, key) = self.issue(&["sloprober-client"], true);
        std::fs::write(self.path("client.pem"), cert.pem()).unwrap();
        std::fs::write(self.path("client-key.pem"), key.serialize_pem()).unwrap();
        (self.path("client.pem"), self.path("client-key.pem"))
    }
}

/// How the test server runs TLS.
pub struct Serve<'a> {
    pub names: &'a [&'a str],
    pub alpn: &'a [&'a [u8]],
    pub require_client_certificate: bool,
}

/// An https server on 127.0.0.1 answering every request `ok` with the HTTP
/// version it saw in `x-http-version`; it presents its certificate and the CA's.
pub fn serve(pki: &Pki, how: Serve<'_>) -> SocketAddr {
    let (cert, key) = pki.issue(how.names, false);
    let chain = vec![cert.der().clone(), CertificateDer::from(pki.ca.der().to_vec())];
    serve_chain(pki, chain, key, how, None)
}

/// As [`serve`], presenting `chain`; with `goaway_after`, each HTTP/2
/// connection is shut down gracefully (GOAWAY) after that many requests.
/// Every request is counted in `served`.
pub fn serve_chain(
    pki: &Pki,
    chain: Vec<CertificateDer<'static>>,
    key: KeyPair,
    how: Serve<'_>,
    goaway_after: Option<(usize, Arc<std::sync::atomic::AtomicUsize>)>,
) -> SocketAddr {
    let key = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder =
        rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap();
    let builder = if how.require_client_certificate {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca.der().clone()).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(chain, key).unwrap();
    config.alpn_protocols = how.alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let goaway_after = goaway_after.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let on_this_connection = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                let enough = Arc::new(tokio::sync::Notify::new());
                let (count, limit, notify) = (on_this_connection.clone(), goaway_after.clone(), enough.clone());
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let (count, limit, notify) = (count.clone(), limit.clone(), notify.clone());
                    async move {
                        if let Some((after, served)) = &limit {
                            served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == *after {
                                notify.notify_one();
                            }
                        }
                        let version = format!("{:?}", request.version());
                        hyper::Response::builder()
                            .header("x-http-version", version)
                            .body(Full::new(Bytes::from_static(b"ok")))
                    }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let connection = builder.serve_connection(TokioIo::new(tls), service);
                tokio::pin!(connection);
                tokio::select! {
                    _ = connection.as_mut() => {}
                    () = enough.notified() => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            });
        }
    });
    addr
}

pub const H2_OR_1: &[&[u8]] = &[b"h2", b"http/1.1"];

/// A run of 2 VUs x 5 requests of scenario `scenario` to `https://localhost:PORT/`.
pub fn run_yaml(scenario: &str, addr: SocketAddr, tls: &str, version: &str) -> String {
    format!(
        "target:\n  base_url: https://localhost:{port}\n  tls: {tls}\nscenarios:\n  {scenario}:\n    requests:\n      - name: hello\n        path: /\n        checks: [{{status: 200}}, {{header: x-http-version, matches: \"^{version}$\"}}]\n    profiles:\n      test: {{executor: per-vu-iterations, vus: 2, iterations: 5}}\nthresholds:\n  http_req_failed: [\"rate==0\"]\n  checks: [\"rate==1\"]\n",
        port = addr.port()
    )
}

/// curl's verdict on `https://localhost:PORT/` with `args`: exit 0.
pub fn curl_succeeds(addr: SocketAddr, args: &[&str]) -> bool {
    std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "5"])
        .args(args)
        .arg(format!("https://localhost:{}/", addr.port()))
        .status()
        .expect("curl runs")
        .success()
}

pub fn failed(metrics: &str, scenario: &str, reason: &str) -> f64 {
    value(metrics, "sloprober_http_req_failed_total", &[("scenario", scenario), ("reason", reason)])
}

pub fn path(p: &Path) -> String {
    p.display().to_string()
}
