//! The run report as one self-contained HTML page: the verdict, the SLO
//! table, key figures, failures, journeys' steps and groups, and charts of
//! the run over time (VUs, requests/s, p50/p95/p99 per request with each
//! latency threshold as a line, failures by reason, failed checks, dropped
//! iterations). The chart library (uPlot, MIT, `uplot/`) and the data are
//! embedded: the page makes no request and works offline.

use super::chart::threshold_lines;
use super::format::{escape, format_ms, format_observed, percent, sli_and_budget, targets};
use super::RunOutcome;
use crate::model::sample::FailReason;
use crate::slo::TrendFigures;
use crate::stats::Answers;
use serde_json::json;
use std::fmt::Write;

pub const UPLOT_JS: &str = include_str!("uplot/uPlot.iife.min.js");
pub const UPLOT_CSS: &str = include_str!("uplot/uPlot.min.css");
const REPORT_JS: &str = include_str!("report.js");

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:20px;color:#222}\
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
th{background:#f4f4f4}.pass{color:#1a7f37}.fail{color:#cf222e}.nodata{color:#777}\
.chart{margin:12px 0}h1 .pass,h1 .fail{font-size:0.9em}";

/// The page for `outcome`.
pub fn html(outcome: &RunOutcome) -> String {
    let plan = &outcome.plan;
    let passed = outcome.passed();
    let mut page = String::with_capacity(96 * 1024);
    let verdict = if passed { "<span class=\"pass\">passed</span>" } else { "<span class=\"fail\">failed</span>" };
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>sloprober {} test {}</title><style>{UPLOT_CSS}{STYLE}</style></head><body data-passed=\"{passed}\">\n",
        escape(&plan.profile),
        if passed { "passed" } else { "failed" }
    );
    let _ = writeln!(page, "<h1>sloprober {} test {verdict}</h1>", escape(&plan.profile));
    run_table(&mut page, outcome);
    slo_table(&mut page, outcome);
    figures_table(&mut page, outcome);
    failures_table(&mut page, outcome);
    spans_table(&mut page, outcome);
    let _ = writeln!(page, "<h2>Over the run</h2><div id=\"charts\"></div>");
    let _ = writeln!(page, "<script>{UPLOT_JS}</script>");
    // `</` written as `<\/` (the same JSON) so no string in the data can close the script element.
    let data = chart_data(outcome).to_string().replace("</", "<\\/");
    let _ = writeln!(page, "<script type=\"application/json\" id=\"run-data\">{data}</script>");
    let _ = writeln!(page, "<script>{REPORT_JS}</script>");
    let _ = writeln!(
        page,
        "<footer><small>sloprober {} · charts: uPlot 1.6.32 (MIT), embedded</small></footer></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    page
}

fn run_table(page: &mut String, outcome: &RunOutcome) {
    let plan = &outcome.plan;
    let targets: Vec<String> = targets(plan).into_iter().map(escape).collect();
    let rows = [
        ("profile", escape(&plan.profile)),
        ("target", targets.join(", ")),
        ("started", humantime::format_rfc3339_seconds(outcome.started_at).to_string()),
        ("duration", format!("{:.1} s", outcome.snapshot.elapsed.as_secs_f64())),
        ("run id", escape(&outcome.run_id)),
        ("scenarios", plan.scenarios.iter().map(|s| escape(&s.name)).collect::<Vec<_>>().join(", ")),
    ];
    let _ = writeln!(page, "<table id=\"run\">");
    for (name, value) in rows {
        let _ = writeln!(page, "<tr><th>{name}</th><td>{value}</td></tr>");
    }
    if outcome.shards > 1 {
        let _ = writeln!(page, "<tr><th>shards</th><td>{} (merged)</td></tr>", outcome.shards);
    }
    if let Some(slo) = &outcome.aborted_by {
        let _ =
            writeln!(page, "<tr><th>aborted</th><td class=\"fail\">{} failed (abort_on_fail)</td></tr>", escape(slo));
    }
    let _ = writeln!(page, "</table>");
}

fn slo_table(page: &mut String, outcome: &RunOutcome) {
    let plan = &outcome.plan;
    if plan.thresholds.is_empty() {
        return;
    }
    let _ = writeln!(page, "<h2>SLOs</h2><table id=\"slos\"><tr><th>SLO</th><th>threshold</th><th>observed</th><th>SLI (good / objective)</th><th>error budget used</th><th>result</th></tr>");
    for (t, v) in plan.thresholds.iter().zip(&outcome.verdicts) {
        let (sli, budget) = sli_and_budget(t, v);
        let (class, text) = match (v.has_data(), v.passed) {
            (false, _) => ("nodata", "no data"),
            (true, true) => ("pass", "pass"),
            (true, false) => ("fail", "fail"),
        };
        let _ = writeln!(
            page,
            "<tr data-slo=\"{}\" data-passed=\"{}\"><td>{}</td><td><code>{} {}</code></td><td>{}</td><td>{sli}</td><td>{budget}</td><td class=\"{class}\">{text}</td></tr>",
            escape(&t.slo),
            v.passed,
            escape(&t.slo),
            escape(&t.selector()),
            escape(&t.expression),
            escape(&format_observed(t, v))
        );
    }
    let _ = writeln!(page, "</table>");
}

fn figures_table(page: &mut String, outcome: &RunOutcome) {
    let _ = writeln!(page, "<h2>Requests</h2><table id=\"requests\"><tr><th>scenario</th><th>request</th><th>requests</th><th>req/s</th><th>failed</th><th>p(50)</th><th>p(95)</th><th>p(99)</th><th>max</th></tr>");
    let seconds = outcome.snapshot.elapsed.as_secs_f64().max(1e-9);
    for view in &outcome.snapshot.requests {
        let s = &view.stats;
        let cells = match TrendFigures::of(&s.latency(Answers::All)) {
            None => "<td>-</td><td>-</td><td>-</td><td>-</td>".to_string(),
            Some(t) => format!(
                "<td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                format_ms(t.med),
                format_ms(t.p95),
                format_ms(t.p99),
                format_ms(t.max)
            ),
        };
        let failed = if s.count == 0 { "-".to_string() } else { percent(s.failed_requests() as f64 / s.count as f64) };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{failed}</td>{cells}</tr>",
            escape(&view.scenario),
            escape(&view.request),
            s.count,
            s.count as f64 / seconds
        );
    }
    let _ = writeln!(page, "</table>");
    let dropped: u64 = outcome.snapshot.executors.iter().map(|e| e.dropped).sum();
    let iterations: u64 = outcome.snapshot.executors.iter().map(|e| e.iterations).sum();
    let _ = writeln!(page, "<p>Iterations: {iterations}, dropped: {dropped}.</p>");
}

fn failures_table(page: &mut String, outcome: &RunOutcome) {
    let rows: Vec<String> = outcome
        .snapshot
        .requests
        .iter()
        .flat_map(|view| {
            FailReason::ALL.iter().filter(|r| view.stats.failed_by(**r) > 0).map(move |r| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&view.scenario),
                    escape(&view.request),
                    r.as_str(),
                    view.stats.failed_by(*r)
                )
            })
        })
        .collect();
    let _ = writeln!(page, "<h2>Failures by reason</h2>");
    if rows.is_empty() {
        let _ = writeln!(page, "<p id=\"failures\">No request failed.</p>");
        return;
    }
    let _ = writeln!(
        page,
        "<table id=\"failures\"><tr><th>scenario</th><th>request</th><th>reason</th><th>requests</th></tr>{}</table>",
        rows.concat()
    );
}

/// Iterations and, for journeys, each group.
fn spans_table(page: &mut String, outcome: &RunOutcome) {
    let _ = writeln!(page, "<h2>Iterations and groups</h2><table id=\"spans\"><tr><th>scenario</th><th>span</th><th>count</th><th>p(50)</th><th>p(95)</th><th>p(99)</th></tr>");
    for span in &outcome.snapshot.spans {
        let name = span.group.as_deref().map_or("iteration".to_string(), |g| format!("group {g}"));
        let cells = match TrendFigures::of(&span.durations) {
            None => "<td>0</td><td>-</td><td>-</td><td>-</td>".to_string(),
            Some(t) => format!(
                "<td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                t.count,
                format_ms(t.med),
                format_ms(t.p95),
                format_ms(t.p99)
            ),
        };
        let _ = writeln!(page, "<tr><td>{}</td><td>{}</td>{cells}</tr>", escape(&span.scenario), escape(&name));
    }
    let _ = writeln!(page, "</table>");
}

/// What the charts draw: per scenario its points, and per request the latency thresholds that judge it.
fn chart_data(outcome: &RunOutcome) -> serde_json::Value {
    let plan = &outcome.plan;
    let scenarios: Vec<serde_json::Value> = plan
        .scenarios
        .iter()
        .zip(&outcome.timeline.scenarios)
        .map(|(scenario, timeline)| {
            let requests: Vec<serde_json::Value> = scenario
                .requests
                .iter()
                .map(|r| json!({"name": r.name, "thresholds": threshold_lines(&plan.thresholds, scenario, r)}))
                .collect();
            json!({"name": scenario.name, "points": timeline.points, "requests": requests})
        })
        .collect();
    json!({"scenarios": scenarios})
}
