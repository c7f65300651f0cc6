//! A web config (TLS and basic auth) for the real binary, made in the test.
#![allow(dead_code)]

use super::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use std::path::Path;
use std::process::Command;

pub const PASSWORD: &str = "s3cret-scrape";

/// A CA, a server certificate for 127.0.0.1 signed by it, and a web config
/// naming them by relative paths; returns the CA's PEM file.
pub fn write_web_config(dir: &Path, users: &str) -> std::path::PathBuf {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("certs/server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("certs/server-key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(
        dir.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: certs/server.pem\n  key_file: certs/server-key.pem\nbasic_auth_users:\n{users}"
        ),
    )
    .unwrap();
    dir.join("ca.pem")
}

/// `$2y$` as htpasswd -B writes it (the exporter-toolkit docs' tool).
pub fn bcrypt_2y(password: &str) -> String {
    bcrypt::hash_with_result(password, 10).unwrap().format_for_version(bcrypt::Version::TwoY)
}

pub const CONFIG: &str = "target:\n  base_url: http://127.0.0.1:9\nscenarios:\n  idle:\n    requests: [{name: r, path: /}]\n    profiles:\n      continuous: {executor: constant-arrival-rate, rate: 1, duration: 1h, pre_allocated_vus: 1}\n";

pub fn start(dir: &Path, web_config: &Path) -> (Process, std::net::SocketAddr) {
    std::fs::write(dir.join("sloprober.yaml"), CONFIG).unwrap();
    spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_sloprober"))
            .args(["daemon", "--listen", "127.0.0.1:0", "--config"])
            .arg(dir.join("sloprober.yaml"))
            .arg("--web.config.file")
            .arg(web_config),
        &dir.join("daemon.log"),
        "listen",
    )
}
