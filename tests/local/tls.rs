//! https targets behind a CA made in the test (rcgen), served by rustls and
//! hyper on 127.0.0.1: verified against the `ca_file` and refused without
//! it (as curl), `insecure_skip_verify`, a client certificate the server
//! requires, HTTP/2 by ALPN or HTTP/1.1, the system store read from
//! `SSL_CERT_FILE`, and the expiry metric.

use crate::common::tls::*;
use crate::common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::CertificateDer;
use std::path::PathBuf;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_from_its_file_and_nothing_else_is() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(&pki, Serve { names: &["localhost"], alpn: H2_OR_1, require_client_certificate: false });
    let ca = path(&pki.path("ca.pem"));

    let yaml = run_yaml("private_ca", addr, &format!("{{ca_file: \"{ca}\"}}"), "HTTP/2.0");
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert_eq!((stats.count, stats.failed_total()), (10, 0), "{:?}", stats.failed);
    assert!(outcome.passed(), "every check passed, over HTTP/2");
    // Over HTTP/2 a request leaves as its stream opens (sending 0); one handshake per session.
    assert_eq!(phase(&outcome, "http_req_sending"), (0, 10));
    let handshakes = phase(&outcome, "http_req_tls_handshaking");
    assert!((1..=2).contains(&handshakes.0), "{handshakes:?}");
    assert!(curl_succeeds(addr, &["--cacert", &ca]), "curl agrees");
    let expiry = value(
        &metrics,
        "sloprober_tls_earliest_cert_expiry_timestamp_seconds",
        &[("scenario", "private_ca"), ("server_name", "localhost")],
    );
    assert_eq!(expiry, pki.ca_expiry as f64, "the chain's earliest notAfter is the CA's (2030-03-01)");

    // The system store does not hold the test CA: every request fails the handshake, as curl's does.
    let yaml = run_yaml("no_ca", addr, "{}", "HTTP/2.0");
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert_eq!(failed(&metrics, "no_ca", "tls"), 10.0, "{:?}", outcome.snapshot.requests[0].stats.failed);
    assert!(!outcome.passed());
    assert!(!curl_succeeds(addr, &[]), "curl refuses it too");

    // A certificate for another name, from the trusted CA: refused (curl exits 60).
    let other = serve(&pki, Serve { names: &["other.test"], alpn: H2_OR_1, require_client_certificate: false });
    let yaml = run_yaml("wrong_name", other, &format!("{{ca_file: \"{ca}\"}}"), "HTTP/2.0");
    let (_, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert_eq!(failed(&metrics, "wrong_name", "tls"), 10.0);
    assert!(!curl_succeeds(other, &["--cacert", &ca]));

    // Verification off: answered, and the expiry still reported.
    let yaml = run_yaml("skip_verify", other, "{insecure_skip_verify: true}", "HTTP/2.0");
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(outcome.passed(), "{:?}", outcome.snapshot.requests[0].stats.failed);
    assert!(curl_succeeds(other, &["--insecure"]));
    let expiry = value(
        &metrics,
        "sloprober_tls_earliest_cert_expiry_timestamp_seconds",
        &[("scenario", "skip_verify"), ("server_name", "localhost")],
    );
    assert_eq!(expiry, pki.ca_expiry as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_1_is_spoken_when_the_server_offers_only_that() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(&pki, Serve { names: &["localhost"], alpn: &[b"http/1.1"], require_client_certificate: false });
    let ca = path(&pki.path("ca.pem"));
    let yaml = run_yaml("http11", addr, &format!("{{ca_file: \"{ca}\"}}"), "HTTP/1.1");
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(outcome.passed(), "{:?}", outcome.snapshot.requests[0].stats.failed);
    // The same exchange as plain http, over TLS: a handshake per new connection, none on reuse.
    let (handshakes, writes) = (phase(&outcome, "http_req_tls_handshaking"), phase(&outcome, "http_req_sending"));
    assert!((1..=2).contains(&handshakes.0), "{handshakes:?}: 2 VUs, 10 requests, at most 2 connections");
    assert_eq!(handshakes.1, 10, "{handshakes:?}");
    assert_eq!(writes.0, 10, "every HTTP/1.1 request takes a moment to write");
}

/// Of the phase `name` of the run's only scenario: (how many took time, how many in all).
fn phase(outcome: &sloprober::report::RunOutcome, name: &str) -> (u64, u64) {
    let view = outcome.snapshot.phases.iter().find(|p| p.phase.metric_name() == name).unwrap();
    (view.durations.count() - view.durations.count_within(0.0), view.durations.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_requires_a_client_certificate_gets_it_from_the_scenario() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(&pki, Serve { names: &["localhost"], alpn: H2_OR_1, require_client_certificate: true });
    let ca = path(&pki.path("ca.pem"));
    let (cert, key) = pki.client_files();
    let (cert, key) = (path(&cert), path(&key));

    let yaml = run_yaml("no_client_cert", addr, &format!("{{ca_file: \"{ca}\"}}"), "HTTP/2.0");
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert_eq!(stats.failed_total(), 10, "refused without a certificate: {:?}", stats.failed);
    // TLS 1.3: the server's refusal arrives after the client's side of the
    // handshake, at the first read (curl exits 56, a receive error, not 35);
    // over HTTP/2 it reaches the client only as a closed stream.
    let refused = failed(&metrics, "no_client_cert", "tls") + failed(&metrics, "no_client_cert", "reset");
    assert_eq!(refused, 10.0, "{:?}", stats.failed);
    assert!(!curl_succeeds(addr, &["--cacert", &ca]), "curl is refused too");

    // Per scenario: the scenario's block replaces the target's.
    let yaml = run_yaml("client_cert", addr, "{insecure_skip_verify: true}", "HTTP/2.0").replace(
        "    requests:",
        &format!("    tls: {{ca_file: \"{ca}\", cert_file: \"{cert}\", key_file: \"{key}\"}}\n    requests:"),
    );
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(outcome.passed(), "{:?}", outcome.snapshot.requests[0].stats.failed);
    assert!(curl_succeeds(addr, &["--cacert", &ca, "--cert", &cert, "--key", &key]), "curl agrees");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_store_is_read_from_ssl_cert_file() {
    let pki = Pki::new();
    let addr = serve(&pki, Serve { names: &["localhost"], alpn: H2_OR_1, require_client_certificate: false });
    let config = pki.path("run.yaml");
    std::fs::write(&config, run_yaml("system_store", addr, "{}", "HTTP/2.0")).unwrap();
    let run = |cert_file: Option<PathBuf>| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sloprober"));
            command.args(["run", "--profile", "test", "--config"]).arg(&config).env_remove("SSL_CERT_DIR");
            match cert_file {
                Some(file) => command.env("SSL_CERT_FILE", file),
                None => command.env_remove("SSL_CERT_FILE"),
            };
            let out = command.output().unwrap();
            (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
        })
    };
    let (code, stdout) = run(Some(pki.path("ca.pem"))).await.unwrap();
    assert_eq!(code, Some(0), "the CA in SSL_CERT_FILE is trusted:\n{stdout}");
    let (code, stdout) = run(None).await.unwrap();
    assert_eq!(code, Some(99), "without it the system store does not hold the test CA:\n{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_ca_certificate_served_as_its_own_is_trusted_as_curl_trusts_it() {
    // What `openssl req -x509` makes: self-signed, CA:TRUE, the server's name in it.
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(pki.path("self.pem"), cert.pem()).unwrap();
    let how = Serve { names: &[], alpn: H2_OR_1, require_client_certificate: false };
    let addr = serve_chain(&pki, vec![cert.der().clone()], key, how, None);
    let ca = path(&pki.path("self.pem"));
    assert!(curl_succeeds(addr, &["--cacert", &ca]), "curl trusts it");
    let yaml = run_yaml("self_signed", addr, &format!("{{ca_file: \"{ca}\"}}"), "HTTP/2.0");
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(outcome.passed(), "{:?}", outcome.snapshot.requests[0].stats.failed);

    // Its name is still checked: for another name it is refused, by both.
    let yaml = run_yaml(
        "self_signed_other_name",
        addr,
        &format!("{{ca_file: \"{ca}\", server_name: other.test}}"),
        "HTTP/2.0",
    );
    let (_, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert_eq!(failed(&metrics, "self_signed_other_name", "tls"), 10.0);
    let port = addr.port();
    let other = format!("https://other.test:{port}/");
    let resolve = format!("other.test:{port}:127.0.0.1");
    let curl_other = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "5", "--cacert", &ca, "--resolve", &resolve, &other])
        .status()
        .unwrap();
    assert!(!curl_other.success(), "curl refuses it for other.test too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_is_sent_and_verified_instead_of_the_address() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(&pki, Serve { names: &["probe.internal"], alpn: H2_OR_1, require_client_certificate: false });
    let ca = path(&pki.path("ca.pem"));
    let by_address = |scenario: &str, tls: &str| {
        run_yaml(scenario, addr, tls, "HTTP/2.0").replace("https://localhost:", "https://127.0.0.1:")
    };

    // The certificate is for probe.internal, not 127.0.0.1: refused, by both.
    let (_, metrics) =
        play(&run_options(dir.path(), &by_address("by_address", &format!("{{ca_file: \"{ca}\"}}")), &[])).await;
    assert_eq!(failed(&metrics, "by_address", "tls"), 10.0);
    let direct = format!("https://127.0.0.1:{}/", addr.port());
    let curl = |args: &[&str]| {
        std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "5"])
            .args(args)
            .status()
            .unwrap()
    };
    assert!(!curl(&["--cacert", &ca, &direct]).success());

    // With server_name it is asked for and verified as probe.internal, as curl --resolve does.
    let tls = format!("{{ca_file: \"{ca}\", server_name: probe.internal}}");
    let (outcome, metrics) = play(&run_options(dir.path(), &by_address("by_name", &tls), &[])).await;
    assert!(outcome.passed(), "{:?}", outcome.snapshot.requests[0].stats.failed);
    let expiry = value(
        &metrics,
        "sloprober_tls_earliest_cert_expiry_timestamp_seconds",
        &[("scenario", "by_name"), ("server_name", "probe.internal")],
    );
    assert_eq!(expiry, pki.ca_expiry as f64);
    let resolve = format!("probe.internal:{}:127.0.0.1", addr.port());
    let named = format!("https://probe.internal:{}/", addr.port());
    assert!(curl(&["--cacert", &ca, "--resolve", &resolve, &named]).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_session_shut_down_with_goaway_loses_no_request_and_repeats_none() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (cert, key) = pki.issue(&["localhost"], false);
    let chain = vec![cert.der().clone(), CertificateDer::from(pki.ca.der().to_vec())];
    let how = Serve { names: &[], alpn: H2_OR_1, require_client_certificate: false };
    let addr = serve_chain(&pki, chain, key, how, Some((3, served.clone())));
    let ca = path(&pki.path("ca.pem"));
    // POST: never sent twice unless the server says it did not process it.
    let yaml = run_yaml("goaway", addr, &format!("{{ca_file: \"{ca}\"}}"), "HTTP/2.0")
        .replace("path: /", "method: POST\n        path: /")
        .replace("vus: 2, iterations: 5", "vus: 4, iterations: 30");
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert_eq!((stats.count, stats.failed_total()), (120, 0), "{:?}", stats.failed);
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 120, "each request served once");
    eprintln!("goaway: {} of 120 sent again after a GOAWAY", stats.retries);
    assert!(outcome.passed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_says_why_a_handshake_failed() {
    let pki = Pki::new();
    let ca = path(&pki.path("ca.pem"));
    let other = serve(&pki, Serve { names: &["other.test"], alpn: H2_OR_1, require_client_certificate: false });
    for (scenario, tls, says) in [
        ("no_ca", "{}".to_string(), "TLS handshake: invalid peer certificate: UnknownIssuer"),
        (
            "wrong_name",
            format!("{{ca_file: \"{ca}\"}}"),
            "TLS handshake: invalid peer certificate: certificate not valid for name",
        ),
    ] {
        let daemon = start_daemon(&run_yaml(scenario, other, &tls, "HTTP/2.0"), "test").await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        let failure = loop {
            let doc: serde_json::Value =
                serde_json::from_str(&get(&format!("http://{}/status.json", daemon.addr)).await.1).unwrap();
            let failure = doc["scenarios"][0]["requests"][0]["recent_failures"][0].clone();
            if !failure.is_null() {
                break failure;
            }
            assert!(tokio::time::Instant::now() < deadline, "no failure listed: {doc}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        daemon.stop().await;
        assert_eq!((failure["reason"].as_str(), failure["status"].as_u64()), (Some("tls"), None), "{failure}");
        let error = failure["error"].as_str().unwrap_or_default();
        assert!(error.starts_with(says), "{scenario}: {error}");
    }
}
