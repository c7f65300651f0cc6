//! The tls tests that run a real tool.

use crate::common::tls::*;
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_goes_through_a_proxy_in_a_connect_tunnel_as_curl_does() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(&pki, Serve { names: &["localhost"], alpn: H2_OR_1, require_client_certificate: false });
    let ca = path(&pki.path("ca.pem"));
    let (_proxy, port) = start_tinyproxy(dir.path(), Some(("probe", "tunnel-pass"))).await;
    let proxy = format!("http://probe:tunnel-pass@127.0.0.1:{port}");
    let yaml = run_yaml("tunnelled", addr, &format!("{{ca_file: \"{ca}\"}}"), "HTTP/2.0")
        .replace("  tls:", &format!("  proxy: \"{proxy}\"\n  tls:"));
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(outcome.passed(), "{:?}", outcome.snapshot.requests[0].stats.failed);
    let log = std::fs::read_to_string(dir.path().join("tinyproxy.log")).unwrap();
    assert!(log.contains(&format!("CONNECT localhost:{}", addr.port())), "tunnelled through the proxy:\n{log}");
    assert!(curl_succeeds(addr, &["--cacert", &ca, "-x", &proxy]), "curl agrees");

    // Refused by the proxy (a wrong password): no tunnel, a connect failure, as curl fails to connect.
    let wrong = format!("http://probe:wrong@127.0.0.1:{port}");
    let yaml = run_yaml("refused", addr, &format!("{{ca_file: \"{ca}\"}}"), "HTTP/2.0")
        .replace("  tls:", &format!("  proxy: \"{wrong}\"\n  tls:"));
    let (_, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert_eq!(failed(&metrics, "refused", "connect"), 10.0);
    assert!(!curl_succeeds(addr, &["--cacert", &ca, "-x", &wrong]));
}
