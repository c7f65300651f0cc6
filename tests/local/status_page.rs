//! The live status page at `/`: what a person opening it on a running
//! daemon sees (verdicts, figures, charts, the last failures with their
//! answers), that no secret reaches it, that it loads nothing from
//! elsewhere, and that its failure list stays the same size however many
//! requests fail.

use crate::common::status_page::*;
use crate::common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_lists_failures_with_their_answer_and_no_secret() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let daemon = start_daemon(&live_config(&target.url(), &echoing_upstream()), "live").await;
    let doc = settled_status(daemon.addr, 2).await;

    assert_eq!((doc["kind"].as_str(), doc["mode"].as_str()), (Some("sloprober.status"), Some("daemon")));
    assert_eq!(doc["over"], "the last 4s");
    let gateway = first_request(&doc, "gateway");
    assert_eq!(gateway["name"], "embeddings");
    assert!(gateway["per_second"].as_f64().unwrap() > 5.0 && gateway["p95_ms"].as_f64().is_some(), "{gateway}");
    assert_eq!(gateway["failed_ratio"], 0.0);
    assert_eq!(gateway["latency_thresholds"][0]["ms"], 500.0);
    let gateway_scenario = doc["scenarios"].as_array().unwrap().iter().find(|s| s["name"] == "gateway").unwrap();
    let iterations = &gateway_scenario["spans"][0];
    assert_eq!(iterations["name"], "iteration");
    assert!(iterations["count"].as_u64().unwrap() > 10 && iterations["p95_ms"].as_f64().is_some(), "{iterations}");
    let orders = first_request(&doc, "upstream");
    assert_eq!(orders["failed_ratio"], 1.0);
    let failure = &orders["recent_failures"][0];
    assert_eq!((failure["reason"].as_str(), failure["status"].as_u64()), (Some("status"), Some(503)));
    let answer = failure["answer"].as_str().unwrap();
    assert!(
        answer.starts_with(
            "HTTP 503\ncontent-type: application/json\nx-echo-auth: <redacted>\nset-cookie: <redacted>\ncontent-length: "
        ),
        "header names shown, values redacted: {answer}"
    );
    assert!(
        answer.contains("\"you sent\":\"Authorization: <redacted>\""),
        "the body's start, the key cut out: {answer}"
    );
    assert!(answer.len() < 600 && answer.ends_with('…'), "only the first bytes: {answer}");
    let refused = &first_request(&doc, "down")["recent_failures"][0];
    assert_eq!((refused["reason"].as_str(), refused["answer"].as_str()), (Some("connect"), None), "{refused}");
    assert_eq!(
        refused["error"].as_str().map(|e| e.starts_with("connecting to the server 127.0.0.1:1: Connection refused")),
        Some(true),
        "why no answer came, as the system says it: {refused}"
    );
    // Verdicts: the healthy scenario's latency passes, the failing upstream's error rate fails, as /metrics says.
    assert_eq!(
        slo_verdicts(&doc["slos"]),
        vec![
            ("http_req_duration_embeddings_p95".to_string(), true),
            ("http_req_failed_upstream_rate".to_string(), false)
        ]
    );
    let metrics = daemon.scrape().await;
    for (slo, passed) in slo_verdicts(&doc["slos"]) {
        assert_eq!(value(&metrics, "sloprober_slo_compliant", &[("slo", &slo)]), f64::from(u8::from(passed)), "{slo}");
    }
    let failed_slo = &doc["slos"][1];
    assert_eq!(failed_slo["burn_rate"], 100.0, "every request bad against 1 % allowed: {failed_slo}");

    // The page: served from the binary, nothing loaded from elsewhere, no secret anywhere.
    let response = reqwest::get(format!("http://{}/", daemon.addr)).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    let policy = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    let page = response.text().await.unwrap();
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"), "no external asset");
    let raw = get(&format!("http://{}/status.json", daemon.addr)).await.1;
    for (what, text) in [("page", &page), ("status.json", &raw), ("/metrics", &metrics)] {
        assert!(!text.contains(API_KEY) && !text.contains("s3cr3t-session"), "a secret in {what}");
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_listen_serves_the_page_over_the_run_so_far() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let yaml = live_config(&target.url(), &echoing_upstream())
        .replace("rate: 30, duration: 1h", "rate: 30, duration: 6s")
        .replace("rate: 10, duration: 1h", "rate: 10, duration: 6s");
    std::fs::write(dir.path().join("c.yaml"), yaml).unwrap();
    let (_run, addr) = spawn_listening(
        sloprober_binary().args(["run", "--config"]).arg(dir.path().join("c.yaml")).args([
            "--profile",
            "live",
            "--no-progress",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ]),
        &dir.path().join("run.log"),
        "listen",
    );
    let doc = settled_status(addr, 2).await;
    assert_eq!((doc["mode"].as_str(), doc["over"].as_str()), (Some("run"), Some("the run so far")));
    assert_eq!(first_request(&doc, "upstream")["recent_failures"][0]["reason"], "status");
    assert!(get(&format!("http://{addr}/")).await.1.contains("<title>sloprober status</title>"));
}

/// The daemon's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_failures_leave_the_daemons_memory_where_it_was() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"target: {{base_url: "{}", timeout: 2s, headers: {{Authorization: "Bearer ${{API_KEY}}"}}}}
daemon: {{slo_window: 10s}}
scenarios:
  upstream:
    requests: [{{name: orders, path: /orders}}, {{name: items, path: /items}}]
    profiles:
      live: {{executor: constant-arrival-rate, rate: 2500, duration: 1h, pre_allocated_vus: 20, max_vus: 100}}
"#,
        echoing_upstream()
    );
    std::fs::write(dir.path().join("c.yaml"), yaml).unwrap();
    let (daemon, addr) = spawn_listening(
        sloprober_binary().args(["daemon", "--config"]).arg(dir.path().join("c.yaml")).args([
            "--profile",
            "live",
            "--listen",
            "127.0.0.1:0",
        ]),
        &dir.path().join("daemon.log"),
        "listen",
    );
    let failed = || async {
        let text = get(&format!("http://{addr}/metrics")).await.1;
        series(&text, "sloprober_http_req_failed_total", &[]).iter().map(|(_, v)| v).sum::<f64>()
    };
    let wait_for = |count: f64| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while failed().await < count {
            assert!(tokio::time::Instant::now() < deadline, "fewer than {count} failures in a minute");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    wait_for(2_000.0).await;
    let before = rss_kib(daemon.0.id());
    wait_for(12_000.0).await;
    let after = rss_kib(daemon.0.id());
    eprintln!("daemon RSS: {before} KiB after 2,000 failures, {after} KiB after 12,000");
    // Each answer kept is about 0.4 KiB: 10,000 of them kept would be 4 MiB more.
    assert!(after < before + 2048, "RSS went from {before} KiB to {after} KiB over 10,000 failures");
    let doc = status(addr).await;
    for request in doc["scenarios"][0]["requests"].as_array().unwrap() {
        let kept = request["recent_failures"].as_array().unwrap().len();
        assert_eq!(kept, 10, "{} failures kept", kept);
        assert!(request["failures_since_start"].as_u64().unwrap() > 5_000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_shows_the_new_configs_requests_and_forgets_the_old_failures() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let daemon = start_daemon(&live_config(&target.url(), &echoing_upstream()), "live").await;
    settled_status(daemon.addr, 1).await;
    // The upstream scenario now asks the demo target's health: nothing fails.
    let healthy = live_config(&target.url(), &target.url())
        .replace("{name: orders, path: /orders}", "{name: health, path: /health}");
    std::fs::write(&daemon.config, healthy).unwrap();
    let (status_code, answer) = post(&format!("http://{}/-/reload", daemon.addr)).await;
    assert_eq!(status_code, 200, "{answer}");
    let doc = status_when(daemon.addr, "the reload does not show", |doc| {
        first_request(doc, "upstream")["name"] == "health" && history_len(doc) >= 2
    })
    .await;
    let upstream = first_request(&doc, "upstream");
    assert_eq!(upstream["failures_since_start"], 0, "the old config's failures are gone: {upstream}");
    assert_eq!(upstream["failed_ratio"], 0.0);
    assert_eq!(slo_verdicts(&doc["slos"])[1], ("http_req_failed_upstream_rate".to_string(), true));
    daemon.stop().await;
}
