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
fn check_reports_drift_file_by_file_and_an_out_dir_without_any_rendered_file() {
    let check = |out: &std::path::Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_sloprober"))
            .args(["render", "--check", "--config"])
            .arg(repo_root().join("config/aivo.yaml"))
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stderr).to_string())
    };
    // Run outside the repository: nothing there, and it says so instead of "differs".
    let empty = tempfile::tempdir().unwrap();
    let (code, stderr) = check(empty.path());
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no rendered file is under"), "{stderr}");
    assert!(!stderr.contains("differs"), "{stderr}");

    // Rendered, then one file changed and one removed: each named with what is wrong.
    let out = tempfile::tempdir().unwrap();
    let written = Command::new(env!("CARGO_BIN_EXE_sloprober"))
        .args(["render", "--config"])
        .arg(repo_root().join("config/aivo.yaml"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(written.status.success());
    assert_eq!(check(out.path()).0, Some(0), "what render wrote is up to date");
    std::fs::write(out.path().join("prometheus/rules/sloprober.rules.yml"), "groups: []\n").unwrap();
    std::fs::remove_file(out.path().join("grafana/dashboards/sloprober-slo.json")).unwrap();
    let (code, stderr) = check(out.path());
    assert_eq!(code, Some(1));
    assert!(stderr.contains("prometheus/rules/sloprober.rules.yml (differs)"), "{stderr}");
    assert!(stderr.contains("grafana/dashboards/sloprober-slo.json (missing)"), "{stderr}");
    assert!(!stderr.contains("prometheus/tests/sloprober.test.yml"), "only what drifted: {stderr}");
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
        let ids: std::collections::BTreeSet<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
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

/// The metric names a PromQL expression reads: identifiers outside label
/// matchers, label lists, ranges and strings, that are not functions or keywords.
fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: &[&str] =
        &["and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right", "offset"];
    let mut names = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut depth = 0; // inside {} or []
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            }
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            // A number, 1e-9 included: never a name.
            c if c.is_ascii_digit() => {
                while i + 1 < chars.len() && (chars[i + 1].is_ascii_alphanumeric() || chars[i + 1] == '.') {
                    i += 1;
                }
            }
            c if depth == 0 && (c.is_ascii_alphabetic() || c == '_' || c == ':') => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let rest: String = chars[i..].iter().collect::<String>();
                let next = rest.trim_start().chars().next();
                let after_dollar = start > 0 && chars[start - 1] == '$';
                // `sum by (scenario) (...)`: an aggregation, named before its grouping.
                let next_word: String = rest.trim_start().chars().take_while(|c| c.is_ascii_alphabetic()).collect();
                let aggregation = ["by", "without"].contains(&next_word.as_str());
                if aggregation {
                    continue;
                }
                if KEYWORDS.contains(&word.as_str()) && next == Some('(') {
                    // A label list: by (a, b), on (), group_left ().
                    let close = rest.find(')').unwrap_or(0);
                    i += close + 1;
                } else if next != Some('(') && !KEYWORDS.contains(&word.as_str()) && !after_dollar {
                    names.push(word);
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    names
}

#[test]
fn promql_names_are_read_as_prometheus_reads_them() {
    let expr = "sum by (scenario, le) (rate(a_bucket{x=\"y{z\", le=\"0.3\"}[5m])) / on () group_left () (1 - max(b:c:d{slo=~\"$slo\"})) > bool 1e-9 and absent(up{job=\"j\"} == 1)";
    assert_eq!(metric_names(expr), ["a_bucket", "b:c:d", "up"]);
    assert_eq!(metric_names("label_values(sloprober_vus, scenario)"), ["sloprober_vus", "scenario"]);
}

/// Every query of the committed rules and dashboards, and the names each reads.
fn rendered_queries() -> Vec<(String, String)> {
    let rules = std::fs::read_to_string(repo_root().join("prometheus/rules/sloprober.rules.yml")).unwrap();
    let rules: serde_json::Value = config::Config::builder()
        .add_source(config::File::from_str(&rules, config::FileFormat::Yaml))
        .build()
        .unwrap()
        .try_deserialize()
        .unwrap();
    let mut queries = Vec::new();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule.get("record").or(rule.get("alert")).and_then(|n| n.as_str()).unwrap();
            queries.push((format!("rule {name}"), rule["expr"].as_str().unwrap().to_string()));
        }
    }
    for name in ["sloprober-slo", "sloprober-load", "sloprober-trends"] {
        let path = repo_root().join(format!("grafana/dashboards/{name}.json"));
        let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let title = format!("{name}: {}", panel["title"].as_str().unwrap_or_default());
                queries.push((title, target["expr"].as_str().unwrap().to_string()));
            }
        }
        for variable in dashboard["templating"]["list"].as_array().into_iter().flatten() {
            if let Some(query) = variable["query"].as_str().or(variable["query"]["query"].as_str()) {
                // label_values(metric, label): the metric only.
                let metric = query.trim_start_matches("label_values(").split([',', '{']).next().unwrap_or_default();
                if query.starts_with("label_values(") {
                    queries.push((format!("{name}: variable {}", variable["name"]), metric.to_string()));
                }
            }
        }
    }
    queries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_rendered_rules_and_dashboards_query_is_on_a_fresh_daemons_metrics() {
    // The demo config, plus an https scenario with a setup, so that the TLS expiry and setup families have series.
    let pki = crate::common::tls::Pki::new();
    let tls_server = crate::common::tls::serve(
        &pki,
        crate::common::tls::Serve { names: &["localhost"], alpn: &[b"http/1.1"], require_client_certificate: false },
    );
    let ca = pki.path("ca.pem").display().to_string();
    let probe = format!(
        "  tls_probe:\n    base_url: https://localhost:{}\n    tls: {{ca_file: \"{ca}\"}}\n    setup: {{steps: [{{name: warm, path: /}}]}}\n    requests: [{{name: tls, path: /}}]\n    profiles:\n      continuous: {{executor: constant-arrival-rate, rate: 5, duration: 1h, pre_allocated_vus: 1}}\n",
        tls_server.port()
    );
    let aivo = std::fs::read_to_string(repo_root().join("config/aivo.yaml")).unwrap();
    let yaml = aivo.replacen("\nscenarios:\n", &format!("\nscenarios:\n{probe}"), 1);
    let target = start_target("{}").await;
    let daemon = start_daemon_with_env(&yaml, "continuous", &[("BASE_URL", &target.url())]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let metrics = loop {
        let text = daemon.scrape().await;
        // Once a TLS handshake and the first live SLO evaluation have happened.
        let settled = ["sloprober_tls_earliest_cert_expiry_timestamp_seconds{", "sloprober_slo_compliant{"]
            .iter()
            .all(|series| text.contains(series));
        if settled || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    daemon.stop().await;
    let families: std::collections::BTreeMap<&str, &str> =
        metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split_once(' ')).collect();
    let exported = |name: &str| {
        families.contains_key(name)
            || ["_bucket", "_count", "_sum"]
                .iter()
                .any(|suffix| name.strip_suffix(suffix).is_some_and(|base| families.get(base) == Some(&"histogram")))
    };
    let queries = rendered_queries();
    let recorded: Vec<&str> =
        queries.iter().filter_map(|(q, _)| q.strip_prefix("rule ")).filter(|n| n.contains(':')).collect();
    let mut missing = Vec::new();
    for (query, expr) in &queries {
        for name in metric_names(expr) {
            let known =
                if name.contains(':') { recorded.contains(&name.as_str()) } else { name == "up" || exported(&name) };
            if !known {
                missing.push(format!("{query}: {name}"));
            }
        }
    }
    assert!(queries.len() > 300, "the rules and dashboards were read: {} queries", queries.len());
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "queried, but not on a fresh daemon's /metrics nor recorded:\n{}", missing.join("\n"));
}
