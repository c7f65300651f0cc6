//! End to end with the real tools: demo target, daemon, Prometheus (1 s scrape
//! and evaluation, the generated rules) and Alertmanager on 127.0.0.1.
//! Healthy: no SLO alert. Latency injected into one endpoint: the fast alert
//! for exactly that SLO reaches Alertmanager. Fault removed: it resolves.
//! Then every dashboard query returns data from that Prometheus.

use crate::common::*;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

async fn json(url: &str) -> Value {
    let response = reqwest::get(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// SLOs with an active SLOThresholdBreached alert in Alertmanager.
async fn breached_in_alertmanager(alertmanager: &str) -> Vec<String> {
    let alerts = json(&format!("{alertmanager}/api/v2/alerts?active=true")).await;
    let mut slos: Vec<String> = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "SLOThresholdBreached")
        .map(|a| a["labels"]["slo"].as_str().unwrap_or("").to_string())
        .collect();
    slos.sort();
    slos
}

async fn until(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_alertmanager_and_resolve_and_dashboards_have_data() {
    let alertmanager_bin = installed(&["prometheus-alertmanager", "alertmanager"]);
    let dir = tempfile::tempdir().unwrap();
    let target = start_target("{}").await;
    let url = target.url();
    let embeddings =
        EMBEDDINGS.replace("        rate: errors\n", "        rate: errors\n        trend: embeddings_duration\n");
    // A journey scenario too, so the journey panels have data.
    let journey = format!(
        r#"  assessment:
    base_url: {url}
    journeys:
      take:
        steps:
          - {{name: create, method: POST, path: /api/v1/assessments, json: {{title: q}}, capture: {{id: {{json_path: $.id}}}}}}
          - group: record answers
            repeat: 2
            steps:
              - {{name: answer, method: POST, path: "/api/v1/assessments/{{{{ id }}}}/answers", json: {{learner_id: l, question_id: q}}}}
          - {{name: delete, method: DELETE, path: "/api/v1/assessments/{{{{ id }}}}", always: true}}
    profiles:
      test: {{executor: constant-arrival-rate, rate: 2, duration: 1h, pre_allocated_vus: 5, max_vus: 20}}
"#
    );
    let extra = format!("{journey}thresholds:\n  generate_duration: [\"p(95)<=300\"]\n  embeddings_duration: [\"p(95)<=200\"]\n  errors: [\"rate<0.05\"]\nalerts: {{fast_window: 10s, fast_for: 0s, job: sloprober-e2e}}\n");
    let yaml = config(&[("gateway", &url, &format!("{GENERATE}{embeddings}"))], 20, &extra).replace(
        "custom: {errors: rate, generate_duration: trend}",
        "custom: {errors: rate, generate_duration: trend, embeddings_duration: trend}",
    );
    let daemon = start_daemon(&yaml, "test").await;

    // The rules, rendered from the very config the daemon runs.
    let plan = sloprober::plan::resolve(
        &sloprober::config::ConfigSource::File(daemon.config.clone()).load().unwrap(),
        Some("test"),
        &[("API_KEY".to_string(), API_KEY.to_string())].into(),
    )
    .unwrap();
    sloprober::render::write(&plan, &yaml, dir.path()).unwrap();
    let rules = dir.path().join("prometheus/rules/sloprober.rules.yml");

    let am_port = free_port();
    let alertmanager = format!("http://127.0.0.1:{am_port}");
    std::fs::write(
        dir.path().join("alertmanager.yml"),
        "route: {receiver: quiet, group_wait: 1s, group_interval: 1s, repeat_interval: 1h}\nreceivers: [{name: quiet}]\n",
    )
    .unwrap();
    let d = dir.path().display();
    let _alertmanager = spawn_logged(
        alertmanager_bin,
        &[
            format!("--config.file={d}/alertmanager.yml"),
            format!("--storage.path={d}/am-data"),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".into(),
        ],
        &dir.path().join("alertmanager.log"),
    );
    let (_prometheus, prometheus) = start_prometheus(
        dir.path(),
        &format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [{}]\nalerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]}}\nscrape_configs: [{{job_name: sloprober-e2e, static_configs: [{{targets: ['{}']}}]}}]\n",
            rules.display(),
            daemon.addr
        ),
        &["--rules.alert.resend-delay=1s"],
    )
    .await;
    wait_ready(&format!("{alertmanager}/-/ready")).await;

    // Healthy: scraped, rules evaluated, no SLO alert.
    until("the first scrapes and rule evaluations", Duration::from_secs(30), async || {
        let q = json(&format!("{prometheus}/api/v1/query?query=sloprober_slo%3Aerror_ratio%3Arate5m")).await;
        q["data"]["result"].as_array().is_some_and(|r| r.len() >= 2)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(breached_in_alertmanager(&alertmanager).await, Vec::<String>::new(), "healthy: no SLO alert");

    // Latency on one endpoint: exactly its SLO alerts.
    let faults = format!("{url}/admin/faults");
    let client = reqwest::Client::new();
    client.post(&faults).body(r#"{"generate": {"delay_ms": 450}}"#).send().await.unwrap();
    until("the generate alert in Alertmanager", Duration::from_secs(60), async || {
        !breached_in_alertmanager(&alertmanager).await.is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        breached_in_alertmanager(&alertmanager).await,
        ["generate_duration_p95"],
        "only the slowed endpoint's SLO"
    );

    // Fault removed: the alert resolves.
    client.post(&faults).body(r#"{"generate": {"delay_ms": 0}}"#).send().await.unwrap();
    until("the alert to resolve", Duration::from_secs(60), async || {
        breached_in_alertmanager(&alertmanager).await.is_empty()
    })
    .await;

    // Every dashboard query parses and returns data.
    for name in ["sloprober-slo", "sloprober-load"] {
        let text = std::fs::read_to_string(dir.path().join(format!("grafana/dashboards/{name}.json"))).unwrap();
        let dashboard: Value = serde_json::from_str(&text).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                let concrete = expr
                    .replace("$__rate_interval", "10s")
                    .replace("$scenario", ".*")
                    .replace("$instance", ".*")
                    .replace("$slo", ".*");
                let query =
                    reqwest::Url::parse_with_params(&format!("{prometheus}/api/v1/query"), [("query", &concrete)])
                        .unwrap();
                let body = json(query.as_str()).await;
                assert_eq!(body["status"], "success", "{name} / {}: {expr}\n{body}", panel["title"]);
                let results = body["data"]["result"].as_array().map_or(0, |r| r.len());
                assert!(results > 0, "{name} / {}: no data for {concrete}", panel["title"]);
            }
        }
    }
    daemon.stop().await;
}
