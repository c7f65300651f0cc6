//! Files a run leaves behind, as the k6 suite did: per scenario a summary,
//! an SLO report and a time series (JSON, versioned), and one Markdown
//! report fit for a pull-request comment. Formats are documented in README.

use super::summary::{format_ms, format_observed};
use super::RunOutcome;
use crate::plan::objective::round;
use crate::plan::{Builtin, Metric, PlannedThreshold, ScenarioPlan, Tag, Tags};
use crate::sample::FailReason;
use crate::slo::{evaluate, figures, TrendFigures, Verdict};
use crate::stats::{Answers, Snapshot};
use serde_json::{json, Map, Value};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Bumped when a field changes meaning or disappears.
pub const REPORT_VERSION: u32 = 1;

/// Writes every report into `dir` (created); returns the files written.
/// A report that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct ReportError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

pub fn write_reports(outcome: &RunOutcome, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError { path: dir.to_path_buf(), source })?;
    let mut written = Vec::new();
    let mut write = |name: String, text: String| -> Result<(), ReportError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| ReportError { path: path.clone(), source })?;
        written.push(path);
        Ok(())
    };
    for (index, scenario) in outcome.plan.scenarios.iter().enumerate() {
        let name = &scenario.name;
        write(format!("{name}-summary.json"), pretty(&summary_json(outcome, scenario)))?;
        write(format!("{name}-slo-report.json"), pretty(&slo_report_json(outcome, scenario)))?;
        let timeline = &outcome.timeline.scenarios[index];
        let mut results = header(outcome, "sloprober.results", scenario);
        results.insert("interval_seconds".into(), super::TICK.as_secs_f64().into());
        results.insert("points".into(), json!(timeline.points));
        write(format!("{name}-results.json"), serde_json::to_string(&results).unwrap_or_default())?;
    }
    write("load-test-report.md".to_string(), markdown(outcome))?;
    write("load-test-report.html".to_string(), super::html(outcome))?;
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

fn fed_custom(outcome: &RunOutcome, scenario: &ScenarioPlan) -> Vec<Metric> {
    outcome
        .plan
        .custom
        .iter()
        .filter(|(name, _)| scenario.requests.iter().any(|r| r.feeds(name)))
        .map(|(name, kind)| Metric::Custom { name: name.clone(), kind: *kind })
        .collect()
}

fn summary_json(outcome: &RunOutcome, scenario: &ScenarioPlan) -> Value {
    let only = outcome.snapshot.only_scenario(&scenario.name);
    let mut map = header(outcome, "sloprober.summary", scenario);
    map.insert("executor".into(), scenario.executor.describe().into());
    let mut metrics = Map::new();
    let builtins = Builtin::reported().map(Metric::Builtin);
    for metric in builtins.chain(fed_custom(outcome, scenario)) {
        let value = serde_json::to_value(figures(&metric, &Tags::new(), &only)).unwrap_or(Value::Null);
        metrics.insert(metric.name().to_string(), value);
        if metric.tags().contains(&Tag::ExpectedResponse) {
            let expected = Tags::from([(Tag::ExpectedResponse, "true".to_string())]);
            let value = serde_json::to_value(figures(&metric, &expected, &only)).unwrap_or(Value::Null);
            metrics.insert(format!("{}{{expected_response:true}}", metric.name()), value);
        }
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

pub(crate) fn slo_entry(threshold: &PlannedThreshold, verdict: &Verdict) -> Value {
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
            "allowed_bad_ratio": round(objective.allowed_bad_ratio()),
            "bad_ratio": round(1.0 - verdict.good_ratio.unwrap_or(1.0)),
            "used_ratio": round(used),
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
        "observed": verdict.observed.map(|v| round(unit.to_written(v))),
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

/// What the SLO tables of the reports show of a threshold's SLI (good / objective)
/// and of its error budget used; `-` where it has none.
pub(super) fn sli_and_budget(threshold: &PlannedThreshold, verdict: &Verdict) -> (String, String) {
    let sli = match (verdict.good_ratio, threshold.objective) {
        (Some(good), Some(objective)) => format!("{} / {}", percent(good), percent(objective.ratio)),
        _ => "-".to_string(),
    };
    (sli, verdict.budget_used(threshold).map_or("-".to_string(), percent))
}

pub(super) fn percent(ratio: f64) -> String {
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
    let _ = writeln!(md, "| run id | `{}` |", outcome.run_id);
    if outcome.shards > 1 {
        let _ = writeln!(md, "| shards | {} (merged) |", outcome.shards);
    }
    if let Some(slo) = &outcome.aborted_by {
        let _ = writeln!(md, "\n**Aborted early:** `{slo}` failed and has `abort_on_fail`.");
    }
    if !plan.thresholds.is_empty() {
        let _ = writeln!(md, "\n### SLOs\n");
        let _ = writeln!(md, "| SLO | threshold | observed | SLI (good / objective) | error budget used | result |");
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        for (t, v) in plan.thresholds.iter().zip(&outcome.verdicts) {
            let (sli, budget) = sli_and_budget(t, v);
            let result = match (v.has_data(), v.passed) {
                (false, _) => "➖ no data",
                (true, true) => "✅ pass",
                (true, false) => "❌ fail",
            };
            let _ = writeln!(
                md,
                "| {} | `{} {}` | {} | {sli} | {budget} | {result} |",
                t.slo,
                t.selector(),
                t.expression,
                format_observed(t, v)
            );
        }
    }
    let _ = writeln!(md, "\n### Key figures\n");
    let _ = writeln!(md, "| scenario | requests | req/s | failed | p(50) | p(95) | p(99) | max | dropped iterations |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for scenario in &plan.scenarios {
        let _ = writeln!(md, "{}", figures_row(&outcome.snapshot, scenario));
    }
    let charts = super::chart::latency_charts(outcome);
    if !charts.is_empty() {
        let _ = writeln!(md, "\n### Latency over the run");
        md.push_str(&charts);
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
    match merged.as_ref().and_then(|m| TrendFigures::of(&m.latency(Answers::All))) {
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
