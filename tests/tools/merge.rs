//! The merge tests that run a real tool.

use crate::common::merge::*;
use crate::common::*;
use std::path::Path;
use std::process::Command;

fn validate_junit(file: &Path) {
    let xmllint = installed(&["xmllint"]);
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas/junit.xsd");
    let output = Command::new(xmllint).arg("--noout").arg("--schema").arg(schema).arg(file).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_speaks_junit_and_github_actions() {
    let target = start_target(r#"{"embeddings": {"error_rate": 0.5}}"#).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sloprober.yaml");
    // `missing` is always a 404: its expected answers have no data, a skipped test case.
    let missing = "      - {name: missing, path: /nothing-here, checks: [{status: 200}]}\n";
    let thresholds = "  http_req_failed: [\"rate<0.01\"]\n  http_req_duration: [\"p(95)<2000\"]\n  \"http_req_duration{request:missing,expected_response:true}\": [\"p(95)<1\"]\n";
    std::fs::write(&config, config_with(&target.url(), missing, thresholds)).unwrap();
    let junit = dir.path().join("reports/junit.xml");
    let step_summary = dir.path().join("step-summary.md");
    std::fs::write(&step_summary, "earlier step\n").unwrap();
    let output = tokio::task::spawn_blocking({
        let (config, junit, step_summary) = (config.clone(), junit.clone(), step_summary.clone());
        move || {
            sloprober_binary()
                .args(["run", "--profile", "test", "--no-progress", "--config"])
                .arg(&config)
                .arg("--junit")
                .arg(&junit)
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_STEP_SUMMARY", &step_summary)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(code(&output), 99, "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::error")).collect();
    assert_eq!(errors.len(), 1, "one annotation per failed threshold: {errors:?}");
    assert!(
        errors[0].starts_with("::error title=SLO http_req_failed_rate failed::http_req_failed rate<0.01: observed 0."),
        "{}",
        errors[0]
    );

    let summary = std::fs::read_to_string(&step_summary).unwrap();
    assert!(summary.starts_with("earlier step\n## sloprober test test ❌ failed"), "appended, not replaced: {summary}");

    validate_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), "{xml}");
    assert!(xml.contains("<failure message=\"observed "), "{xml}");
    assert!(xml.contains("threshold http_req_failed rate&lt;0.01\" type=\"threshold\">"), "{xml}");
    assert!(!xml.contains(API_KEY) && !summary.contains(API_KEY) && !stdout.contains(API_KEY));

    // Outside GitHub Actions there are no workflow commands.
    let quiet = tokio::task::spawn_blocking(move || {
        sloprober_binary()
            .args(["run", "--profile", "test", "--no-progress", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&quiet), 99);
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains("::error"));
}
