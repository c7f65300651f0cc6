//! The JSON files a run leaves per scenario: its summary and its SLO report
//! (`kind` and `version` in each; formats in docs/ci.md).

use super::k6::{Scope, SummaryData};
use super::RunOutcome;
use crate::model::metric::{Builtin, Metric, Tag};
use crate::model::sample::FailReason;
use crate::model::units::{round, NOISE_FREE};
use crate::plan::{PlannedThreshold, ScenarioPlan};
use crate::slo::{evaluate, TrendFigures, Verdict};
use crate::stats::Answers;
use crate::stats::Snapshot;
use serde_json::{json, Map, Value};
use std::time::SystemTime;

/// Bumped when a field changes meaning or disappears.
pub const REPORT_VERSION: u32 = 2;

pub(super) fn header(outcome: &RunOutcome, kind: &str, scenario: &ScenarioPlan) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("version".into(), REPORT_VERSION.into());
    map.insert("kind".into(), kind.into());
    map.insert("scenario".into(), scenario.name.clone().into());
    map.insert("profile".into(), outcome.plan.profile.clone().into());
    map.insert("run_id".into(), outcome.run_id.clone().into());
    map.insert("target".into(), scenario.base_url.clone().into());
    map.insert("started_at".into(), humantime::format_rfc3339_millis(outcome.started_at).to_string().into());
    map.insert("duration_seconds".into(), outcome.snapshot.elapsed.as_secs_f64().into());
    map
}

/// Whether a threshold concerns `scenario`: its tags allow it and the scenario feeds its metric.
fn applies(threshold: &PlannedThreshold, scenario: &ScenarioPlan) -> bool {
    let tags_allow = threshold.tags.iter().all(|(tag, v)| match tag {
        Tag::Scenario => v == &scenario.name,
        Tag::Request => scenario.requests.iter().any(|r| &r.name == v),
        Tag::Check => scenario.requests.iter().any(|r| r.checks.iter().any(|c| &c.name == v)),
        Tag::ExpectedResponse => true,
        Tag::Group => scenario.groups.contains(v),
    });
    let fed = match &threshold.metric {
        Metric::Builtin(Builtin::GroupDuration) => !scenario.groups.is_empty(),
        Metric::Builtin(_) => true,
        Metric::Custom { name, .. } => scenario.requests.iter().any(|r| r.feeds(name)),
    };
    tags_allow && fed
}

/// The k6 summary data of one scenario: its statistics, the thresholds that concern it judged on them.
fn scenario_summary(outcome: &RunOutcome, index: usize, only: &Snapshot) -> SummaryData {
    let scenario = &outcome.plan.scenarios[index];
    let thresholds =
        outcome.plan.thresholds.iter().filter(|t| applies(t, scenario)).map(|t| (t, evaluate(t, only))).collect();
    let scope = Scope {
        snapshot: only,
        scenarios: vec![scenario],
        timelines: outcome.timeline.scenarios.get(index).into_iter().collect(),
        thresholds,
        trend_stats: &outcome.plan.summary_trend_stats,
    };
    SummaryData::of(&scope, duration_ms(outcome), &outcome.plan.custom)
}

fn duration_ms(outcome: &RunOutcome) -> f64 {
    outcome.snapshot.elapsed.as_secs_f64() * 1000.0
}

/// What `--summary-export` writes: k6's legacy summary of the whole run.
pub fn summary_export(outcome: &RunOutcome) -> String {
    let scope = Scope {
        snapshot: &outcome.snapshot,
        scenarios: outcome.plan.scenarios.iter().collect(),
        timelines: outcome.timeline.scenarios.iter().collect(),
        thresholds: outcome.plan.thresholds.iter().zip(outcome.verdicts.iter().cloned()).collect(),
        trend_stats: &outcome.plan.summary_trend_stats,
    };
    let data = SummaryData::of(&scope, duration_ms(outcome), &outcome.plan.custom);
    serde_json::to_string_pretty(&data.legacy()).unwrap_or_default() + "\n"
}

/// `<scenario>-summary.json`: k6's `handleSummary` data of the scenario
/// (`root_group`, `options`, `state`, `metrics`) with sloprober's header,
/// executor, schedule lag and per-request figures.
pub(super) fn summary_json(outcome: &RunOutcome, index: usize) -> Value {
    let scenario = &outcome.plan.scenarios[index];
    let only = outcome.snapshot.only_scenario(&scenario.name);
    let mut map = header(outcome, "sloprober.summary", scenario);
    map.insert("executor".into(), scenario.executor.describe().into());
    if let Value::Object(k6) = serde_json::to_value(scenario_summary(outcome, index, &only)).unwrap_or(Value::Null) {
        map.extend(k6);
    }
    if let Some(lag) = only.merged(|_| true).and_then(|s| s.schedule_lag()) {
        map.insert("schedule_lag".into(), serde_json::to_value(lag).unwrap_or(Value::Null));
    }
    let mut requests = Map::new();
    for view in &only.requests {
        let s = &view.stats;
        let failed: Map<String, Value> =
            FailReason::ALL.iter().map(|r| (r.as_str().to_string(), s.failed_by(*r).into())).collect();
        let statuses: Map<String, Value> = s.statuses.iter().map(|(code, n)| (code.to_string(), (*n).into())).collect();
        let checks: Map<String, Value> = view
            .check_names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), json!({"passes": s.checks_passed[i], "fails": s.checks_failed[i]})))
            .collect();
        requests.insert(
            view.request.clone(),
            json!({
                "http_reqs": s.count,
                "retries": s.retries,
                "redirects": s.redirects,
                "failed": failed,
                "statuses": statuses,
                "checks": checks,
                "http_req_duration": TrendFigures::of(&s.latency(Answers::All)),
            }),
        );
    }
    map.insert("requests".into(), requests.into());
    Value::Object(map)
}

pub fn slo_entry(threshold: &PlannedThreshold, verdict: &Verdict) -> Value {
    let objective = threshold.objective;
    let sli = match (verdict.good_ratio, objective) {
        (Some(good), Some(objective)) => json!({
            "good_ratio": good,
            "objective_ratio": objective.ratio,
            "good_means": objective.describe_good(&threshold.metric),
        }),
        _ => Value::Null,
    };
    let budget = match (verdict.budget_used(threshold), objective) {
        (Some(used), Some(objective)) => json!({
            "allowed_bad_ratio": round(objective.allowed_bad_ratio(), NOISE_FREE),
            "bad_ratio": round(1.0 - verdict.good_ratio.unwrap_or(1.0), NOISE_FREE),
            "used_ratio": round(used, NOISE_FREE),
        }),
        _ => Value::Null,
    };
    let unit = threshold.metric.unit();
    json!({
        "slo": threshold.slo,
        "service": threshold.service,
        "metric": threshold.selector(),
        "threshold": threshold.expression,
        "unit": unit.symbol(),
        "observed": verdict.observed.map(|v| round(unit.to_written(v), NOISE_FREE)),
        "passed": verdict.passed,
        "no_data": !verdict.has_data(),
        "abort_on_fail": threshold.abort_on_fail,
        "sli": sli,
        "error_budget": budget,
    })
}

pub(super) fn slo_report_json(outcome: &RunOutcome, scenario: &ScenarioPlan) -> Value {
    let only = outcome.snapshot.only_scenario(&scenario.name);
    let entries: Vec<(&PlannedThreshold, Verdict)> =
        outcome.plan.thresholds.iter().filter(|t| applies(t, scenario)).map(|t| (t, evaluate(t, &only))).collect();
    let mut map = header(outcome, "sloprober.slo-report", scenario);
    // As the k6 suite's SLO reports: the service (a scenario is one), the test type (the profile), when written.
    map.insert("service".into(), scenario.name.clone().into());
    map.insert("test_type".into(), outcome.plan.profile.clone().into());
    map.insert("generated_at".into(), humantime::format_rfc3339_millis(SystemTime::now()).to_string().into());
    map.insert("passed".into(), entries.iter().all(|(_, v)| v.passed).into());
    map.insert("slos".into(), entries.iter().map(|(t, v)| slo_entry(t, v)).collect::<Vec<_>>().into());
    Value::Object(map)
}
