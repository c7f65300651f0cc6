//! `sloprober render` output checked by the real tools: promtool (rules and
//! their unit tests), amtool (routes), @grafana/schema (dashboards).

use crate::common::*;
use std::process::Command;

/// Renders `fixture` (tests/fixtures/rules/) into a temp dir; promtool checks
/// its rules and runs the unit tests rendered with them.
fn promtool_passes_the_rules_rendered_from(fixture: &str) {
    let promtool = installed(&["promtool"]);
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        sloprober_binary()
            .args(["render", "--config"])
            .arg(repo_root().join("tests/fixtures/rules").join(fixture))
            .arg("--out")
            .arg(dir.path()),
    );
    let checked = run_ok(
        Command::new(&promtool).args(["check", "rules"]).arg(dir.path().join("prometheus/rules/sloprober.rules.yml")),
    );
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = run_ok(
        Command::new(&promtool)
            .args(["test", "rules", "sloprober.test.yml"])
            .current_dir(dir.path().join("prometheus/tests")),
    );
    assert!(tested.contains("SUCCESS"), "{fixture}: {tested}");
}

// The rule generator, proven on one small config per kind of SLO. The
// committed aivo rules (16 SLOs) come from the same generator and are pinned
// by the render drift test; promtool checks their syntax below.

#[test]
fn promtool_passes_a_latency_slo_on_http_req_duration() {
    promtool_passes_the_rules_rendered_from("latency.yaml");
}

#[test]
fn promtool_passes_a_custom_trends_median_and_its_average_alert() {
    promtool_passes_the_rules_rendered_from("custom-trend.yaml");
}

#[test]
fn promtool_passes_error_slos_on_http_req_failed_and_a_custom_rate() {
    promtool_passes_the_rules_rendered_from("failures.yaml");
}

#[test]
fn promtool_passes_a_checks_slo_split_per_scenario() {
    promtool_passes_the_rules_rendered_from("checks.yaml");
}

#[test]
fn promtool_passes_group_and_iteration_duration_slos() {
    promtool_passes_the_rules_rendered_from("journey.yaml");
}

#[test]
fn the_committed_rules_pass_promtool_check() {
    let checked = run_ok(
        Command::new(installed(&["promtool"]))
            .args(["check", "rules"])
            .arg(repo_root().join("prometheus/rules/sloprober.rules.yml")),
    );
    assert!(checked.contains("SUCCESS"), "{checked}");
}

#[test]
fn example_prometheus_and_alertmanager_configs_are_valid() {
    run_ok(
        Command::new(installed(&["promtool"]))
            .args(["check", "config"])
            .arg(repo_root().join("prometheus/prometheus.yml")),
    );
    let amtool = run_ok(
        Command::new(installed(&["amtool"]))
            .args(["check-config"])
            .arg(repo_root().join("prometheus/alertmanager.yml")),
    );
    assert!(amtool.contains("SUCCESS"), "{amtool}");
}

#[test]
fn dashboards_type_check_against_grafana_schema() {
    let script = repo_root().join("scripts/check-dashboards.sh");
    let ok = run_ok(Command::new("bash").arg(&script));
    assert!(ok.contains("dashboards match @grafana/schema"), "{ok}");

    let mut broken: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("grafana/dashboards/sloprober-load.json")).unwrap(),
    )
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
fn every_slo_page_reaches_its_services_on_call() {
    let rules = std::fs::read_to_string(repo_root().join("prometheus/rules/sloprober.rules.yml")).unwrap();
    let mut services: Vec<&str> =
        rules.lines().filter_map(|l| l.trim().strip_prefix("service: \"")).map(|s| s.trim_end_matches('"')).collect();
    services.sort();
    services.dedup();
    assert_eq!(services, ["assessment", "gateway", "search"], "every SLO is owned by a service, never \"all\"");
    for service in services {
        let receiver = run_ok(
            Command::new(installed(&["amtool"]))
                .args(["config", "routes", "test", "--config.file"])
                .arg(repo_root().join("prometheus/alertmanager.yml"))
                .args([format!("service={service}"), "severity=page".into(), "slo=x".into()]),
        );
        assert_eq!(receiver.lines().next(), Some(format!("{service}-on-call").as_str()), "{receiver}");
    }
}
