//! `--web.config.file` on the real binary: /metrics over TLS behind basic
//! auth (bcrypt), as Prometheus' exporters serve it; a real Prometheus
//! scrapes it with the right password and fails with a wrong one; a bad
//! web config is refused at start, naming the key.

use crate::common::web_config::*;
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_over_tls_to_the_right_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_web_config(dir.path(), &format!("  Prometheus: {}\n", bcrypt_2y(PASSWORD)));
    let (_daemon, addr) = start(dir.path(), &dir.path().join("web.yml"));
    let pem = std::fs::read(&ca).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}", addr.port());
    let status = |user: Option<(&'static str, &'static str)>, path: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let mut request = client.get(format!("{url}{path}"));
            if let Some((user, password)) = user {
                request = request.basic_auth(user, Some(password));
            }
            let response = request.send().await.unwrap();
            let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
            (response.status().as_u16(), challenge, response.text().await.unwrap())
        }
    };
    let (code, challenge, _) = status(None, "/metrics").await;
    assert_eq!((code, challenge.as_deref()), (401, Some("Basic realm=\"sloprober\"")));
    assert_eq!(status(Some(("Prometheus", "wrong")), "/metrics").await.0, 401);
    assert_eq!(status(Some(("nobody", PASSWORD)), "/metrics").await.0, 401);
    assert_eq!(status(Some(("prometheus", PASSWORD)), "/metrics").await.0, 401, "user names are case-sensitive");
    let (code, _, body) = status(Some(("Prometheus", PASSWORD)), "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("sloprober_build_info"), "{body}");
    // Twice: the second is answered from the remembered check.
    assert_eq!(status(Some(("Prometheus", PASSWORD)), "/metrics").await.0, 200);
    assert_eq!(status(None, "/health").await.0, 200, "probes need no password");
    assert!(reqwest::get(format!("http://127.0.0.1:{}/metrics", addr.port())).await.is_err(), "no plain http");
}

#[test]
fn a_bad_web_config_stops_the_start_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sloprober.yaml"), CONFIG).unwrap();
    let cases = [
        ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice: not a bcrypt hash"),
        ("tls_server_config:\n  cert_file: missing.pem\n  key_file: missing-key.pem\n", "tls_server_config.cert_file"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n", "cipher_suites"),
    ];
    for (text, expected) in cases {
        std::fs::write(dir.path().join("web.yml"), text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_sloprober"))
            .args(["daemon", "--listen", "127.0.0.1:0", "--config"])
            .arg(dir.path().join("sloprober.yaml"))
            .arg("--web.config.file")
            .arg(dir.path().join("web.yml"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{text}: {stderr}");
        assert!(stderr.contains(expected) && stderr.contains("web.yml"), "{text}: {stderr}");
    }
}

/// `/metrics` as a client trusting `ca` sees it with `user`'s password: the
/// status, or the error (a certificate it does not trust). A fresh
/// connection each time, so each sees the server's current certificate.
async fn scrape_as(addr: std::net::SocketAddr, ca: &[u8], user: &str, password: &str) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca).unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/metrics", addr.port());
    match client.get(url).basic_auth(user, Some(password)).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_and_new_users_apply_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_web_config(dir.path(), &format!("  Prometheus: {}\n", bcrypt_2y(PASSWORD)));
    let (_daemon, addr) = start(dir.path(), &dir.path().join("web.yml"));
    let old_ca = std::fs::read(&ca).unwrap();
    assert_eq!(scrape_as(addr, &old_ca, "Prometheus", PASSWORD).await, Ok(200));

    // cert-manager rotates the certificate (a new CA here) and the users change.
    let new_ca =
        std::fs::read(write_web_config(dir.path(), &format!("  scraper: {}\n", bcrypt_2y("n3w-pass")))).unwrap();
    assert_eq!(scrape_as(addr, &new_ca, "scraper", "n3w-pass").await, Ok(200), "the new certificate and user");
    assert_eq!(scrape_as(addr, &new_ca, "Prometheus", PASSWORD).await, Ok(401), "the old user is gone");
    let old = scrape_as(addr, &old_ca, "scraper", "n3w-pass").await;
    assert!(old.as_ref().is_err_and(|e| e.contains("Certificate")), "the old CA no longer verifies it: {old:?}");

    // A change that does not load (a key cut short mid-write) keeps the last good config.
    std::fs::write(dir.path().join("certs/server-key.pem"), "-----BEGIN PRIVATE KEY-----\n").unwrap();
    assert_eq!(scrape_as(addr, &new_ca, "scraper", "n3w-pass").await, Ok(200), "served as before");
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("web config read again"), "{log}");
    assert!(log.contains("web config changed but does not load; serving with the last good one"), "{log}");
    assert!(!log.contains("n3w-pass") && !log.contains(PASSWORD), "{log}");
}
