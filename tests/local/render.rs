//! `sloprober render` output: the committed files are what the config renders,
//! every alert is documented, dashboards are well formed, SLO names are stable.
//! The real tools (promtool, amtool, @grafana/schema) check it in tests/tools/render.rs.

use crate::common::*;
use std::process::Command;

#[test]
fn committed_files_match_render_output() {
    let out = Command::new(env!("CARGO_BIN_EXE_sloprober"))
        .args(["render", "--check", "--config", "config/aivo.yaml", "--out", "."])
        .current_dir(repo_root())
        .env_remove("API_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the committed rules/dashboards drifted from the config; run `sloprober render --config config/aivo.yaml`:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_reports_drift() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sloprober"))
        .args(["render", "--check", "--config"])
        .arg(repo_root().join("config/aivo.yaml"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("prometheus/rules/sloprober.rules.yml"), "{stderr}");
    assert!(stderr.contains("grafana/dashboards/sloprober-slo.json"), "{stderr}");
}

#[test]
fn every_alert_has_its_labels_annotations_and_runbook_section() {
    let rules = std::fs::read_to_string(repo_root().join("prometheus/rules/sloprober.rules.yml")).unwrap();
    let runbooks = std::fs::read_to_string(repo_root().join("docs/runbooks.md")).unwrap();
    let alerts: Vec<&str> = rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")).collect();
    assert!(alerts.len() > 40, "burn-rate, fast and prober alerts: {}", alerts.len());
    for alert in alerts.iter().map(|a| a.trim_matches('"')) {
        assert!(runbooks.contains(&format!("\n## {alert}\n")), "docs/runbooks.md has no section for {alert}");
    }
    for block in rules.split("      - alert: ").skip(1) {
        for key in ["severity:", "summary:", "description:", "runbook_url:"] {
            assert!(block.contains(key), "an alert lacks {key}:\n{block}");
        }
        if block.starts_with("\"SLO") {
            assert!(block.contains("slo:") && block.contains("service:"), "SLO alerts carry slo and service:\n{block}");
        }
    }
    for window in ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"] {
        assert!(
            rules.contains(&format!("record: \"sloprober_slo:error_ratio:rate{window}\"")),
            "no {window} error ratio"
        );
    }
}

#[test]
fn dashboards_have_queries_variables_and_unique_ids() {
    for (name, variable) in
        [("sloprober-slo", "instance"), ("sloprober-load", "instance"), ("sloprober-trends", "profile")]
    {
        let path = repo_root().join(format!("grafana/dashboards/{name}.json"));
        let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(dashboard["uid"], name);
        let variables: Vec<&str> =
            dashboard["templating"]["list"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert!(variables.contains(&"datasource") && variables.contains(&variable), "{variables:?}");
        let panels = dashboard["panels"].as_array().unwrap();
        let mut ids: Vec<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), panels.len(), "panel ids are unique");
        for panel in panels {
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{} has no query", panel["title"]);
            assert!(targets.iter().all(|t| t["datasource"]["uid"] == "${datasource}"));
        }
    }
}

#[test]
fn reordering_thresholds_renames_no_slo() {
    let config = |thresholds: &str| {
        format!(
            "target: {{base_url: \"http://127.0.0.1:1\"}}\nmetrics: {{custom: {{errors: rate, t: trend}}}}\nscenarios:\n  a:\n    requests: [{{name: x, path: /, trend: t, rate: errors}}, {{name: y, path: /y, rate: errors}}]\n    profiles: {{p: {{executor: constant-vus, vus: 1, duration: 1s}}}}\n  b:\n    requests: [{{name: z, path: /, rate: errors}}]\n    profiles: {{p: {{executor: constant-vus, vus: 1, duration: 1s}}}}\nthresholds:\n{thresholds}"
        )
    };
    let names = |thresholds: &str| {
        let text: &'static str = Box::leak(config(thresholds).into_boxed_str());
        let source = sloprober::config::Loaded::new("test", text);
        let plan = sloprober::plan::resolve(&source, Some("p"), &Default::default()).unwrap();
        let mut slos: Vec<(String, String)> =
            plan.thresholds.iter().map(|t| (t.slo.clone(), t.expression.clone())).collect();
        slos.sort();
        slos
    };
    let one = names("  t: [\"p(95)<300\", \"p(95)<500\", \"p(99)<900\"]\n  errors: [\"rate<0.01\"]\n  \"http_req_duration{request:y}\": [\"p(90)<200\"]\n");
    let other = names("  \"http_req_duration{request:y}\": [\"p(90)<200\"]\n  errors: [\"rate<0.01\"]\n  t: [\"p(99)<900\", \"p(95)<500\", \"p(95)<300\"]\n");
    assert_eq!(one, other);
    let slos: Vec<&str> = one.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        slos,
        ["errors_a_rate", "errors_b_rate", "http_req_duration_y_p90", "t_p95_lt300", "t_p95_lt500", "t_p99"],
        "a clash adds the condition; a threshold fed by two scenarios is one SLO per scenario"
    );
}
