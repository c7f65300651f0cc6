//! Remote write against a real Prometheus (Debian's, with its remote-write
//! receiver enabled): a run's pushed series hold what its own summary
//! counts, and a receiver that is down for a while loses nothing and is
//! reported once.

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Output, Stdio};

const RECEIVER: &str = "--web.enable-remote-write-receiver";
/// Prometheus scrapes nothing here: what it holds came by remote write.
const PROMETHEUS: &str = "global: {evaluation_interval: 1s}\n";

/// `rate`/s for `seconds`: exactly `rate * seconds` requests.
fn config(url: &str, rate: u32, seconds: u32, remote_write: &str) -> String {
    format!(
        r#"target:
  base_url: {url}
  headers: {{Authorization: "Bearer ${{API_KEY}}"}}
metrics:
{remote_write}scenarios:
  embed:
    requests:
      - name: embeddings
        method: POST
        path: /api/v1/embeddings
        json: {{input: "fractions"}}
        checks: [{{status: 200}}]
    profiles:
      test: {{executor: constant-arrival-rate, rate: {rate}, duration: {seconds}s, pre_allocated_vus: 5, max_vus: 20}}
thresholds:
  http_req_duration: ["p(95)<2000"]
"#
    )
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn run(config: &Path, args: &[&str]) -> Output {
    let mut command = sloprober_binary();
    command.args(["run", "--profile", "test", "--no-progress", "--config"]).arg(config).args(args);
    tokio::task::spawn_blocking(move || command.stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap())
        .await
        .unwrap()
}

fn summary(out: &Path) -> Value {
    let dir = std::fs::read_dir(out).unwrap().next().unwrap().unwrap().path();
    serde_json::from_str(&std::fs::read_to_string(dir.join("embed-summary.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_pushed_series_hold_what_its_summary_counts() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let (_prometheus, prometheus) = start_prometheus(dir.path(), PROMETHEUS, &[RECEIVER]).await;
    let target = start_target("{}").await;
    let remote_write = format!(
        "  remote_write:\n    url: {prometheus}/api/v1/write\n    interval: 1s\n    bearer_token: \"${{RW_TOKEN}}\"\n    labels: {{pipeline: nightly}}\n"
    );
    let file = dir.path().join("run.yaml");
    std::fs::write(&file, config(&target.url(), 50, 4, &remote_write)).unwrap();
    let out = dir.path().join("out");
    std::env::set_var("RW_TOKEN", "rw-s3cret-token");
    let output = run(&file, &["--run-id", "ci-4711", "--out", out.to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(log.contains("every push delivered"), "{log}");
    assert!(!log.contains("rw-s3cret-token"), "{log}");

    let report = summary(&out);
    let count = report["metrics"]["http_reqs"]["values"]["count"].as_f64().unwrap();
    assert_eq!(count, 200.0);
    assert_eq!(report["run_id"], "ci-4711");
    let selector = r#"testid="ci-4711",profile="test",pipeline="nightly""#;
    let pushed = promql_value(&prometheus, &format!("sum(sloprober_http_reqs_total{{{selector}}})")).await;
    assert_eq!(pushed, Some(count), "requests in Prometheus = the run's summary");
    let all = promql_value(
        &prometheus,
        &format!("sum(sloprober_http_req_duration_seconds_bucket{{{selector},le=\"+Inf\"}})"),
    )
    .await;
    assert_eq!(all, Some(count));
    let histogram_count =
        promql_value(&prometheus, &format!("sum(sloprober_http_req_duration_seconds_count{{{selector}}})")).await;
    assert_eq!(histogram_count, Some(count));
    // The buckets are the run's own: cumulative up to the count, and the p95 Prometheus computes from them
    // agrees with the run's exact p95 to within the bucket it falls in.
    let p95 = promql_value(
        &prometheus,
        &format!("histogram_quantile(0.95, sum by (le) (sloprober_http_req_duration_seconds_bucket{{{selector}}}))"),
    )
    .await
    .unwrap();
    let exact = report["metrics"]["http_req_duration"]["values"]["p(95)"].as_f64().unwrap() / 1000.0;
    eprintln!("p95: run {exact:.5} s, Prometheus from the pushed buckets {p95:.5} s");
    let bounds: Vec<f64> = sloprober::model::defaults::LATENCY_BUCKETS.to_vec();
    let upper = bounds.iter().copied().find(|b| *b >= exact).unwrap();
    let lower = bounds.iter().copied().filter(|b| *b < exact).fold(0.0, f64::max);
    assert!(p95 >= lower && p95 <= upper, "{p95} not in the bucket ({lower}, {upper}] of the exact {exact}");
    let checks = promql_value(&prometheus, &format!("sum(sloprober_checks_total{{{selector},result=\"pass\"}})")).await;
    assert_eq!(checks, Some(count), "one passed check per request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_then_up_gets_every_count_and_is_reported_once() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let target = start_target("{}").await;
    let file = dir.path().join("run.yaml");
    std::fs::write(&file, config(&target.url(), 40, 6, "  custom: {}\n")).unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/api/v1/write");
    let out = dir.path().join("out");
    let args =
        ["--run-id", "ci-down-up", "--remote-write", url.as_str(), "--out", out.to_str().unwrap()].map(String::from);
    let running = tokio::spawn({
        let file = file.clone();
        async move { run(&file, &args.iter().map(String::as_str).collect::<Vec<_>>()).await }
    });
    // Down for the first 2 s of a 6 s run, then Prometheus starts on that port.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (_prometheus, prometheus) = start_prometheus_on(port, dir.path(), PROMETHEUS, &[RECEIVER]).await;
    let output = running.await.unwrap();
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "the verdict stands: {log}");
    let failing: Vec<&str> = log.lines().filter(|l| l.contains("remote write failing")).collect();
    assert_eq!(failing.len(), 1, "reported once, not per push or sample: {log}");
    assert!(failing[0].contains("Connection refused") || failing[0].contains("connection refused"), "{}", failing[0]);
    assert!(log.contains("every push delivered"), "{log}");
    let count = summary(&out)["metrics"]["http_reqs"]["values"]["count"].as_f64().unwrap();
    assert_eq!(count, 240.0);
    let pushed = promql_value(&prometheus, "sum(sloprober_http_reqs_total{testid=\"ci-down-up\"})").await;
    assert_eq!(pushed, Some(count), "the final counts arrived");
    // The pushes queued while it was down arrived too: the series starts near the run's start.
    let first =
        promql_value(&prometheus, "min_over_time(sum(sloprober_http_reqs_total{testid=\"ci-down-up\"})[1m:1s])").await;
    assert!(first.unwrap() < count / 2.0, "early pushes kept: {first:?}");
}

/// POSTs a remote-write request as sloprober's writer does.
async fn push(prometheus: &str, request: &sloprober::remote_write::proto::WriteRequest) {
    use prost::Message;
    let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap();
    let response = reqwest::Client::new()
        .post(format!("{prometheus}/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(status.is_success(), "{status}: {}", response.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trends_dashboard_has_data_for_runs_of_this_week_and_the_week_before() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let (_prometheus, prometheus) = start_prometheus(dir.path(), PROMETHEUS, &[RECEIVER]).await;
    let target = start_target("{}").await;
    let yaml = config(&target.url(), 40, 2, "  custom: {}\n");

    // A week ago: a run played here, its series pushed as they began (0) and as they ended.
    let options = run_options(dir.path(), &yaml, &[]);
    let metrics = sloprober::metrics::ProberMetrics::shared().unwrap();
    let plan = sloprober::run::plan_for(&options).unwrap();
    let outcome = sloprober::run::execute(plan, &options, metrics.clone()).await.unwrap();
    let labels =
        [("testid", "last-week"), ("profile", "test"), ("instance", "ci-runner")].map(|(n, v)| (n.into(), v.into()));
    let week_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7 * 86400 + 600);
    let ms = week_ago.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let end = sloprober::remote_write::proto::write_request(&metrics.gather(), &labels, ms + 60_000);
    let mut start = end.clone();
    for series in &mut start.timeseries {
        let name = &series.labels.iter().find(|l| l.name == "__name__").unwrap().value;
        let counts = ["_total", "_bucket", "_count", "_sum"].iter().any(|s| name.ends_with(s));
        for sample in &mut series.samples {
            sample.timestamp = ms;
            if counts {
                sample.value = 0.0;
            }
        }
    }
    push(&prometheus, &start).await;
    push(&prometheus, &end).await;

    // Now: a run of the binary pushing by itself.
    let file = dir.path().join("now.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let url = format!("{prometheus}/api/v1/write");
    let output = run(&file, &["--run-id", "this-week", "--remote-write", &url]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(outcome.passed());

    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana/dashboards/sloprober-trends.json"))
            .unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let mut runs_table = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let concrete = expr
                .replace("$__interval", "1h")
                .replace("$__range", "8d")
                .replace("$profile", ".*")
                .replace("$scenario", ".*");
            let query =
                reqwest::Url::parse_with_params(&format!("{prometheus}/api/v1/query"), [("query", &concrete)]).unwrap();
            let body: Value = serde_json::from_str(&reqwest::get(query).await.unwrap().text().await.unwrap()).unwrap();
            assert_eq!(body["status"], "success", "{}: {concrete}\n{body}", panel["title"]);
            let result = body["data"]["result"].as_array().unwrap();
            assert!(!result.is_empty(), "{}: no data for {concrete}", panel["title"]);
            if panel["title"] == "Runs by run id and profile" && target["legendFormat"] == "requests" {
                runs_table = result
                    .iter()
                    .map(|r| {
                        (
                            r["metric"]["testid"].as_str().unwrap().to_string(),
                            r["value"][1].as_str().unwrap().to_string(),
                        )
                    })
                    .collect();
            }
        }
    }
    runs_table.sort();
    assert_eq!(runs_table, [("last-week".to_string(), "80".to_string()), ("this-week".to_string(), "80".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_pushes_while_it_runs_and_its_last_counts_when_it_stops() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let (_prometheus, prometheus) = start_prometheus(dir.path(), PROMETHEUS, &[RECEIVER]).await;
    let target = start_target("{}").await;
    let yaml = crate::common::config(&[("gateway", &target.url(), EMBEDDINGS)], 30, "");
    let url = format!("{prometheus}/api/v1/write");
    // As `--remote-write URL` sets it, with a push every second.
    let daemon = start_daemon_with_env(
        &yaml,
        "test",
        &[("SLOPROBER__METRICS__REMOTE_WRITE__URL", &url), ("SLOPROBER__METRICS__REMOTE_WRITE__INTERVAL", "1s")],
    )
    .await;
    let total = "sum(sloprober_http_reqs_total{profile=\"test\", scenario=\"gateway\"})";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while promql_value(&prometheus, total).await.unwrap_or(0.0) < 30.0 {
        assert!(tokio::time::Instant::now() < deadline, "no pushed requests after 15 s");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(
        promql_value(&prometheus, "count(sloprober_http_reqs_total{testid!=\"\"})").await,
        None,
        "no testid without --run-id"
    );
    let last = daemon.stop().await;
    let counted = value(&last, "sloprober_http_reqs_total", &[("scenario", "gateway")]);
    assert_eq!(promql_value(&prometheus, total).await, Some(counted), "the last push holds the final count");
}
