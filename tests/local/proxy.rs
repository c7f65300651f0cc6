//! A target reached through a real HTTP proxy (Debian's tinyproxy on
//! 127.0.0.1), with curl's verdict beside sloprober's: requests are relayed
//! with the proxy's credentials, a wrong password is the proxy's 407, and the
//! credentials appear nowhere a person reads. https through a CONNECT tunnel
//! is in tests/tools/tls.rs; the tests that run tinyproxy in tests/tools/proxy.rs.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_proxy_in_the_config_the_environment_s_is_ignored() {
    // HTTP_PROXY names nothing that listens: a client that read it would fail every request.
    let (target, heads) = recording_server();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sloprober.yaml");
    std::fs::write(&config, proxied_config(target, "").replace("  proxy: \"\"\n", "")).unwrap();
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    // The real binary, so that the variables are its own and no other test of this process reads them.
    let output = tokio::task::spawn_blocking(move || {
        sloprober_binary()
            .args(["run", "--profile", "test", "--no-progress", "--config"])
            .arg(&config)
            .envs(["HTTP_PROXY", "http_proxy", "ALL_PROXY"].map(|name| (name, nowhere.as_str())))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(heads.lock().unwrap().len(), 10);
}
