//! The daemon against the in-process demo target: what /metrics says must
//! match what the target was told to do.

use crate::common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_load_is_counted_exactly() {
    let target = start_target("{}").await;
    let url = target.url();
    let yaml = config(&[("gateway", &url, &format!("{GENERATE}{EMBEDDINGS}"))], 100, "");
    let (daemon, live) = run_for(&yaml, 2.0).await;
    assert!(value(&live, "sloprober_http_reqs_total", &[("scenario", "gateway")]) > 50.0, "load is live: {live}");
    let done = daemon.stop().await;
    for (request, endpoint) in [("generate", "generate"), ("embeddings", "embeddings")] {
        let served = target.stat("requests", endpoint) as f64;
        let labels = [("scenario", "gateway"), ("request", request)];
        assert!(served > 0.0);
        assert_eq!(
            value(&done, "sloprober_http_reqs_total", &[labels[0], labels[1], ("status", "200")]),
            served,
            "{request}"
        );
        assert_eq!(value(&done, "sloprober_http_req_duration_seconds_count", &labels), served);
        assert_eq!(value(&done, "sloprober_checks_total", &[labels[0], labels[1], ("result", "pass")]), 2.0 * served);
        assert_eq!(value(&done, "sloprober_checks_total", &[labels[0], labels[1], ("result", "fail")]), 0.0);
        assert_eq!(value(&done, "sloprober_http_req_failed_total", &labels), 0.0);
    }
    let total = value(&done, "sloprober_http_reqs_total", &[]);
    assert_eq!(
        value(&done, "sloprober_iterations_total", &[("scenario", "gateway")]),
        total,
        "one request per iteration"
    );
    assert_eq!(value(&done, "sloprober_dropped_iterations_total", &[]), 0.0);
    assert_eq!(value(&done, "errors_samples_total", &[]), total);
    assert_eq!(value(&done, "sloprober_schedule_lag_seconds_count", &[]), total, "every arrival-rate start is timed");
    assert_eq!(value(&done, "errors_total", &[]), 0.0);
    assert_eq!(value(&done, "generate_duration_seconds_count", &[]), target.stat("requests", "generate") as f64);
    assert!(value(&done, "sloprober_data_sent_bytes_total", &[]) > 100.0 * total);
    assert!(value(&done, "sloprober_data_received_bytes_total", &[]) > 100.0 * total);
    assert_eq!(target.state.stats()["unauthorized"], 0, "the bearer token was sent with every request");
    // 100/s for about 2 s of load.
    assert!((150.0..=260.0).contains(&total), "{total} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_500s_show_as_the_same_share_of_errors() {
    let target = start_target(r#"{"generate": {"error_rate": 0.1, "error_status": 500}}"#).await;
    let url = target.url();
    let yaml = config(&[("gateway", &url, GENERATE)], 200, "");
    let (daemon, _) = run_for(&yaml, 2.0).await;
    let done = daemon.stop().await;
    let injected = target.stat("errors", "generate") as f64;
    let total = value(&done, "sloprober_http_reqs_total", &[]);
    let errors = value(&done, "sloprober_http_reqs_total", &[("status", "500")]);
    assert_eq!(errors, injected, "every injected 500 is counted, and nothing else");
    assert_eq!(value(&done, "sloprober_http_req_failed_total", &[("reason", "status")]), injected);
    assert_eq!(value(&done, "sloprober_http_req_failed_total", &[("reason", "check")]), 0.0);
    assert_eq!(value(&done, "sloprober_checks_total", &[("check", "status is 200"), ("result", "fail")]), injected);
    assert_eq!(value(&done, "errors_total", &[]), injected, "the custom Rate sees the same failures");
    let share = errors / total;
    assert!((0.055..=0.145).contains(&share), "10 % injected, {share:.3} observed over {total} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_latency_lands_in_the_right_buckets() {
    let target = start_target(r#"{"generate": {"delay_ms": 200}}"#).await;
    let url = target.url();
    let thresholds = "thresholds:\n  generate_duration: [\"p(95)<=210\"]\n";
    let yaml = config(&[("gateway", &url, &format!("{GENERATE}{EMBEDDINGS}"))], 50, thresholds);
    let (daemon, live) = run_for(&yaml, 2.0).await;
    assert!(
        live.contains(
            "sloprober_http_req_duration_seconds_bucket{expected_response=\"true\",request=\"generate\",scenario=\"gateway\",le=\"0.21\"}"
        ),
        "the threshold is a bucket boundary"
    );
    assert!(live.contains("sloprober_slo_threshold_seconds{slo=\"generate_duration_p95\"} 0.21"));
    assert!(live.contains("sloprober_slo_objective_ratio{slo=\"generate_duration_p95\"} 0.95"));
    let done = daemon.stop().await;
    let generate = [("request", "generate")];
    let count = value(&done, "sloprober_http_req_duration_seconds_count", &generate);
    assert!(count > 20.0);
    let bucket = |le: &str| value(&done, "sloprober_http_req_duration_seconds_bucket", &[generate[0], ("le", le)]);
    assert_eq!(bucket("0.2"), 0.0, "nothing faster than the injected 200 ms");
    assert_eq!(bucket("0.3"), count, "everything within 100 ms of it");
    assert_eq!(value(&done, "generate_duration_seconds_bucket", &[("le", "0.2")]), 0.0);
    let embeddings = value(&done, "sloprober_http_req_duration_seconds_count", &[("request", "embeddings")]);
    let fast = value(&done, "sloprober_http_req_duration_seconds_bucket", &[("request", "embeddings"), ("le", "0.1")]);
    assert_eq!(fast, embeddings, "the other endpoint is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_targets_are_counted_by_reason_and_never_stop_the_daemon() {
    let resets = start_target(r#"{"generate": {"reset_rate": 1.0}}"#).await;
    let slow = start_target(r#"{"generate": {"delay_ms": 3000}}"#).await;
    let garbage_json = start_target(r#"{"generate": {"garbage_rate": 1.0}}"#).await;
    // Bound but not listening: connections are refused, and no other test can take the port meanwhile.
    let refusing = tokio::net::TcpSocket::new_v4().unwrap();
    refusing.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let closed = refusing.local_addr().unwrap();
    let not_http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let not_http_addr = not_http.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = not_http.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(b"this is not HTTP at all\r\n\r\n").await;
            });
        }
    });
    let scenarios = [
        ("reset", resets.url(), "reset"),
        ("timeout", slow.url(), "timeout"),
        ("garbage", garbage_json.url(), "check"),
        ("down", format!("http://{closed}"), "connect"),
        ("nothttp", format!("http://{not_http_addr}"), "header"),
    ];
    let list: Vec<(&str, &str, &str)> = scenarios.iter().map(|(n, u, _)| (*n, u.as_str(), GENERATE)).collect();
    let yaml = config(&list, 10, "").replace("timeout: 2s", "timeout: 300ms");
    let (daemon, _) = run_for(&yaml, 2.5).await;
    let (status, _) = get(&format!("http://{}/health", daemon.addr)).await;
    assert_eq!(status, 200, "the daemon is still up");
    // Compared once the load has stopped: a live scrape may fall between two increments of one sample.
    let done = daemon.stop().await;
    for (scenario, _, reason) in &scenarios {
        let failed = value(&done, "sloprober_http_req_failed_total", &[("scenario", scenario), ("reason", reason)]);
        let all_failed = value(&done, "sloprober_http_req_failed_total", &[("scenario", scenario)]);
        assert!(failed >= 5.0, "{scenario}: {failed} failures with reason {reason}\n{done}");
        assert_eq!(failed, all_failed, "{scenario}: every failure has reason {reason}");
        if *reason != "check" {
            assert_eq!(
                value(&done, "sloprober_http_reqs_total", &[("scenario", scenario), ("status", "error")]),
                failed
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_declared_series_exists_at_zero_from_start() {
    let target = start_target("{}").await;
    let url = target.url();
    let yaml = config(&[("gateway", &url, GENERATE)], 1, "");
    let daemon = start_daemon(&yaml, "test").await;
    let text = daemon.scrape().await;
    for reason in ["status", "timeout", "connect", "reset", "header", "body", "check"] {
        let line = format!(
            "sloprober_http_req_failed_total{{reason=\"{reason}\",request=\"generate\",scenario=\"gateway\"}} 0"
        );
        assert!(text.contains(&line), "missing {line}");
    }
    for check in ["status is 200", "$.text present"] {
        assert!(text.contains(&format!(
            "sloprober_checks_total{{check=\"{check}\",request=\"generate\",result=\"fail\",scenario=\"gateway\"}} 0"
        )));
    }
    assert!(text.contains("sloprober_http_reqs_total{request=\"generate\",scenario=\"gateway\",status=\"error\"} 0"));
    assert!(text.contains("errors_total{scenario=\"gateway\"} 0"));
    assert!(text.contains("sloprober_build_info{version=\""));
    assert!(text.contains("sloprober_config_last_reload_successful 1"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_and_reload_keep_the_old_config_on_error() {
    let target = start_target("{}").await;
    let url = target.url();
    let yaml = config(&[("gateway", &url, GENERATE)], 20, "");
    let daemon = start_daemon(&yaml, "test").await;
    let base = format!("http://{}", daemon.addr);
    assert_eq!(get(&format!("{base}/health")).await.0, 200);
    assert_eq!(get(&format!("{base}/ready")).await.0, 200);
    assert_eq!(post(&format!("{base}/metrics")).await.0, 405);

    std::fs::write(&daemon.config, yaml.replace("constant-arrival-rate", "constant-arrival-rat")).unwrap();
    let (status, body) = post(&format!("{base}/-/reload")).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("scenarios.gateway.profiles.test.executor: unknown executor \"constant-arrival-rat\""),
        "{body}"
    );
    let before = value(&daemon.scrape().await, "sloprober_http_reqs_total", &[]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = daemon.scrape().await;
    assert!(value(&text, "sloprober_http_reqs_total", &[]) > before, "the old config keeps running");
    assert!(text.contains("sloprober_config_last_reload_successful 0"));

    let two = config(&[("gateway", &url, GENERATE), ("second", &url, EMBEDDINGS)], 20, "");
    std::fs::write(&daemon.config, two).unwrap();
    let (status, body) = post(&format!("{base}/-/reload")).await;
    assert_eq!((status, body.as_str()), (200, "config reloaded\n"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = daemon.scrape().await;
    assert!(text.contains("sloprober_config_last_reload_successful 1"));
    assert!(value(&text, "sloprober_http_reqs_total", &[("scenario", "second")]) > 0.0, "the new scenario runs");
    assert!(
        value(&text, "sloprober_http_reqs_total", &[("scenario", "gateway")]) >= before,
        "counters survive the reload"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_gauges_read_numbers_from_responses() {
    let target = start_target("{}").await;
    let url = target.url();
    let request = GENERATE.replace(
        "        rate: errors\n",
        "        rate: errors\n        counter: {name: tokens_generated, json_path: $.usage.completion_tokens}\n        gauge: {name: last_prompt_tokens, json_path: $.usage.prompt_tokens}\n      - name: health\n        path: /api/v1/health\n        counter: health_probes\n",
    );
    let yaml = config(&[("gateway", &url, &request)], 50, "").replace(
        "custom: {",
        "custom: {tokens_generated: counter, health_probes: counter, last_prompt_tokens: gauge, ",
    );
    let (daemon, _) = run_for(&yaml, 1.0).await;
    let done = daemon.stop().await;
    let generated = target.stat("requests", "generate") as f64;
    assert!(generated > 0.0);
    // The demo answers 24 completion tokens and counts the prompt's words ("hello <uuid>": 2).
    assert_eq!(value(&done, "tokens_generated_total", &[("scenario", "gateway")]), 24.0 * generated);
    assert_eq!(value(&done, "last_prompt_tokens", &[("scenario", "gateway")]), 2.0);
    assert_eq!(value(&done, "health_probes_total", &[]), target.stat("requests", "health") as f64, "+1 per request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeat_plays_the_schedule_again() {
    let target = start_target("{}").await;
    let url = target.url();
    let yaml = config(&[("gateway", &url, GENERATE)], 1, "").replace("on_end: hold", "on_end: repeat").replace(
        "executor: constant-arrival-rate, rate: 1, duration: 1h, pre_allocated_vus: 20, max_vus: 100",
        "executor: shared-iterations, vus: 2, iterations: 4",
    );
    let (daemon, _) = run_for(&yaml, 2.5).await;
    let done = daemon.stop().await;
    let iterations = value(&done, "sloprober_iterations_total", &[]);
    assert!(iterations >= 8.0, "4 iterations per pass, at least two passes in 2.5 s: {iterations}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_slo_gauges_follow_a_fault_and_its_recovery() {
    let target = start_target("{}").await;
    let url = target.url();
    let thresholds = "thresholds:\n  generate_duration: [\"p(95)<=100\"]\n  errors: [\"rate<0.05\"]\n";
    let yaml = config(&[("gateway", &url, GENERATE)], 40, thresholds)
        .replace("shutdown_grace: 5s", "shutdown_grace: 5s, slo_window: 2s");
    let daemon = start_daemon(&yaml, "test").await;
    let gauge = |text: &str, family: &str, slo: &str| value(text, family, &[("slo", slo)]);
    let wait_for = |want: f64| {
        let daemon = &daemon;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let text = daemon.scrape().await;
                if gauge(&text, "sloprober_slo_compliant", "generate_duration_p95") == want
                    || tokio::time::Instant::now() > deadline
                {
                    return text;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let healthy = wait_for(1.0).await;
    assert_eq!(gauge(&healthy, "sloprober_slo_compliant", "generate_duration_p95"), 1.0);
    assert!(gauge(&healthy, "sloprober_slo_observed_value", "generate_duration_p95") < 0.1, "p95 in seconds");
    assert_eq!(gauge(&healthy, "sloprober_slo_sli_ratio", "generate_duration_p95"), 1.0);
    assert_eq!(gauge(&healthy, "sloprober_slo_compliant", "errors_rate"), 1.0);

    let faults = format!("{}/admin/faults", target.url());
    let client = reqwest::Client::new();
    client.post(&faults).body(r#"{"generate": {"delay_ms": 250}}"#).send().await.unwrap();
    let breached = wait_for(0.0).await;
    assert_eq!(gauge(&breached, "sloprober_slo_compliant", "generate_duration_p95"), 0.0, "the fault breaks the SLO");
    assert!(gauge(&breached, "sloprober_slo_observed_value", "generate_duration_p95") >= 0.25);
    assert_eq!(gauge(&breached, "sloprober_slo_compliant", "errors_rate"), 1.0, "only the latency SLO breaks");

    client.delete(&faults).send().await.unwrap();
    let zero: String = r#"{"*": {"delay_ms": 0, "jitter_ms": 0}}"#.into();
    client.post(&faults).body(zero).send().await.unwrap();
    let recovered = wait_for(1.0).await;
    assert_eq!(
        gauge(&recovered, "sloprober_slo_compliant", "generate_duration_p95"),
        1.0,
        "it recovers once the window has passed"
    );
    daemon.stop().await;
}
