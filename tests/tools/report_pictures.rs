//! The run report's pictures, drawn by the real libraries people read them
//! with: the Markdown report's Mermaid charts rendered by Mermaid in
//! headless Chromium (as GitHub renders a pull-request comment).

use crate::common::*;
use std::process::Command;

fn report_config(url: &str) -> String {
    format!(
        r#"target:
  base_url: {url}
  headers: {{Authorization: "Bearer ${{API_KEY}}"}}
scenarios:
  gateway:
    requests:
      - {{name: embeddings, method: POST, path: /api/v1/embeddings, json: {{input: x}}, checks: [{{status: 200}}]}}
      - {{name: health, path: /health}}
    profiles:
      test: {{executor: constant-arrival-rate, rate: 40, duration: 4s, pre_allocated_vus: 5, max_vus: 20}}
thresholds:
  "http_req_duration{{request:embeddings}}": ["p(95)<300"]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_markdown_reports_latency_charts_render_in_mermaid() {
    // Headless Chromium takes both cores: not beside the tests that time latency.
    let _serial = serial().await;
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = play(&run_options(dir.path(), &report_config(&target.url()), &[])).await;
    sloprober::report::write_reports(&outcome, &dir.path().join("out")).unwrap();
    let markdown = dir.path().join("out/load-test-report.md");
    let text = std::fs::read_to_string(&markdown).unwrap();
    assert!(text.contains("### Latency over the run"), "{text}");
    assert!(
        text.contains("    line [300.0, 300.0, 300.0, 300.0"),
        "the threshold drawn flat at 300 ms, a point a second:\n{text}"
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/check-mermaid.mjs");
    let output = Command::new("node").arg(script).arg(&markdown).output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains("\"gateway/embeddings: p95 latency (ms) over the run\", 2 line(s)"),
        "p95 and threshold: {report}"
    );
    assert!(report.contains("\"gateway/health: p95 latency (ms) over the run\", 1 line(s)"), "p95 only: {report}");
    assert!(report.contains("mermaid ok: 2 chart(s)"), "{report}");

    // A chart Mermaid cannot parse fails the check.
    std::fs::write(&markdown, text.replace("xychart-beta", "xychart-beta x-axis")).unwrap();
    let broken = Command::new("node").arg(script).arg(&markdown).output().unwrap();
    assert!(!broken.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_draws_the_run_offline_and_agrees_with_the_json_reports() {
    // Headless Chromium takes both cores: not beside the tests that time latency.
    let _serial = serial().await;
    // One request in five fails: a failing SLO, failures by reason, failed checks.
    let target = start_target(r#"{"embeddings": {"error_rate": 0.2}}"#).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = report_config(&target.url()) + "  http_req_failed: [\"rate<0.05\"]\n";
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    let out = dir.path().join("out");
    sloprober::report::write_reports(&outcome, &out).unwrap();
    let page = out.join("load-test-report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains(API_KEY), "the API key is nowhere in the page");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no external asset is referenced");

    let screenshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots/run-report.png");
    let seen = open_in_chromium(&format!("file://{}", page.display()), &screenshot);
    assert_drawn_offline(
        &seen,
        &[
            "gateway: VUs",
            "gateway: requests per second",
            "gateway/embeddings: latency (ms)",
            "gateway/health: latency (ms)",
            "gateway: failed requests per second by reason",
            "gateway: failed checks and dropped iterations per second",
        ],
    );
    // The page's verdicts are the run's, as its JSON SLO report gives them.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("gateway-slo-report.json")).unwrap()).unwrap();
    let json_verdicts = slo_verdicts(&report["slos"]);
    let page_verdicts = slo_verdicts(&seen["slos"]);
    assert_eq!(page_verdicts, json_verdicts);
    assert!(page_verdicts.iter().any(|(_, passed)| !passed) && page_verdicts.iter().any(|(_, passed)| *passed));
    let text = seen["text"].as_str().unwrap();
    assert!(text.contains("sloprober test test failed") && text.contains("status"), "{text}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000, "a screenshot for a person to look at");
}
