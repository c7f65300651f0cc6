//! The proxy tests that run a real tool.

use crate::common::*;

const PASSWORD: &str = "pr0xy-s3cret";

/// curl's status code for `url` through `proxy`.
fn curl_status(proxy: &str, url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "-x", proxy, url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_through_the_proxy_with_its_credentials_and_never_show_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_proxy, port) = start_tinyproxy(dir.path(), Some(("probe", PASSWORD))).await;
    let (target, heads) = recording_server();
    let url = format!("http://{target}/hello");

    let right = format!("http://probe:{PASSWORD}@127.0.0.1:{port}");
    let (outcome, metrics) = play(&run_options(dir.path(), &proxied_config(target, &right), &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert_eq!((stats.count, stats.failed_total()), (10, 0), "{:?} {:?}", stats.failed, stats.statuses);
    assert_eq!(heads.lock().unwrap().len(), 10, "every request reached the target");
    let log = std::fs::read_to_string(dir.path().join("tinyproxy.log")).unwrap();
    let relayed = log.matches(&format!("GET {url} HTTP/1.1")).count();
    assert_eq!(relayed, 10, "each went through the proxy:\n{log}");
    assert_eq!(curl_status(&right, &url), "200", "curl agrees");

    // A wrong password: the proxy refuses it itself (tinyproxy with a 401, others with a 407), the same to both.
    let wrong = format!("http://probe:wrong@127.0.0.1:{port}");
    let reached = heads.lock().unwrap().len();
    let (outcome, _) = play(&run_options(dir.path(), &proxied_config(target, &wrong), &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    let by_curl: u16 = curl_status(&wrong, &url).parse().unwrap();
    assert!([401, 407].contains(&by_curl), "curl: {by_curl}");
    assert_eq!(stats.statuses.iter().collect::<Vec<_>>(), [(&by_curl, &10)], "as curl saw it");
    assert_eq!(stats.failed_by(sloprober::model::sample::FailReason::Status), 10);
    assert_eq!(heads.lock().unwrap().len(), reached, "nothing more reached the target");

    // The password, plain or encoded, is nowhere a person reads.
    let encoded = "cHJvYmU6cHIweHktczNjcmV0"; // probe:pr0xy-s3cret
    let summary = sloprober::report::render_summary(&outcome);
    let config = dir.path().join("check.yaml");
    std::fs::write(&config, proxied_config(target, &right)).unwrap();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_sloprober"))
        .args(["check", "--profile", "test", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let shown = format!("{}{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
    assert!(check.status.success(), "{shown}");
    for (what, text) in [("/metrics", &metrics), ("summary", &summary), ("sloprober check", &shown)] {
        assert!(!text.contains(PASSWORD) && !text.contains(encoded), "{what} shows the proxy's password:\n{text}");
    }
}
