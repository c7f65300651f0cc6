//! The daemon tests that run a real tool.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_lint() {
    let promtool = installed(&["promtool"]);
    let target = start_target(r#"{"generate": {"error_rate": 0.2}}"#).await;
    let url = target.url();
    let yaml = config(
        &[("gateway", &url, &format!("{GENERATE}{EMBEDDINGS}"))],
        50,
        "thresholds:\n  generate_duration: [\"p(95)<=300\"]\n  errors: [\"rate<0.01\"]\n",
    );
    let (daemon, live) = run_for(&yaml, 1.0).await;
    daemon.stop().await;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(live.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics:\n{report}");
}
