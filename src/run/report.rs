//! Files a run leaves behind, as the k6 suite did: per scenario a summary,
//! an SLO report and a time series (JSON, versioned), and one Markdown
//! report fit for a pull-request comment. Formats are documented in README.

use super::summary::{format_ms, format_observed};
use super::RunOutcome;
use crate::config::CustomKind;
use crate::plan::{builtin_kind, PlannedThreshold, ScenarioPlan, BUILTIN_METRICS};
use crate::sample::FailReason;
use crate::slo::{evaluate, figures, TrendFigures, Verdict};
use crate::stats::Snapshot;
use crate::threshold::{MetricSelector, Operator};
use serde_json::{json, Map, Value};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Bumped when a field changes meaning or disappears.
pub const REPORT_VERSION: u32 = 1;

/// Writes every report into `dir` (created); returns the files written.
pub fn write_reports(outcome: &RunOutcome, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    let mut write = |name: String, text: String| -> Result<(), String> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
        Ok(())
    };
    for (index, scenario) in outcome.plan.scenarios.iter().enumerate() {
        let name = &scenario.name;
        write(format!("{name}-summary.json"), pretty(&summary_json(outcome, scenario)))?;
        write(format!("{name}-slo-report.json"), pretty(&slo_report_json(outcome, scenario)))?;
        let timeline = &outcome.timeline.scenarios[index];
        let results = json!({
            "version": REPORT_VERSION,
            "kind": "sloprober.results",
            "scenario": name,
            "interval_seconds": super::TICK.as_secs_f64(),
            "points": timeline.points,
        });
        write(format!("{name}-results.json"), serde_json::to_string(&results).unwrap_or_default())?;
    }
    write("load-test-report.md".to_string(), markdown(outcome))?;
    Ok(written)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn header(outcome: &RunOutcome, kind: &str, scenario: &ScenarioPlan) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("version".into(), REPORT_VERSION.into());
    map.insert("kind".into(), kind.into());
    map.insert("scenario".into(), scenario.name.clone().into());
    map.insert("profile".into(), outcome.plan.profile.clone().into());
    map.insert("target".into(), scenario.base_url.clone().into());
    map.insert("started_at".into(), humantime::format_rfc3339_millis(outcome.started_at).to_string().into());
    map.insert("duration_seconds".into(), outcome.snapshot.elapsed.as_secs_f64().into());
    map
}

/// Whether a threshold concerns `scenario`: its tags allow it and the scenario feeds its metric.
fn applies(threshold: &PlannedThreshold, scenario: &ScenarioPlan) -> bool {
    let tags_allow = threshold.metric.tags.iter().all(|(k, v)| match k.as_str() {
        "scenario" => v == &scenario.name,
        "request" => scenario.requests.iter().any(|r| &r.name == v),
        _ => false,
    });
    let name = threshold.metric.name.as_str();
    let fed = builtin_kind(name).is_some() || scenario.requests.iter().any(|r| r.feeds(name));
    tags_allow && fed
}

fn fed_custom(outcome: &RunOutcome, scenario: &ScenarioPlan) -> Vec<(String, CustomKind)> {
    outcome
        .plan
        .custom
        .iter()
        .filter(|(name, _)| scenario.requests.iter().any(|r| r.feeds(name)))
        .map(|(n, k)| (n.clone(), *k))
        .collect()
}

fn summary_json(outcome: &RunOutcome, scenario: &ScenarioPlan) -> Value {
    let only = outcome.snapshot.only_scenario(&scenario.name);
    let mut map = header(outcome, "sloprober.summary", scenario);
    map.insert("executor".into(), scenario.executor.describe().into());
    let mut metrics = Map::new();
    let names = BUILTIN_METRICS.iter().map(|n| (n.to_string(), builtin_kind(n).unwrap_or(CustomKind::Counter)));
    for (name, kind) in names.chain(fed_custom(outcome, scenario)) {
        let selector = MetricSelector { name: name.clone(), tags: Vec::new() };
        metrics.insert(name, serde_json::to_value(figures(&selector, kind, &only)).unwrap_or(Value::Null));
    }
    map.insert("metrics".into(), metrics.into());
    if let Some(lag) = only.merged(|_| true).and_then(|s| s.schedule_lag_json()) {
        map.insert("schedule_lag".into(), lag);
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
                "failed": failed,
                "statuses": statuses,
                "checks": checks,
                "http_req_duration": TrendFigures::of(s),
            }),
        );
    }
    map.insert("requests".into(), requests.into());
    Value::Object(map)
}

fn slo_entry(threshold: &PlannedThreshold, verdict: &Verdict) -> Value {
    let objective = threshold.objective_ratio();
    let sli = match (verdict.good_ratio, objective) {
        (Some(good), Some(objective)) => {
            let good_means = match (threshold.latency_seconds(), threshold.condition.operator) {
                (Some(seconds), _) => format!("latency <= {} ms", round(seconds * 1000.0)),
                (None, Operator::Gt | Operator::Ge) => format!("{} is true", threshold.metric.name),
                (None, _) => format!("{} is false", threshold.metric.name),
            };
            json!({"good_ratio": good, "objective_ratio": objective, "good_means": good_means})
        }
        _ => Value::Null,
    };
    let budget = match (verdict.budget_used(threshold), objective) {
        (Some(used), Some(objective)) => json!({
            "allowed_bad_ratio": round(1.0 - objective),
            "bad_ratio": round(1.0 - verdict.good_ratio.unwrap_or(1.0)),
            "used_ratio": round(used),
        }),
        _ => Value::Null,
    };
    json!({
        "slo": threshold.slo,
        "metric": threshold.metric.to_string(),
        "threshold": threshold.expression,
        "unit": if threshold.kind == CustomKind::Trend { "ms" } else { "" },
        "observed": verdict.observed,
        "passed": verdict.passed,
        "no_data": !verdict.has_data(),
        "abort_on_fail": threshold.abort_on_fail,
        "sli": sli,
        "error_budget": budget,
    })
}

fn slo_report_json(outcome: &RunOutcome, scenario: &ScenarioPlan) -> Value {
    let only = outcome.snapshot.only_scenario(&scenario.name);
    let entries: Vec<(&PlannedThreshold, Verdict)> =
        outcome.plan.thresholds.iter().filter(|t| applies(t, scenario)).map(|t| (t, evaluate(t, &only))).collect();
    let mut map = header(outcome, "sloprober.slo-report", scenario);
    map.insert("passed".into(), entries.iter().all(|(_, v)| v.passed).into());
    map.insert("slos".into(), entries.iter().map(|(t, v)| slo_entry(t, v)).collect::<Vec<_>>().into());
    Value::Object(map)
}

/// Drops float noise such as 0.010000000000000009.
fn round(value: f64) -> f64 {
    (value * 1e9).round() / 1e9
}

fn percent(ratio: f64) -> String {
    format!("{:.2}%", ratio * 100.0)
}

/// The pull-request comment.
pub fn markdown(outcome: &RunOutcome) -> String {
    let plan = &outcome.plan;
    let mut md = String::new();
    let verdict = if outcome.passed() { "✅ passed" } else { "❌ failed" };
    let _ = writeln!(md, "## sloprober {} test {verdict}\n", plan.profile);
    let targets: Vec<String> = {
        let mut t: Vec<String> = plan.scenarios.iter().map(|s| format!("`{}`", s.base_url)).collect();
        t.dedup();
        t
    };
    let scenarios: Vec<&str> = plan.scenarios.iter().map(|s| s.name.as_str()).collect();
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| profile | `{}` |", plan.profile);
    let _ = writeln!(md, "| target | {} |", targets.join(", "));
    let _ = writeln!(md, "| started | {} |", humantime::format_rfc3339_seconds(outcome.started_at));
    let _ = writeln!(md, "| duration | {:.1} s |", outcome.snapshot.elapsed.as_secs_f64());
    let _ = writeln!(md, "| scenarios | {} |", scenarios.join(", "));
    if let Some(slo) = &outcome.aborted_by {
        let _ = writeln!(md, "\n**Aborted early:** `{slo}` failed and has `abort_on_fail`.");
    }
    if !plan.thresholds.is_empty() {
        let _ = writeln!(md, "\n### SLOs\n");
        let _ = writeln!(md, "| SLO | threshold | observed | SLI (good / objective) | error budget used | result |");
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        for (t, v) in plan.thresholds.iter().zip(&outcome.verdicts) {
            let sli = match (v.good_ratio, t.objective_ratio()) {
                (Some(good), Some(objective)) => format!("{} / {}", percent(good), percent(objective)),
                _ => "-".to_string(),
            };
            let budget = v.budget_used(t).map_or("-".to_string(), percent);
            let result = match (v.has_data(), v.passed) {
                (false, _) => "➖ no data",
                (true, true) => "✅ pass",
                (true, false) => "❌ fail",
            };
            let _ = writeln!(
                md,
                "| {} | `{} {}` | {} | {sli} | {budget} | {result} |",
                t.slo,
                t.metric,
                t.expression,
                format_observed(t.kind, v)
            );
        }
    }
    let _ = writeln!(md, "\n### Key figures\n");
    let _ = writeln!(md, "| scenario | requests | req/s | failed | p(50) | p(95) | p(99) | max | dropped iterations |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for scenario in &plan.scenarios {
        let _ = writeln!(md, "{}", figures_row(&outcome.snapshot, scenario));
    }
    let _ = writeln!(
        md,
        "\n<sub>sloprober {} · per-scenario JSON: `*-summary.json`, `*-slo-report.json`, `*-results.json`</sub>",
        env!("CARGO_PKG_VERSION")
    );
    md
}

fn figures_row(snapshot: &Snapshot, scenario: &ScenarioPlan) -> String {
    let only = snapshot.only_scenario(&scenario.name);
    let merged = only.merged(|_| true);
    let dropped: u64 = only.executors.iter().map(|e| e.dropped).sum();
    match merged.as_ref().and_then(TrendFigures::of) {
        None => format!("| {} | 0 | - | - | - | - | - | - | {dropped} |", scenario.name),
        Some(t) => {
            let failed = merged.as_ref().map_or(0, |m| m.failed_total());
            format!(
                "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {dropped} |",
                scenario.name,
                t.count,
                t.count as f64 / snapshot.elapsed.as_secs_f64().max(1e-9),
                percent(failed as f64 / t.count as f64),
                format_ms(t.med),
                format_ms(t.p95),
                format_ms(t.p99),
                format_ms(t.max)
            )
        }
    }
}
