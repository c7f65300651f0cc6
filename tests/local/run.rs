//! `sloprober run` against the in-process demo target: verdicts, reports,
//! abort_on_fail, and quantile accuracy.

use crate::common::*;
use serde_json::Value;
use sloprober::report::{self, RunOutcome};
use sloprober::run;
use std::path::Path;
use std::time::{Duration, Instant};

const ASSESS: &str = r#"      - name: create
        method: POST
        path: /api/v1/assessments
        json: {title: "Quiz {{ counter }}", questions: 5}
        checks: [{status: 201}]
        rate: errors
"#;

/// A config whose scenarios run `rate`/s for `seconds` and then end.
fn finite(scenarios: &[(&str, &str, &str)], rate: u32, seconds: u32, thresholds: &str) -> String {
    config(scenarios, rate, thresholds).replace("duration: 1h", &format!("duration: {seconds}s")).replace(
        "custom: {errors: rate, generate_duration: trend}",
        "custom: {errors: rate, generate_duration: trend, embeddings_duration: trend}",
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn failing(outcome: &RunOutcome) -> Vec<String> {
    outcome
        .plan
        .thresholds
        .iter()
        .zip(&outcome.verdicts)
        .filter(|(_, v)| !v.passed)
        .map(|(t, _)| t.slo.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_run_passes_and_its_reports_agree_with_metrics() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let url = target.url();
    let embeddings =
        EMBEDDINGS.replace("        rate: errors\n", "        rate: errors\n        trend: embeddings_duration\n");
    let thresholds = "thresholds:\n  generate_duration: [\"p(95)<=300\"]\n  embeddings_duration: [\"p(95)<=200\"]\n  errors: [\"rate<0.01\"]\n  http_req_failed: [\"rate<0.001\"]\n";
    let yaml = finite(
        &[("gateway", &url, &format!("{GENERATE}{embeddings}")), ("assessment", &url, ASSESS)],
        40,
        3,
        thresholds,
    );
    let dir = tempfile::tempdir().unwrap();
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(outcome.passed(), "{}", report::render_summary(&outcome));
    let reports = report::report_dir(dir.path(), outcome.started_at);
    report::write_reports(&outcome, &reports).unwrap();

    for scenario in ["gateway", "assessment"] {
        let summary = read_json(&reports.join(format!("{scenario}-summary.json")));
        assert_eq!(summary["version"], 2);
        assert_eq!(summary["kind"], "sloprober.summary");
        let reqs = value(&metrics, "sloprober_http_reqs_total", &[("scenario", scenario)]);
        assert!(reqs >= 100.0, "{scenario}: {reqs} requests");
        assert_eq!(
            summary["metrics"]["http_reqs"]["values"]["count"].as_f64().unwrap(),
            reqs,
            "{scenario} summary vs /metrics"
        );
        assert_eq!(
            summary["requests"].as_object().unwrap().values().map(|r| r["http_reqs"].as_f64().unwrap()).sum::<f64>(),
            reqs
        );
        assert_eq!(
            summary["metrics"]["checks"]["values"]["passes"].as_f64().unwrap(),
            value(&metrics, "sloprober_checks_total", &[("scenario", scenario), ("result", "pass")])
        );
        assert_eq!(
            summary["metrics"]["iterations"]["values"]["count"].as_f64().unwrap(),
            value(&metrics, "sloprober_iterations_total", &[("scenario", scenario)])
        );
        assert_eq!(summary["schedule_lag"]["count"].as_f64().unwrap(), reqs, "arrival-rate start lateness per request");
        assert!(summary["schedule_lag"]["within_1ms_ratio"].as_f64().unwrap() > 0.0);
        let slo = read_json(&reports.join(format!("{scenario}-slo-report.json")));
        assert_eq!(slo["passed"], true);
        let results = read_json(&reports.join(format!("{scenario}-results.json")));
        for report in [&summary, &slo, &results] {
            assert_eq!(report["profile"], "test", "every JSON report names its profile");
            assert_eq!(report["scenario"], scenario);
        }
        let points = results["points"].as_array().unwrap();
        assert!(points.len() >= 3, "a point per second");
        let sum: f64 = points.iter().map(|p| p["requests"].as_f64().unwrap()).sum();
        assert_eq!(sum, reqs, "the time series adds up to the total");
    }
    let gateway_slos = read_json(&reports.join("gateway-slo-report.json"));
    let names: Vec<&str> =
        gateway_slos["slos"].as_array().unwrap().iter().map(|s| s["slo"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["embeddings_duration_p95", "errors_gateway_rate", "generate_duration_p95", "http_req_failed_gateway_rate"],
        "thresholds fed by both scenarios are one SLO per scenario"
    );
    let generate = &gateway_slos["slos"][2];
    assert_eq!(generate["sli"]["objective_ratio"], 0.95);
    assert_eq!(generate["sli"]["good_ratio"], 1.0, "every generate answered within 300 ms");
    assert_eq!(generate["error_budget"]["allowed_bad_ratio"], 0.05);
    let assessment_slos = read_json(&reports.join("assessment-slo-report.json"));
    let names: Vec<&str> =
        assessment_slos["slos"].as_array().unwrap().iter().map(|s| s["slo"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["errors_assessment_rate", "http_req_failed_assessment_rate"],
        "the gateway's trends and SLOs are not the assessment's"
    );
    let markdown = std::fs::read_to_string(reports.join("load-test-report.md")).unwrap();
    assert!(markdown.starts_with("## sloprober test test ✅ passed"), "{markdown}");
    assert!(markdown.contains("| generate_duration_p95 | `generate_duration p(95)<=300` |"), "{markdown}");
    assert!(markdown.contains("| gateway | "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_latency_fails_exactly_that_slo() {
    let _serial = serial().await;
    let target = start_target(r#"{"generate": {"delay_ms": 350}}"#).await;
    let url = target.url();
    let embeddings =
        EMBEDDINGS.replace("        rate: errors\n", "        rate: errors\n        trend: embeddings_duration\n");
    let thresholds = "thresholds:\n  generate_duration: [\"p(95)<=300\"]\n  embeddings_duration: [\"p(95)<=200\"]\n  errors: [\"rate<0.01\"]\n";
    let yaml = finite(&[("gateway", &url, &format!("{GENERATE}{embeddings}"))], 30, 2, thresholds);
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(!outcome.passed());
    assert_eq!(failing(&outcome), ["generate_duration_p95"]);
    report::write_reports(&outcome, dir.path()).unwrap();
    let slos = read_json(&dir.path().join("gateway-slo-report.json"));
    assert_eq!(slos["passed"], false);
    let by_name = |name: &str| slos["slos"].as_array().unwrap().iter().find(|s| s["slo"] == name).unwrap().clone();
    assert_eq!(by_name("generate_duration_p95")["passed"], false);
    assert!(by_name("generate_duration_p95")["observed"].as_f64().unwrap() >= 350.0);
    assert_eq!(by_name("generate_duration_p95")["sli"]["good_ratio"], 0.0);
    assert_eq!(by_name("embeddings_duration_p95")["passed"], true);
    let markdown = std::fs::read_to_string(dir.path().join("load-test-report.md")).unwrap();
    assert!(markdown.contains("❌ failed"));
    assert_eq!(markdown.matches("❌ fail |").count(), 1, "{markdown}");
    let summary = report::render_summary(&outcome);
    assert!(summary.contains("result: FAILED: 1 of 3 thresholds failed: generate_duration_p95"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_on_fail_stops_the_run_early_and_reports_are_still_written() {
    let _serial = serial().await;
    let target = start_target(r#"{"generate": {"delay_ms": 200}}"#).await;
    let url = target.url();
    let thresholds =
        "thresholds:\n  generate_duration: [{threshold: \"p(95)<100\", abort_on_fail: true, delay_abort_eval: 1s}]\n";
    let yaml = finite(&[("gateway", &url, GENERATE)], 20, 60, thresholds);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    let took = started.elapsed();
    assert_eq!(outcome.aborted_by.as_deref(), Some("generate_duration_p95"));
    assert!(took < Duration::from_secs(8), "a 60 s run stopped after {took:?}");
    assert!(took >= Duration::from_secs(1), "not before delay_abort_eval");
    assert!(!outcome.passed());
    let files = report::write_reports(&outcome, dir.path()).unwrap();
    assert_eq!(files.len(), 5, "summary, SLO report, results, Markdown and HTML: {files:?}");
    assert!(std::fs::read_to_string(dir.path().join("load-test-report.md"))
        .unwrap()
        .contains("**Aborted early:** `generate_duration_p95`"));
}

/// The server answers after exactly 2 s; the reported p95 and p99 must be within
/// 1 % of it. Closed model: latency runs from the actual send, so what is
/// measured is the reporting, not how promptly this busy 2-core machine wakes a
/// timer. The VUs ramp up over a second, so their requests are spread out: 40
/// answers arriving in the same instant would queue behind each other on two
/// cores and measure the client's backlog instead. What is left is the few ms a
/// loaded machine takes to wake the client, hence 2 s rather than 100 ms.
/// (scripts/bench.sh measures 10/100/300 ms and arrival-rate runs in a release
/// build, with nothing else running.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_quantiles_match_a_fixed_latency_within_one_percent() {
    let _serial = serial().await;
    let delay_ms = 2000.0;
    let url = format!("http://{}", precise_server(Duration::from_secs(2)));
    let thresholds = "thresholds:\n  generate_duration: [\"p(95)<=5000\", \"p(99)<=5000\"]\n";
    let yaml = finite(&[("gateway", &url, GENERATE)], 1, 4, thresholds).replace(
        "executor: constant-arrival-rate, rate: 1, duration: 4s, pre_allocated_vus: 20, max_vus: 100",
        "executor: ramping-vus, start_vus: 0, stages: [{duration: 1s, target: 40}, {duration: 4s, target: 40}]",
    );
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(outcome.snapshot.requests[0].stats.count >= 80, "{}", outcome.snapshot.requests[0].stats.count);
    for (threshold, verdict) in outcome.plan.thresholds.iter().zip(&outcome.verdicts) {
        // Verdicts hold base units: seconds for latency.
        let observed = verdict.observed.unwrap() * 1000.0;
        let error = (observed - delay_ms) / delay_ms;
        eprintln!("{} vs a fixed {delay_ms} ms: {observed:.3} ms ({:+.3} %)", threshold.expression, error * 100.0);
        assert!((0.0..=0.01).contains(&error), "{observed} ms is not within 1 % of {delay_ms} ms");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_can_be_selected() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let url = target.url();
    let thresholds =
        "thresholds:\n  \"http_req_duration{scenario:gateway}\": [\"p(95)<500\"]\n  errors: [\"rate<0.01\"]\n";
    let yaml = finite(&[("gateway", &url, GENERATE), ("assessment", &url, ASSESS)], 20, 1, thresholds);
    let dir = tempfile::tempdir().unwrap();
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &["assessment"])).await;
    let names: Vec<&str> = outcome.plan.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["assessment"]);
    assert_eq!(outcome.plan.thresholds.len(), 1, "the gateway-only threshold is dropped with its scenario");
    let summary = report::render_summary(&outcome);
    assert!(!summary.contains("generate_duration"), "a metric only gateway feeds is left out:\n{summary}");
    assert!(summary.contains("errors") && !summary.contains("-0"), "{summary}");
    assert_eq!(value(&metrics, "sloprober_http_reqs_total", &[("scenario", "gateway")]), 0.0);
    let error = run::plan_for(&run_options(dir.path(), &yaml, &["search"])).err().unwrap().to_string();
    assert!(
        error.ends_with("--scenario: no scenario is named \"search\"; defined: assessment, gateway, or all"),
        "{error}"
    );
}

const GET: &str = "      - name: get\n        path: /\n        checks: [{status: 200}]\n";

/// `vus` VUs for a second against `addr`, pausing `sleep` between iterations.
fn closed_model(addr: std::net::SocketAddr, vus: u32, sleep: &str) -> String {
    finite(&[("plain", &format!("http://{addr}"), GET)], 1, 1, "")
        .replace(
            "executor: constant-arrival-rate, rate: 1, duration: 1s, pre_allocated_vus: 20, max_vus: 100",
            &format!("executor: constant-vus, vus: {vus}, duration: 1s"),
        )
        .replace("    requests:\n", &format!("    sleep: {sleep}\n    requests:\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_kept_alive_and_reused() {
    let _serial = serial().await;
    let (addr, accepted) = counting_server(None);
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = play(&run_options(dir.path(), &closed_model(addr, 3, "0s"), &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert!(stats.count >= 100, "{} requests", stats.count);
    assert_eq!(stats.failed_total(), 0);
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "one connection per VU for all {} requests",
        stats.count
    );
}

/// How a scenario's requests spread over the connections the server saw:
/// (connections, the largest share one carried).
async fn spread(connections: &str) -> (usize, f64) {
    let (addr, carried) = per_connection_server(Duration::ZERO);
    let yaml = closed_model(addr, 8, "{min: 10ms, max: 30ms}")
        .replace("    requests:\n", &format!("    connections: {connections}\n    requests:\n"));
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert!(stats.count >= 200 && stats.failed_total() == 0, "{} requests, {:?} failed", stats.count, stats.failed);
    let carried = carried.lock().unwrap().clone();
    assert_eq!(carried.iter().sum::<usize>() as u64, stats.count, "{carried:?}");
    let largest = *carried.iter().max().unwrap() as f64 / stats.count as f64;
    (carried.len(), largest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_vu_reuses_its_own_connection_unless_told_to_share_its_threads() {
    let _serial = serial().await;
    // Eight VUs thinking 10-30 ms: eight clients, each with an eighth of the load, as k6's VUs.
    let (connections, largest) = spread("per_vu").await;
    assert_eq!(connections, 8, "one connection per VU");
    assert!(largest < 0.2, "one VU's connection carried {:.0} % of the requests", largest * 100.0);
    // Shared by the VUs of a thread: the most recently used idle one is taken, so few carry most.
    let (connections, largest) = spread("per_thread").await;
    assert!(connections < 8 || largest > 0.25, "{connections} connections, the busiest carried {largest:.2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_closed_while_idle_is_replaced_without_a_failure() {
    let _serial = serial().await;
    let (addr, accepted) = counting_server(Some(Duration::from_millis(30)));
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = play(&run_options(dir.path(), &closed_model(addr, 1, "100ms"), &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    eprintln!(
        "{} requests, {:?} failed, p50 {} ms, max {} ms, elapsed {:?}",
        stats.count,
        stats.failed,
        stats.percentile_ms(50.0),
        stats.percentile_ms(100.0),
        outcome.snapshot.elapsed
    );
    assert!(stats.count >= 8, "{} requests", stats.count);
    assert_eq!(stats.failed_total(), 0, "{:?}", stats.failed);
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst) as u64,
        stats.count,
        "a new connection for each request"
    );
}

/// 2 VUs without think time for a second against a server that closes every
/// connection after its first answer, unannounced: the next request on it
/// races the close.
fn against_closing_server(addr: std::net::SocketAddr, method: &str) -> String {
    format!(
        "target:\n  base_url: http://{addr}\nscenarios:\n  s:\n    requests: [{{name: r, method: {method}, path: /, checks: [{{status: 200}}]}}]\n    profiles:\n      test: {{executor: constant-vus, vus: 2, duration: 1s}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_connection_closed_unanswered_is_retried_once_for_idempotent_methods() {
    let _serial = serial().await;
    let (addr, served) = closing_server();
    let dir = tempfile::tempdir().unwrap();
    let (outcome, metrics) = play(&run_options(dir.path(), &against_closing_server(addr, "GET"), &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    eprintln!("GET: {} requests, {} retried, {:?} failed", stats.count, stats.retries, stats.failed);
    assert!(stats.count >= 100, "{} requests", stats.count);
    assert_eq!(stats.failed_total(), 0, "curl sees no failure here either: {:?}", stats.failed);
    assert!(stats.retries > 0, "the race was met");
    assert_eq!(value(&metrics, "sloprober_http_req_retries_total", &[("request", "r")]), stats.retries as f64);
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst) as u64, stats.count, "each served once");

    let (addr, served) = closing_server();
    let (outcome, _) = play(&run_options(dir.path(), &against_closing_server(addr, "POST"), &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    eprintln!("POST: {} requests, {:?} failed", stats.count, stats.failed);
    assert_eq!(stats.retries, 0, "a POST is never sent twice");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst) as u64, stats.count - stats.failed_total());
}

/// One VU playing `requests` (YAML list items) 3 times against `addr`.
fn three_times(addr: std::net::SocketAddr, requests: &str) -> String {
    format!(
        "target:\n  base_url: http://{addr}\n  headers: {{Authorization: \"Bearer ${{API_KEY}}\", X-Tenant-ID: \"t-1\"}}\nscenarios:\n  plain:\n    requests:\n{requests}    profiles:\n      test: {{executor: per-vu-iterations, vus: 1, iterations: 3}}\n"
    )
}

/// The request lines (`GET /echo`) of `heads`, in order.
fn request_lines(heads: &Heads) -> Vec<String> {
    heads.lock().unwrap().iter().map(|h| h.split(" HTTP/").next().unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_as_k6_follows_them_and_the_final_answer_is_checked() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let play_against = |requests: &str| {
        let (addr, heads) = recording_server();
        let yaml = three_times(addr, requests);
        let dir = dir.path().to_path_buf();
        async move {
            let (outcome, metrics) = play(&run_options(&dir, &yaml, &[])).await;
            (outcome, metrics, request_lines(&heads))
        }
    };

    // By default (10, as k6): the 302 is followed and the 200 behind it is checked.
    let (outcome, metrics, lines) =
        play_against("      - {name: moved, path: /moved, checks: [{status: 200}]}\n").await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert_eq!((stats.count, stats.failed_total(), stats.redirects), (3, 0, 3), "{:?}", stats.statuses);
    assert_eq!(lines, ["GET /moved", "GET /"].repeat(3));
    assert_eq!(value(&metrics, "sloprober_http_req_redirects_total", &[("request", "moved")]), 3.0);

    // max_redirects: 0 makes the 3xx the answer that is checked.
    let (outcome, _, lines) =
        play_against("      - {name: moved, path: /moved, max_redirects: 0, checks: [{status: 302}]}\n").await;
    assert!(outcome.passed(), "{:?}", outcome.snapshot.requests[0].stats.statuses);
    assert_eq!(lines, ["GET /moved"].repeat(3));

    // A loop stops at the limit, and the last 3xx is the answer (k6 returns it too).
    let (outcome, _, lines) =
        play_against("      - {name: loop, path: /loop, max_redirects: 2, checks: [{status: 302}]}\n").await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert_eq!((stats.count, stats.failed_total(), stats.redirects), (3, 0, 6));
    assert_eq!(lines.len(), 9, "three exchanges per request: {lines:?}");

    // 303 turns a POST into a GET without its body; 307 repeats the POST and its body.
    let requests = "      - {name: other, method: POST, path: /see-other, json: {a: 1}}\n      - {name: temporary, method: POST, path: /temporary, json: {a: 1}}\n";
    let (addr, heads) = recording_server();
    let yaml = three_times(addr, requests);
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert_eq!(outcome.snapshot.requests.iter().map(|r| r.stats.redirects).sum::<u64>(), 3);
    let heads = heads.lock().unwrap().clone();
    for pair in heads.chunks(2) {
        let (first, second) = (&pair[0], &pair[1]);
        if first.starts_with("POST /see-other ") {
            assert!(second.starts_with("GET /echo ") && !second.contains("content-length"), "{second}");
        } else {
            assert!(first.starts_with("POST /temporary "), "{first}");
            assert!(second.starts_with("POST /echo ") && second.contains("content-length: 7"), "{second}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_origin_carries_no_credentials_as_curl_carries_none() {
    let _serial = serial().await;
    let (first, _) = recording_server();
    let (other, heads) = recording_server();
    let path = format!("/to/{}/echo", other.port());
    let dir = tempfile::tempdir().unwrap();
    let request =
        format!("      - {{name: away, path: \"{path}\", headers: {{X-Probe: \"yes\"}}, checks: [{{status: 200}}]}}\n");
    let yaml = three_times(first, &request);
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(outcome.passed(), "{:?}", outcome.snapshot.requests[0].stats.statuses);
    let seen = heads.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for head in &seen {
        let head = head.to_ascii_lowercase();
        assert!(!head.contains("authorization") && !head.contains(API_KEY), "{head}");
        assert!(!head.contains("x-tenant-id"), "the target's headers are the target's: {head}");
        assert!(head.contains("x-probe: yes"), "the request's own plain headers go along: {head}");
    }
    // curl -L does the same with the same headers.
    let status = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-L", "-H", &format!("Authorization: Bearer {API_KEY}"), "-H", "X-Probe: yes"])
        .arg(format!("http://{first}{path}"))
        .status()
        .unwrap();
    assert!(status.success());
    let by_curl = heads.lock().unwrap().last().unwrap().to_ascii_lowercase();
    assert!(!by_curl.contains("authorization") && by_curl.contains("x-probe: yes"), "{by_curl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_checks_read_the_answers_headers_and_data_received_counts_the_head_as_sent() {
    let _serial = serial().await;
    let (addr, _) = counting_server(None);
    let dir = tempfile::tempdir().unwrap();
    let checks = "[{status: 302}, {header: location, matches: \"^/$\"}, {header: x-absent}]";
    let yaml = closed_model(addr, 1, "100ms").replace(
        "path: /\n        checks: [{status: 200}]",
        &format!("path: /moved\n        max_redirects: 0\n        checks: {checks}"),
    );
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert!(stats.count >= 5, "{} requests", stats.count);
    assert_eq!(stats.checks_passed[..2], [stats.count; 2], "the location header is read");
    assert_eq!(stats.checks_failed[2], stats.count, "a header the answer lacks fails its check");
    let head = b"HTTP/1.1 302 Found\r\nlocation: /\r\ncontent-length: 0\r\n\r\n";
    assert_eq!(stats.bytes_received, stats.count * head.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_headers_override_the_targets_and_identify_the_prober() {
    let _serial = serial().await;
    let (addr, _) = counting_server(None);
    let dir = tempfile::tempdir().unwrap();
    let checks = [
        "{body_regex: \"(?i)authorization: Bearer request-key\"}",
        "{body_regex: \"(?i)x-team: payments\"}",
        "{body_regex: \"(?i)user-agent: sloprober/\"}",
        "{body_regex: \"(?i)host: 127.0.0.1:\"}",
        &format!("{{body_regex: \"{API_KEY}\"}}"),
    ];
    let request = format!(
        "path: /echo\n        headers: {{Authorization: \"Bearer request-key\", X-Team: payments}}\n        checks: [{}]",
        checks.join(", ")
    );
    let yaml = closed_model(addr, 1, "100ms").replace("path: /\n        checks: [{status: 200}]", &request);
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert!(stats.count >= 5, "{} requests", stats.count);
    assert_eq!(stats.checks_passed[..4], [stats.count; 4], "own headers, user-agent and host are sent");
    assert_eq!(stats.checks_failed[4], stats.count, "the target's Authorization is replaced, not sent as well");
}

/// The value of header `name` in a request head, if it has one.
fn header_in<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_and_env_vars_render_in_every_string_a_request_sends() {
    let _serial = serial().await;
    let (addr, heads) = recording_server();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"target:
  base_url: http://{addr}
  headers: {{Authorization: "Bearer ${{API_KEY}}", X-Trace: "trace-{{{{ counter }}}}"}}
scenarios:
  s:
    requests:
      - name: echo
        path: /echo?user=${{PROBE_USER}}&n={{{{ iteration }}}}
        headers: {{X-Request-ID: "{{{{ uuid }}}}", X-Home: "${{PROBE_HOME}}", X-Fixed: plain}}
        checks: [{{status: 200}}]
    profiles:
      test: {{executor: shared-iterations, vus: 1, iterations: 5, max_duration: 10s}}
"#
    );
    let mut options = run_options(dir.path(), &yaml, &[]);
    options.env.insert("PROBE_USER".into(), "learner-7".into());
    options.env.insert("PROBE_HOME".into(), "/home/probe".into());
    let (outcome, _) = play(&options).await;
    assert_eq!(outcome.snapshot.requests[0].stats.failed_total(), 0);
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 5);
    let ids: std::collections::BTreeSet<&str> = heads.iter().filter_map(|h| header_in(h, "x-request-id")).collect();
    assert_eq!(ids.len(), 5, "each request renders its own {{{{ uuid }}}}: {heads:?}");
    assert!(ids.iter().all(|id| id.len() == 36 && !id.contains('{')), "{ids:?}");
    let traces: std::collections::BTreeSet<&str> = heads.iter().filter_map(|h| header_in(h, "x-trace")).collect();
    assert_eq!(traces.len(), 5, "a target header's template renders per request too: {traces:?}");
    for (i, head) in heads.iter().enumerate() {
        assert!(head.starts_with(&format!("GET /echo?user=learner-7&n={i} HTTP/1.1")), "{head}");
        assert_eq!(header_in(head, "x-home"), Some("/home/probe"), "${{VAR}} in a header is resolved: {head}");
        assert_eq!(header_in(head, "x-fixed"), Some("plain"));
        assert_eq!(header_in(head, "authorization"), Some(format!("Bearer {API_KEY}").as_str()));
        assert_eq!(head.matches("\r\nx-request-id:").count() + head.matches("\r\nX-Request-ID:").count(), 1, "{head}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_keeps_as_much_body_as_its_own_max_body_says() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _) = answering_server(b"HTTP/1.1 200 OK\r\ncontent-length: 16\r\n\r\n0123456789abcdef".to_vec(), true);
    let yaml = format!(
        "target:\n  base_url: http://{addr}\n  max_body: 1MiB\nscenarios:\n  bodies:\n    requests:\n      - {{name: short, path: /, max_body: 10, checks: [{{body_regex: \"abc\"}}]}}\n      - {{name: whole, path: /, checks: [{{body_regex: \"abc\"}}]}}\n    profiles:\n      test: {{executor: per-vu-iterations, vus: 1, iterations: 20}}\n"
    );
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    let by_name = |name: &str| &outcome.snapshot.requests.iter().find(|r| r.request == name).unwrap().stats;
    let (short, whole) = (by_name("short"), by_name("whole"));
    assert!(short.count > 0 && whole.count > 0, "both picked: {} {}", short.count, whole.count);
    assert_eq!(short.failed_total(), short.count, "the check sees only 0123456789: {:?}", short.failed);
    assert_eq!(whole.failed_total(), 0, "the target's 1MiB keeps all of it: {:?}", whole.failed);
}

/// Figures of the phase `name` ("http_req_waiting") of scenario `plain`.
struct PhaseFigures {
    count: u64,
    zeros: u64,
    min_ms: f64,
    p50_ms: f64,
    p95_ms: f64,
    avg_ms: f64,
    max_ms: f64,
}

fn phase(outcome: &RunOutcome, name: &str) -> PhaseFigures {
    let view = outcome.snapshot.phases.iter().find(|p| p.scenario == "plain" && p.phase.metric_name() == name);
    let d = &view.unwrap_or_else(|| panic!("no {name}")).durations;
    PhaseFigures {
        count: d.count(),
        zeros: d.count_within(0.0),
        min_ms: d.min_ms(),
        p50_ms: d.percentile_ms(50.0),
        p95_ms: d.percentile_ms(95.0),
        avg_ms: d.avg_ms(),
        max_ms: d.max_ms(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_answer_says_where_its_time_went_in_k6s_phases() {
    let _serial = serial().await;
    let addr = precise_server(Duration::from_millis(20));
    let thresholds =
        "thresholds:\n  http_req_waiting: [\"p(95)<19\"]\n  \"http_req_connecting{scenario:plain}\": [\"max<1000\"]\n";
    let yaml = format!("{}{thresholds}", closed_model(addr, 2, "0s"));
    let dir = tempfile::tempdir().unwrap();
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    let count = stats.count;
    assert!(count >= 40 && stats.failed_total() == 0, "{count} requests, {:?} failed", stats.failed);

    // The server waits 20 ms before its first byte: that is waiting, not sending or receiving.
    let waiting = phase(&outcome, "http_req_waiting");
    assert_eq!(waiting.count, count, "one waiting time per answered request");
    // (A VU preempted between its write and reading the clock sees a little less: the minimum has room.)
    assert!(waiting.p50_ms >= 19.9 && waiting.min_ms >= 15.0, "time to first byte {} ms", waiting.p50_ms);
    for quick in ["http_req_sending", "http_req_receiving", "http_req_blocked"] {
        assert!(phase(&outcome, quick).p95_ms < 5.0, "{quick}: {} ms", phase(&outcome, quick).p95_ms);
    }
    // Two VUs open two connections, then reuse them: connecting is 0 on every other request.
    let connecting = phase(&outcome, "http_req_connecting");
    assert_eq!(connecting.count - connecting.zeros, 2, "two new connections of {count}");
    assert!(connecting.max_ms > 0.0);
    assert_eq!(phase(&outcome, "http_req_tls_handshaking").zeros, count, "no TLS on plain http");
    // The phases are parts of the latency.
    let parts: f64 =
        ["http_req_blocked", "http_req_connecting", "http_req_sending", "http_req_waiting", "http_req_receiving"]
            .iter()
            .map(|name| phase(&outcome, name).avg_ms)
            .sum();
    let latency = stats.expected.avg_ms();
    assert!(parts <= latency + 0.01 && parts >= latency * 0.9, "phases {parts} ms of a {latency} ms latency");

    // A threshold on a phase judges it, and the same samples are on /metrics.
    assert_eq!(failing(&outcome), ["http_req_waiting_p95"], "20 ms to first byte is not under 19 ms");
    let exported = value(&metrics, "sloprober_http_req_waiting_seconds_count", &[("scenario", "plain")]);
    assert_eq!(exported, count as f64);
    let within =
        value(&metrics, "sloprober_http_req_waiting_seconds_bucket", &[("scenario", "plain"), ("le", "0.019")]);
    assert_eq!(within, 0.0, "the threshold's bound is a bucket boundary, and no answer came within it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_through_another_host_gets_no_cookie_or_key_and_its_cookie_stays_there_as_with_curl() {
    let _serial = serial().await;
    let (home, heads) = recording_server();
    let (away, away_heads) = recording_server();
    // home -> localhost:away/bake (another host: sets `baked`) -> home/echo, then the next step home/echo again.
    let chain = format!("/to-localhost/{}/bake/{}/echo", away.port(), home.port());
    let dir = tempfile::tempdir().unwrap();
    let journeys = format!(
        "      walk:\n        steps:\n          - {{name: login, path: /set, checks: [{{status: 200}}]}}\n          - {{name: chain, path: \"{chain}\", checks: [{{status: 200}}]}}\n          - {{name: again, path: /echo, checks: [{{status: 200}}]}}\n"
    );
    let yaml = format!(
        "target:\n  base_url: http://{home}\n  headers: {{Authorization: \"Bearer ${{API_KEY}}\"}}\nscenarios:\n  s:\n    journeys:\n{journeys}    profiles:\n      test: {{executor: per-vu-iterations, vus: 1, iterations: 1}}\n"
    );
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(outcome.passed(), "{:?}", outcome.snapshot.requests.iter().map(|r| &r.stats.statuses).collect::<Vec<_>>());
    let ours: Vec<String> = heads.lock().unwrap().iter().map(|h| h.to_ascii_lowercase()).collect();
    let ours_away: Vec<String> = away_heads.lock().unwrap().iter().map(|h| h.to_ascii_lowercase()).collect();

    // curl -L with its cookie engine, the key as a header: the same chain.
    heads.lock().unwrap().clear();
    away_heads.lock().unwrap().clear();
    let jar = dir.path().join("curl-cookies");
    let status = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-L", "-b", "", "-c"])
        .arg(&jar)
        .args(["-H", &format!("Authorization: Bearer {API_KEY}")])
        .arg(format!("http://{home}{chain}"))
        .status()
        .unwrap();
    assert!(status.success());
    let curls: Vec<String> = heads.lock().unwrap().iter().map(|h| h.to_ascii_lowercase()).collect();
    let curls_away: Vec<String> = away_heads.lock().unwrap().iter().map(|h| h.to_ascii_lowercase()).collect();

    let key = API_KEY.to_ascii_lowercase();
    let at = |heads: &[String], line: &str| heads.iter().find(|h| h.starts_with(line)).cloned().unwrap_or_default();
    for (who, home_heads, away_heads) in [("sloprober", &ours, &ours_away), ("curl", &curls, &curls_away)] {
        let hop_away = at(away_heads, "get /bake/");
        assert!(!hop_away.is_empty() && !hop_away.contains(&key), "{who}: no key to another host: {hop_away}");
        let back = at(home_heads, "get /echo ");
        assert!(back.contains(&key), "{who}: the key again back at the request's origin: {back}");
        assert!(!back.contains("baked=1"), "{who}: another host's cookie stays with it: {back}");
    }
    let again = ours.iter().filter(|h| h.starts_with("get /echo ")).nth(1).cloned().unwrap_or_default();
    assert!(!again.is_empty() && !again.contains("baked=1"), "nor does a later step carry it: {again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_count_the_requests_their_when_says() {
    let _serial = serial().await;
    // Half the answers are 200s that are not JSON: their check fails.
    let target = start_target(r#"{"generate": {"garbage_rate": 0.5}}"#).await;
    let step = |name: &str, counter: &str| {
        format!(
            "          - {{name: {name}, method: POST, path: /api/v1/generate, json: {{model: gpt-4, prompt: hi}}, checks: [{{json_path: $.text}}], counter: {counter}}}\n"
        )
    };
    let yaml = format!(
        "target:\n  base_url: {}\n  headers: {{Authorization: \"Bearer ${{API_KEY}}\"}}\nmetrics:\n  custom: {{completed: counter, broken: counter, sent: counter}}\n\
         scenarios:\n  s:\n    journeys:\n      flow:\n        steps:\n{}{}{}\
         \x20   profiles:\n      test: {{executor: per-vu-iterations, vus: 2, iterations: 20}}\n\
         thresholds:\n  completed: [\"count>0\"]\n",
        target.url(),
        step("passing", "{name: completed, when: passed}"),
        step("failing", "{name: broken, when: failed}"),
        step("every", "sent"),
    );
    let dir = tempfile::tempdir().unwrap();
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    let stats = |name: &str| &outcome.snapshot.requests.iter().find(|r| r.request == name).unwrap().stats;
    let (passing, failing, every) = (stats("passing"), stats("failing"), stats("every"));
    assert_eq!((passing.count, failing.count, every.count), (40, 40, 40));
    let counted = |name: &str| value(&metrics, &format!("{name}_total"), &[("scenario", "s")]);
    assert_eq!(counted("completed"), (passing.count - passing.failed_total()) as f64, "only what passed");
    assert_eq!(counted("broken"), failing.failed_total() as f64, "only what failed");
    assert!(counted("completed") > 0.0 && counted("broken") > 0.0, "the target broke half its answers");
    assert_eq!(counted("sent"), 40.0, "every request, by default");
    assert!(outcome.passed(), "count>0 of the passing ones");
}

/// Each request's head and body, in order.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// A server that answers 200 to everything and keeps each request's head and body.
fn body_recorder() -> (std::net::SocketAddr, Received) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = std::io::BufReader::new(stream);
                while let Ok(Some((head, body))) = sloprober::demo_target::fixed_delay::read_request(&mut reader) {
                    kept.lock().unwrap().push((head, body));
                    let _ = writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                }
            });
        }
    });
    (addr, seen)
}

/// `form:`, `multipart:` with a file, and `body_file:`, files found beside the config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_multipart_and_file_bodies_go_out_as_written() {
    let (addr, seen) = body_recorder();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("answers.csv"), "question,answer\nq-1,B\n").unwrap();
    let blob: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    std::fs::write(dir.path().join("blob.bin"), &blob).unwrap();
    let yaml = format!(
        r#"target: {{base_url: "http://{addr}"}}
vars: {{tenant: t-1}}
scenarios:
  bodies:
    journeys:
      j:
        steps:
          - {{name: search, method: POST, path: /search, form: {{q: "photo synthesis & co", tenant: "{{{{ tenant }}}}"}}}}
          - name: upload
            method: POST
            path: /upload
            multipart:
              title: "Quiz {{{{ iteration }}}}"
              answers: {{file: answers.csv, content_type: text/csv}}
          - {{name: raw, method: PUT, path: /raw, body_file: blob.bin}}
    profiles:
      test: {{executor: per-vu-iterations, vus: 1, iterations: 1, max_duration: 10s}}
"#
    );
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert!(outcome.snapshot.requests.iter().all(|r| r.stats.count == 1 && r.stats.failed_total() == 0));
    let seen = seen.lock().unwrap();
    let find = |line: &str| seen.iter().find(|(head, _)| head.starts_with(line)).unwrap().clone();
    let header = |head: &str, name: &str| {
        head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string)).unwrap_or_default()
    };

    let (head, body) = find("POST /search ");
    assert_eq!(header(&head, "content-type"), "application/x-www-form-urlencoded");
    assert_eq!(String::from_utf8(body).unwrap(), "q=photo+synthesis+%26+co&tenant=t-1");

    let (head, body) = find("POST /upload ");
    let content_type = header(&head, "content-type");
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=").expect(&content_type);
    let expected = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"answers\"; filename=\"answers.csv\"\r\nContent-Type: text/csv\r\n\r\nquestion,answer\nq-1,B\n\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nQuiz 0\r\n--{boundary}--\r\n"
    );
    assert_eq!(String::from_utf8(body).unwrap(), expected);

    let (head, body) = find("PUT /raw ");
    assert_eq!(header(&head, "content-type"), "application/octet-stream");
    assert_eq!(body, blob, "the file, byte for byte");
}
