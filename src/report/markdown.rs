//! The Markdown report: a run's verdict, SLOs and key figures, fit for a pull-request comment.

use super::format::{format_ms, format_observed, percent, sli_and_budget, targets};
use super::RunOutcome;
use crate::plan::ScenarioPlan;
use crate::slo::TrendFigures;
use crate::stats::{Answers, Snapshot};
use std::fmt::Write;

/// The pull-request comment.
pub fn markdown(outcome: &RunOutcome) -> String {
    let plan = &outcome.plan;
    let mut md = String::new();
    let verdict = if outcome.passed() { "✅ passed" } else { "❌ failed" };
    let _ = writeln!(md, "## sloprober {} test {verdict}\n", plan.profile);
    let targets: Vec<String> = targets(plan).iter().map(|url| format!("`{url}`")).collect();
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
            let failed = merged.as_ref().map_or(0, |m| m.failed_requests());
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
