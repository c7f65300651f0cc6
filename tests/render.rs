//! `sloprober render` output, checked by the real tools: promtool and amtool.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tool(name: &str) -> PathBuf {
    common::installed(&[name])
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{command:?} failed:\n{text}");
    text
}

#[test]
fn committed_files_match_render_output() {
    let out = Command::new(env!("CARGO_BIN_EXE_sloprober"))
        .args(["render", "--check", "--config", "config/aivo.yaml", "--out", "."])
        .current_dir(root())
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
        .arg(root().join("config/aivo.yaml"))
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
#[cfg_attr(not(feature = "external-tools"), ignore = "needs promtool: scripts/test.sh installs and runs it")]
fn rules_pass_promtool_check_and_their_unit_tests() {
    let checked = run(Command::new(tool("promtool"))
        .args(["check", "rules"])
        .arg(root().join("prometheus/rules/sloprober.rules.yml")));
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = run(Command::new(tool("promtool"))
        .args(["test", "rules", "sloprober.test.yml"])
        .current_dir(root().join("prometheus/tests")));
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
#[cfg_attr(not(feature = "external-tools"), ignore = "needs promtool and amtool: scripts/test.sh installs and runs it")]
fn example_prometheus_and_alertmanager_configs_are_valid() {
    run(Command::new(tool("promtool")).args(["check", "config"]).arg(root().join("prometheus/prometheus.yml")));
    let amtool =
        run(Command::new(tool("amtool")).args(["check-config"]).arg(root().join("prometheus/alertmanager.yml")));
    assert!(amtool.contains("SUCCESS"), "{amtool}");
}

#[test]
fn every_alert_has_its_labels_annotations_and_runbook_section() {
    let rules = std::fs::read_to_string(root().join("prometheus/rules/sloprober.rules.yml")).unwrap();
    let runbooks = std::fs::read_to_string(root().join("docs/runbooks.md")).unwrap();
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
        let path = root().join(format!("grafana/dashboards/{name}.json"));
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
#[cfg_attr(
    not(feature = "external-tools"),
    ignore = "needs npm packages @grafana/schema and typescript: scripts/test.sh installs and runs it"
)]
fn dashboards_type_check_against_grafana_schema() {
    let script = root().join("scripts/check-dashboards.sh");
    let ok = run(Command::new("bash").arg(&script));
    assert!(ok.contains("dashboards match @grafana/schema"), "{ok}");

    let mut broken: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("grafana/dashboards/sloprober-load.json")).unwrap())
            .unwrap();
    broken["panels"][0]["titel"] = "a typo".into();
    broken["panels"][1]["gridPos"]["x"] = "0".into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, broken.to_string()).unwrap();
    let out = Command::new("bash").arg(&script).arg(&path).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unknown field and a mistyped one must fail");
    assert!(report.contains("'\"titel\"' does not exist"), "{report}");
    assert!(report.contains("Type 'string' is not assignable to type 'number'"), "{report}");
}

#[test]
#[cfg_attr(not(feature = "external-tools"), ignore = "needs amtool: scripts/test.sh installs and runs it")]
fn every_slo_page_reaches_its_services_on_call() {
    let rules = std::fs::read_to_string(root().join("prometheus/rules/sloprober.rules.yml")).unwrap();
    let mut services: Vec<&str> =
        rules.lines().filter_map(|l| l.trim().strip_prefix("service: \"")).map(|s| s.trim_end_matches('"')).collect();
    services.sort();
    services.dedup();
    assert_eq!(services, ["assessment", "gateway", "search"], "every SLO is owned by a service, never \"all\"");
    for service in services {
        let receiver = run(Command::new(tool("amtool"))
            .args(["config", "routes", "test", "--config.file"])
            .arg(root().join("prometheus/alertmanager.yml"))
            .args([format!("service={service}"), "severity=page".into(), "slo=x".into()]));
        assert_eq!(receiver.lines().next(), Some(format!("{service}-on-call").as_str()), "{receiver}");
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
        let source = sloprober::config::ConfigSource::Embedded { name: "test", text };
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
