//! Journeys against the stateful demo target: captured ids reach later
//! steps, cleanup always runs, cookies stay per VU, and k6's
//! iteration_duration and group_duration are measured and judged.

use crate::common::*;
use std::time::Duration;

/// A one-scenario config at `url` whose iteration is `journeys`, played by `executor`.
fn journey_config(url: &str, journeys: &str, executor: &str, extra: &str) -> String {
    format!(
        "target:\n  base_url: {url}\n  headers: {{Authorization: \"Bearer ${{API_KEY}}\"}}\n  timeout: 2s\n\
         scenarios:\n  flow:\n{extra}    journeys:\n{journeys}    profiles:\n      test: {executor}\n"
    )
}

const SHARED_40: &str = "{executor: shared-iterations, vus: 4, iterations: 40, max_duration: 20s}";

/// The assessment journey of config/aivo.yaml, without think time.
const ASSESSMENT: &str = r#"      take_assessment:
        steps:
          - name: create
            method: POST
            path: /api/v1/assessments
            json: {title: "Quiz {{ counter }}", questions: 5}
            checks: [{status: 201}]
            capture: {assessment_id: {json_path: $.id}}
          - group: record answers
            repeat: 5
            steps:
              - name: answer
                method: POST
                path: /api/v1/assessments/{{ assessment_id }}/answers
                json: {learner_id: l-1, question_id: "q-{{ index }}", answer: B}
                checks: [{status: 201}]
          - name: grade
            method: POST
            path: /api/v1/assessments/{{ assessment_id }}/grade
            json: {learner_id: l-1}
            checks: [{status: 200}, {json_path: $.answers, equals: 5}]
          - name: delete
            method: DELETE
            path: /api/v1/assessments/{{ assessment_id }}
            checks: [{status: 204}]
            always: true
"#;

fn objects(target: &Target, kind: &str, count: &str) -> u64 {
    target.state.stats()["objects"][kind][count].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assessment_journey_uses_only_ids_it_created_and_deletes_them() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = journey_config(&target.url(), ASSESSMENT, SHARED_40, "");
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    let count = |request: &str| value(&metrics, "sloprober_http_reqs_total", &[("request", request)]);
    assert_eq!(value(&metrics, "sloprober_http_req_failed_total", &[]), 0.0, "{metrics}");
    assert_eq!(count("create"), 40.0);
    assert_eq!(count("answer"), 200.0, "five answers per assessment");
    assert_eq!(count("grade"), 40.0);
    assert_eq!(count("delete"), 40.0);
    assert_eq!(objects(&target, "assessments", "unknown_id"), 0, "every answer and grade went to a created id");
    assert_eq!(objects(&target, "assessments", "created"), 40);
    assert_eq!(objects(&target, "assessments", "deleted"), 40, "cleanup deleted what the journey created");
    assert_eq!(objects(&target, "assessments", "live"), 0);
    assert_eq!(value(&metrics, "sloprober_iteration_duration_seconds_count", &[("scenario", "flow")]), 40.0);
    let group = [("scenario", "flow"), ("group", "::record answers")];
    assert_eq!(value(&metrics, "sloprober_group_duration_seconds_count", &group), 40.0, "one per iteration");
    assert_eq!(value(&metrics, "sloprober_iterations_incomplete_total", &[]), 0.0);
    assert!(outcome.passed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_and_loop_variables_render_in_later_steps() {
    let _serial = serial().await;
    let (addr, heads) = recording_server();
    let dir = tempfile::tempdir().unwrap();
    // /moved answers `location: /`; /echo answers with the request's header lines.
    let journeys = r#"      walk:
        steps:
          - name: moved
            path: /moved
            max_redirects: 0
            checks: [{status: 302}]
            capture: {next: {header: location}}
          - name: echo
            path: /echo
            headers: {X-Token: "tok-{{ vu }}-{{ iteration }}"}
            capture: {token: {regex: "x-token: (tok-[0-9]+-[0-9]+)"}}
          - for_each: [x, y]
            as: item
            steps:
              - name: item
                path: "/items/{{ item }}?from={{ next }}&token={{ token }}"
          - repeat: 2
            steps:
              - name: numbered
                path: /n/{{ index }}
                headers: {X-Token: "{{ token }}"}
"#;
    let yaml = journey_config(
        &format!("http://{addr}"),
        journeys,
        "{executor: per-vu-iterations, vus: 1, iterations: 2, max_duration: 10s}",
        "",
    );
    let (_, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert_eq!(value(&metrics, "sloprober_http_req_failed_total", &[]), 0.0, "{metrics}");
    let lines: Vec<String> = heads.lock().unwrap().iter().map(|h| h.lines().next().unwrap().to_string()).collect();
    let mut expected = Vec::new();
    for iteration in 0..2 {
        let token = format!("tok-1-{iteration}");
        expected.extend([
            "GET /moved HTTP/1.1".to_string(),
            "GET /echo HTTP/1.1".to_string(),
            format!("GET /items/x?from=/&token={token} HTTP/1.1"),
            format!("GET /items/y?from=/&token={token} HTTP/1.1"),
            "GET /n/1 HTTP/1.1".to_string(),
            "GET /n/2 HTTP/1.1".to_string(),
        ]);
    }
    assert_eq!(lines, expected);
    let numbered = heads.lock().unwrap().iter().filter(|h| h.contains("x-token: tok-1-")).count();
    assert_eq!(numbered, 2 * 3, "echo sends its own token, then each numbered step the captured one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_that_finds_nothing_ends_the_iteration_and_cleanup_still_runs() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let journeys = ASSESSMENT.replace(
        "capture: {assessment_id: {json_path: $.id}}",
        "capture: {assessment_id: {json_path: $.id}, owner: {json_path: $.owner}}",
    );
    let yaml = journey_config(&target.url(), &journeys, SHARED_40, "");
    let (_, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    let count = |request: &str| value(&metrics, "sloprober_http_reqs_total", &[("request", request)]);
    assert_eq!(
        value(&metrics, "sloprober_http_req_failed_total", &[("request", "create"), ("reason", "capture")]),
        40.0,
        "the answer has no owner: each create fails with reason capture"
    );
    assert_eq!(count("answer") + count("grade"), 0.0, "the rest of the journey is skipped");
    assert_eq!(count("delete"), 40.0, "the cleanup step runs anyway");
    assert_eq!(objects(&target, "assessments", "deleted"), 40, "with the id that was captured");
    let incomplete = [("journey", "take_assessment"), ("reason", "capture_failed")];
    assert_eq!(value(&metrics, "sloprober_iterations_incomplete_total", &incomplete), 40.0);
    assert_eq!(
        value(&metrics, "sloprober_group_duration_seconds_count", &[]),
        0.0,
        "a group that was skipped is not timed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_goes_on_after_a_failure_skips_only_what_needs_its_value() {
    let _serial = serial().await;
    let target = start_target(r#"{"create": {"error_rate": 1.0, "error_status": 503}}"#).await;
    let dir = tempfile::tempdir().unwrap();
    let journeys = ASSESSMENT.replace(
        "capture: {assessment_id: {json_path: $.id}}",
        "capture: {assessment_id: {json_path: $.id}}\n            on_failure: continue",
    ) + "          - name: health\n            path: /health\n";
    let yaml = journey_config(&target.url(), &journeys, SHARED_40, "");
    let (_, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    let count = |request: &str| value(&metrics, "sloprober_http_reqs_total", &[("request", request)]);
    assert_eq!(count("create"), 40.0);
    assert_eq!(count("answer") + count("grade") + count("delete"), 0.0, "they need the id");
    assert_eq!(count("health"), 40.0, "a step that needs nothing still runs");
    let incomplete = [("journey", "take_assessment"), ("reason", "missing_variable")];
    assert_eq!(value(&metrics, "sloprober_iterations_incomplete_total", &incomplete), 40.0);
    assert_eq!(objects(&target, "assessments", "unknown_id"), 0);
}

const LOGIN: &str = r#"      session:
        steps:
          - name: login
            method: POST
            path: /api/v1/login
            json: {username: "learner-{{ vu }}"}
            checks: [{status: 200}]
          - name: me
            path: /api/v1/me
            checks: [{status: 200}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_vu_sends_back_the_cookies_it_was_given_unless_the_jar_is_off() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = journey_config(&target.url(), LOGIN, SHARED_40, "");
    let (_, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert_eq!(value(&metrics, "sloprober_http_reqs_total", &[("request", "me"), ("status", "200")]), 40.0);
    assert_eq!(objects(&target, "sessions", "created"), 40);

    let yaml = journey_config(&target.url(), LOGIN, SHARED_40, "    cookies: false\n");
    let (_, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert_eq!(
        value(&metrics, "sloprober_http_reqs_total", &[("request", "me"), ("status", "401")]),
        40.0,
        "without a jar the session cookie is never sent"
    );
}

/// Every request takes exactly 20 ms; a journey of three (one in a group
/// repeated twice) and a 30 ms sleep lasts 20 + 2 x 20 + 30 = 90 ms.
fn timed_journey(addr: std::net::SocketAddr, thresholds: &str) -> String {
    let journeys = r#"      timed:
        steps:
          - name: first
            path: /a
          - group: pair
            repeat: 2
            steps:
              - name: second
                path: /b
          - sleep: 30ms
"#;
    journey_config(
        &format!("http://{addr}"),
        journeys,
        "{executor: per-vu-iterations, vus: 2, iterations: 10, max_duration: 20s}",
        "",
    ) + thresholds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_and_iteration_duration_thresholds_pass_and_fail_as_k6_judges_them() {
    let _serial = serial().await;
    let addr = precise_server(Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    let thresholds = "thresholds:\n  \"group_duration{group:::pair}\": [\"p(95)<60\", \"p(95)>35\"]\n  iteration_duration: [\"p(95)<110\", \"avg>85\"]\n";
    let (outcome, metrics) = play(&run_options(dir.path(), &timed_journey(addr, thresholds), &[])).await;
    assert!(outcome.passed(), "{}", sloprober::report::render_summary(&outcome));
    assert_eq!(value(&metrics, "sloprober_group_duration_seconds_count", &[("group", "::pair")]), 20.0);
    assert_eq!(value(&metrics, "sloprober_iteration_duration_seconds_count", &[]), 20.0);
    let summary = sloprober::report::render_summary(&outcome);
    assert!(summary.contains("group_duration{group:::pair}"), "{summary}");

    let failing =
        "thresholds:\n  \"group_duration{group:::pair}\": [\"p(95)<35\"]\n  iteration_duration: [\"p(95)<80\"]\n";
    let (outcome, _) = play(&run_options(dir.path(), &timed_journey(addr, failing), &[])).await;
    let failed: Vec<&str> = outcome
        .plan
        .thresholds
        .iter()
        .zip(&outcome.verdicts)
        .filter(|(_, v)| !v.passed)
        .map(|(t, _)| t.slo.as_str())
        .collect();
    assert_eq!(failed, ["group_duration_pair_p95", "iteration_duration_p95"]);
}

/// A setup that logs in and creates an assessment; iterations use both; the teardown deletes it.
const WITH_SETUP: &str = r#"    cookies: false
    setup:
      every: 1s
      steps:
        - name: login
          method: POST
          path: /api/v1/login
          json: {username: prober}
          capture: {token: {json_path: $.token}}
        - name: create
          method: POST
          path: /api/v1/assessments
          json: {title: shared}
          capture: {assessment_id: {json_path: $.id}}
    teardown:
      steps:
        - name: delete
          method: DELETE
          path: /api/v1/assessments/{{ assessment_id }}
          checks: [{status: 204}]
"#;

const USES_SETUP: &str = r#"      use:
        steps:
          - name: me
            path: /api/v1/me
            headers: {X-Session: "{{ token }}"}
            checks: [{status: 200}]
          - name: answer
            method: POST
            path: /api/v1/assessments/{{ assessment_id }}/answers
            json: {learner_id: "l-{{ vu }}", question_id: q-1}
            checks: [{status: 201}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_setup_captures_reaches_every_vu_and_the_teardown_runs_once() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = journey_config(&target.url(), USES_SETUP, SHARED_40, WITH_SETUP);
    let (_, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert_eq!(value(&metrics, "sloprober_http_req_failed_total", &[]), 0.0, "{metrics}");
    assert_eq!(value(&metrics, "sloprober_http_reqs_total", &[("request", "me"), ("status", "200")]), 40.0);
    assert_eq!(value(&metrics, "sloprober_http_reqs_total", &[("request", "answer"), ("status", "201")]), 40.0);
    assert_eq!(objects(&target, "sessions", "created"), 1, "a run plays its setup once (every: is the daemon's)");
    assert_eq!(objects(&target, "assessments", "created"), 1);
    assert_eq!(objects(&target, "assessments", "deleted"), 1, "the teardown ran, with the setup's id");
    assert_eq!(objects(&target, "assessments", "unknown_id"), 0);
    assert_eq!(
        value(&metrics, "sloprober_iteration_duration_seconds_count", &[]),
        40.0,
        "setup and teardown are not iterations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_plays_its_setup_again_on_its_interval() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let executor = "{executor: constant-arrival-rate, rate: 20, duration: 1h, pre_allocated_vus: 4, max_vus: 20}";
    let yaml = journey_config(&target.url(), USES_SETUP, executor, WITH_SETUP);
    let daemon = start_daemon(&yaml, "test").await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let metrics = daemon.stop().await;
    let logins = objects(&target, "sessions", "created");
    assert!((3..=5).contains(&logins), "setup at start, then every second: {logins} logins in 3.5 s");
    assert_eq!(value(&metrics, "sloprober_http_reqs_total", &[("request", "me"), ("status", "401")]), 0.0);
    assert!(value(&metrics, "sloprober_http_reqs_total", &[("request", "me"), ("status", "200")]) >= 40.0);
    assert_eq!(objects(&target, "assessments", "deleted"), 0, "a daemon has no teardown");
}

/// `sloprober run --profile test --no-progress --config CONFIG`, off the async runtime.
async fn run_binary(config: std::path::PathBuf) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        sloprober_binary()
            .args(["run", "--profile", "test", "--no-progress", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_setup_fails_sends_nothing_more_and_exits_107_as_k6() {
    let _serial = serial().await;
    let target = start_target(r#"{"login": {"error_rate": 1.0}}"#).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sloprober.yaml");
    std::fs::write(&config, journey_config(&target.url(), USES_SETUP, SHARED_40, WITH_SETUP)).unwrap();
    let output = run_binary(config).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(107), "{stderr}");
    assert!(stderr.contains("setup of scenario flow failed: step login: status 500 not expected"), "{stderr}");
    assert_eq!(target.stat("requests", "login"), 1, "the setup's first step, once");
    for after in ["create", "me", "answer", "delete_assessment"] {
        assert_eq!(target.stat("requests", after), 0, "nothing is sent after a failed setup: {after}");
    }

    // A setup slower than its timeout fails the same way, when the timeout comes.
    let slow = start_target(r#"{"login": {"delay_ms": 3000}}"#).await;
    let config = dir.path().join("slow.yaml");
    let yaml = journey_config(&slow.url(), USES_SETUP, SHARED_40, WITH_SETUP)
        .replace("      every: 1s\n", "      every: 1s\n      timeout: 300ms\n");
    std::fs::write(&config, yaml).unwrap();
    let started = std::time::Instant::now();
    let output = run_binary(config).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(107), "{stderr}");
    assert!(stderr.contains("setup of scenario flow failed: it did not finish within its timeout (300ms)"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_millis(2500), "{:?}", started.elapsed());
    assert_eq!(slow.stat("requests", "create"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_makes_no_load_until_the_setup_passes_and_says_why() {
    let _serial = serial().await;
    let target = start_target(r#"{"login": {"error_rate": 1.0}}"#).await;
    let yaml = journey_config(
        &target.url(),
        USES_SETUP,
        "{executor: constant-arrival-rate, rate: 20, duration: 1h, pre_allocated_vus: 4}",
        WITH_SETUP,
    )
    .replace("test: {executor", "continuous: {executor");
    let daemon = start_daemon(&yaml, "continuous").await;
    let status = |addr| async move {
        let body = get(&format!("http://{addr}/status.json")).await.1;
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    // The setup (every 1s) keeps failing: no load, and it says so.
    let failing = loop {
        let doc = status(daemon.addr).await;
        if doc["scenarios"][0]["setup_failure"].is_string() {
            break doc;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let metrics = daemon.scrape().await;
    assert_eq!(value(&metrics, "sloprober_setup_successful", &[("scenario", "flow")]), 0.0);
    assert!(target.stat("requests", "login") >= 2, "tried again");
    assert_eq!(target.stat("requests", "me"), 0, "none of the load while the setup fails");
    let why = failing["scenarios"][0]["setup_failure"].as_str().unwrap();
    assert_eq!(why, "step login: status 500 not expected");

    // The login answers again: the setup passes and the load starts.
    let reset = reqwest::Client::new().delete(format!("{}/admin/faults", target.url())).send().await.unwrap();
    assert!(reset.status().is_success());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while target.stat("requests", "me") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the load never started");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let metrics = daemon.scrape().await;
    assert_eq!(value(&metrics, "sloprober_setup_successful", &[("scenario", "flow")]), 1.0);
    assert!(status(daemon.addr).await["scenarios"][0]["setup_failure"].is_null());
    daemon.stop().await;
}

/// `when:` on steps and blocks: every Nth iteration of a VU (as k6's
/// `__ITER % N === 0`), by chance, and when an expression over vars holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_run_when_their_condition_holds() {
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"target:
  base_url: {url}
  headers: {{Authorization: "Bearer ${{API_KEY}}"}}
vars: {{tier: gold}}
scenarios:
  flow:
    journeys:
      j:
        steps:
          - {{name: always_sent, path: /health}}
          - {{name: every_tenth, path: /health, when: {{every: 10}}}}
          - {{name: half, path: /health, when: {{chance: 0.5}}}}
          - {{name: gold_only, path: /health, when: {{expr: "tier == 'gold'"}}}}
          - {{name: silver_only, path: /health, when: {{expr: "tier == 'silver'"}}}}
          - group: rarely
            when: {{every: 20}}
            steps:
              - {{name: in_block, path: /health}}
    profiles:
      test: {{executor: per-vu-iterations, vus: 2, iterations: 20, max_duration: 30s}}
"#,
        url = target.url()
    );
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    let count = |name: &str| outcome.snapshot.requests.iter().find(|r| r.request == name).unwrap().stats.count;
    assert_eq!(count("always_sent"), 40);
    assert_eq!(count("every_tenth"), 4, "iterations 0 and 10 of each VU");
    assert!((8..=32).contains(&count("half")), "about half of 40: {}", count("half"));
    assert_eq!(count("gold_only"), 40);
    assert_eq!(count("silver_only"), 0);
    assert_eq!(count("in_block"), 2, "the block on each VU's first iteration only");
    let group = outcome.snapshot.spans.iter().find(|s| s.group.as_deref() == Some("::rarely")).unwrap();
    assert_eq!(group.durations.count(), 2, "a skipped block is not timed");
}

/// `set:` chooses a value once per iteration; later steps send it, check
/// the answer against it, and decide on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_set_once_is_what_later_steps_send_check_and_decide_on() {
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"target:
  base_url: {url}
  headers: {{Authorization: "Bearer ${{API_KEY}}"}}
scenarios:
  flow:
    journeys:
      j:
        steps:
          - set: {{model: "{{{{ random_choice('gpt-3.5-turbo', 'gpt-4') }}}}", tokens: "{{{{ random_int(16, 64) }}}}"}}
          - name: generate
            method: POST
            path: /api/v1/generate
            json: {{model: "{{{{ model }}}}", prompt: hi, max_tokens: "{{{{ tokens }}}}"}}
            checks: [{{name: echoes the model, expr: "body.model == model && tokens >= 16"}}]
          - {{name: when_gpt4, path: /health, when: {{expr: "model == 'gpt-4'"}}}}
          - {{name: when_gpt35, path: /health, when: {{expr: "model == 'gpt-3.5-turbo'"}}}}
    profiles:
      test: {{executor: per-vu-iterations, vus: 1, iterations: 30, max_duration: 30s}}
"#,
        url = target.url()
    );
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    let stats = |name: &str| &outcome.snapshot.requests.iter().find(|r| r.request == name).unwrap().stats;
    assert_eq!(stats("generate").count, 30);
    assert_eq!(stats("generate").checks_passed[0], 30, "the answer echoes the model this iteration chose");
    let (gpt4, gpt35) = (stats("when_gpt4").count, stats("when_gpt35").count);
    assert_eq!(gpt4 + gpt35, 30, "one model per iteration");
    assert!(gpt4 > 0 && gpt35 > 0, "chosen anew each iteration: {gpt4} and {gpt35}");
}

/// Three suggestions at once, then two requests one at a time (`batch_per_host: 1`),
/// against a server that answers each request after exactly 50 ms.
const PARALLEL: &str = r#"      browse:
        steps:
          - group: typeahead
            parallel: true
            for_each: [al, alg, alge]
            as: prefix
            steps:
              - name: suggest
                path: "/suggest?q={{ prefix }}"
          - group: one by one
            parallel: true
            batch_per_host: 1
            steps: [{name: a, path: /a}, {name: b, path: /b}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_block_sends_its_requests_at_once_as_k6s_batch() {
    let _serial = serial().await;
    let addr = precise_server(Duration::from_millis(50));
    let dir = tempfile::tempdir().unwrap();
    let executor = "{executor: per-vu-iterations, vus: 2, iterations: 10, max_duration: 20s}";
    let thresholds = "thresholds:\n  \"group_duration{group:::typeahead}\": [\"p(95)<85\", \"avg>=49\"]\n  \
                      \"group_duration{group:::one by one}\": [\"avg>=99\"]\n";
    let yaml = journey_config(&format!("http://{addr}"), PARALLEL, executor, "") + thresholds;
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    let count = |request: &str| value(&metrics, "sloprober_http_reqs_total", &[("request", request)]);
    assert_eq!((count("suggest"), count("a"), count("b")), (60.0, 20.0, 20.0), "{metrics}");
    assert_eq!(value(&metrics, "sloprober_http_req_failed_total", &[]), 0.0);
    // Three 50 ms requests in about 50 ms; two kept one at a time in about 100 ms.
    assert!(outcome.passed(), "{}", sloprober::report::render_summary(&outcome));
}

/// A login and a health check at once; the step after the block sends the
/// session cookie the login set and the user it captured.
const PARALLEL_LOGIN: &str = r#"      login:
        steps:
          - parallel: true
            steps:
              - name: health
                path: /health
              - name: login
                method: POST
                path: /api/v1/login
                json: {username: "u{{ vu }}"}
                capture: {user: {json_path: $.user}}
          - name: me
            path: "/api/v1/me?u={{ user }}"
            checks: [{status: 200}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_parallel_request_captures_and_is_given_reaches_the_steps_after() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = journey_config(&target.url(), PARALLEL_LOGIN, SHARED_40, "");
    let (_, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    assert_eq!(value(&metrics, "sloprober_http_reqs_total", &[("request", "login")]), 40.0);
    assert_eq!(
        value(&metrics, "sloprober_http_reqs_total", &[("request", "me"), ("status", "200")]),
        40.0,
        "the cookie the login set in the block went out with me: {metrics}"
    );
    // `me` reads the user the block captured: had it not come back, the step would have been skipped.
    assert_eq!(value(&metrics, "sloprober_iterations_incomplete_total", &[]), 0.0, "{metrics}");
}

/// `sloprober run` of the shipped config/aivo.yaml, scenario `scenario`
/// only, 3 VUs sharing `iterations`, against `target`: (exit code, stdout).
async fn run_aivo(target: &Target, scenario: &str, iterations: u32) -> (Option<i32>, String) {
    let (url, scenario, dir) = (target.url(), scenario.to_string(), tempfile::tempdir().unwrap());
    let config = repo_root().join("config/aivo.yaml");
    let output = tokio::task::spawn_blocking(move || {
        sloprober_binary()
            .args(["run", "--profile", "smoke", "--no-progress", "--scenario", &scenario, "-u", "3", "-i"])
            .arg(iterations.to_string())
            .arg("--config")
            .arg(&config)
            .arg("--out")
            .arg(dir.path())
            .env("BASE_URL", url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_port_fails_each_broken_contract_that_k6s_checks_catch() {
    let _serial = serial().await;
    let healthy = start_target("{}").await;
    let broken = [
        ("gateway", r#"{"generate": {"contract_rate": 1.0}}"#, "the wrong model echoed"),
        ("assessment", r#"{"grade": {"contract_rate": 1.0}}"#, "the wrong grading mode echoed"),
        ("search", r#"{"suggest": {"contract_rate": 1.0}}"#, "suggestions off the prefix"),
    ];
    for (scenario, faults, what) in broken {
        let (code, stdout) = run_aivo(&healthy, scenario, 6).await;
        assert_eq!(code, Some(0), "{scenario} on a healthy target:\n{stdout}");
        let target = start_target(faults).await;
        let (code, stdout) = run_aivo(&target, scenario, 6).await;
        assert_eq!(code, Some(99), "{scenario} with {what}:\n{stdout}");
        assert!(stdout.contains(&format!("✗ checks{{scenario:{scenario}}} rate>0.99")), "{what}:\n{stdout}");
        // In k6's meaning an answer with its expected status did not fail: the contract is the checks' to judge.
        assert!(stdout.contains(&format!("✓ http_req_failed{{scenario:{scenario}}} rate<0.001")), "{what}:\n{stdout}");
    }
}

/// Two journeys that both log in first, with the same step.
const SHARED_LOGIN: &str = r#"      browse:
        steps:
          - {name: login, method: POST, path: /api/v1/login, json: {username: "u{{ vu }}"}, capture: {user: {json_path: $.user}}}
          - {name: me, path: "/api/v1/me?u={{ user }}", checks: [{status: 200}]}
      search:
        steps:
          - {name: login, method: POST, path: /api/v1/login, json: {username: "u{{ vu }}"}, capture: {user: {json_path: $.user}}}
          - {name: suggest, path: "/api/v1/search/suggest?q={{ user }}", checks: [{status: 200}]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_two_journeys_share_is_one_request_with_one_label() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = journey_config(&target.url(), SHARED_LOGIN, SHARED_40, "");
    let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
    let count = |request: &str| value(&metrics, "sloprober_http_reqs_total", &[("request", request)]);
    let login = [("request", "login"), ("status", "200")];
    assert_eq!(series(&metrics, "sloprober_http_reqs_total", &login).len(), 1, "one series: {metrics}");
    assert_eq!(count("login"), 40.0, "every iteration logs in, whichever journey it plays");
    assert_eq!(count("me") + count("suggest"), 40.0);
    let names: Vec<&str> = outcome.snapshot.requests.iter().map(|r| r.request.as_str()).collect();
    assert_eq!(names.iter().filter(|n| **n == "login").count(), 1, "one row in the reports: {names:?}");
    assert_eq!(value(&metrics, "sloprober_http_req_failed_total", &[]), 0.0);
}
