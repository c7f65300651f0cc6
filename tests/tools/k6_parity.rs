//! The assessment journey written once for k6 (1.1.0, the real binary) and
//! once as sloprober config, both played against the demo target with the
//! same executor and a fixed 20 ms delay, both at once so that they share
//! the machine's noise: the same requests per step, and per-step p95 and
//! group_duration p95 as k6 measures them (in one of up to three rounds).

use crate::common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

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
"#
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

/// Within 5 % or 1 ms of k6's figure, as the issue asks.
fn close(ours: f64, k6: f64) -> bool {
    (ours - k6).abs() <= (0.05 * k6).max(1.0)
}

/// Timing rounds: a real difference shows in every round, a burst of
/// machine noise in one at most.
const ROUNDS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assessment_journey_counts_and_times_as_k6_does() {
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
    let (k6_bin, k6_url, summary_path, script) = (k6(), url.to_string(), summary.clone(), script.to_path_buf());
    let k6_run = tokio::task::spawn_blocking(move || {
        Command::new(k6_bin)
            .args(["run", "--quiet", "--no-usage-report"])
            .arg(&script)
            .envs([
                ("BASE_URL", k6_url.as_str()),
                ("API_KEY", API_KEY),
                ("VUS", &VUS.to_string()),
                ("ITERATIONS", &ITERATIONS.to_string()),
                ("SUMMARY", summary_path.to_str().unwrap()),
                ("K6_NO_USAGE_REPORT", "true"),
            ])
            .status()
            .unwrap()
    });
    let options = run_options(dir, &sloprober_config(url), &[]);
    let (status, (outcome, _)) = tokio::join!(k6_run, play(&options));
    let status = status.unwrap();
    assert!(status.success(), "k6 run: {status}");
    let k6: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
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
