//! Grafana dashboards: an SLO overview, a live load view and the trends of
//! runs pushed by remote write. Every query is PromQL over sloprober's own
//! metrics and the generated recording rules.

use super::promql::prom_duration;
use super::rules::{ratio_record, BUDGET_RECORD};
use crate::model::families as exported;
use crate::model::metric::{Builtin, Metric, Series};
use crate::model::sample::Phase;
use crate::plan::Plan;
use serde_json::{json, Value};
use std::time::Duration;

const SCHEMA_VERSION: u32 = 39;

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

fn target(expr: &str, legend: &str, ref_id: &str) -> Value {
    json!({"datasource": datasource(), "expr": expr, "legendFormat": legend, "refId": ref_id, "range": true})
}

/// A panel at grid position (x, y) of size (w, h); `targets` are (expr, legend).
fn panel(
    id: u32,
    kind: &str,
    title: &str,
    description: &str,
    (x, y, w, h): (u32, u32, u32, u32),
    unit: &str,
    targets: &[(&str, &str)],
) -> Value {
    let refs = ["A", "B", "C", "D", "E", "F"];
    json!({
        "id": id,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource(),
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets.iter().zip(refs).map(|((expr, legend), r)| target(expr, legend, r)).collect::<Vec<_>>(),
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    })
}

fn variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource(),
        "query": {"query": query, "refId": name},
        "refresh": 2,
        "includeAll": true,
        "multi": true,
        "allValue": ".*",
        "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
    })
}

fn dashboard(uid: &str, title: &str, variables: Vec<Value>, panels: Vec<Value>) -> Value {
    let mut list = vec![json!({
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "hide": 0,
        "refresh": 1,
    })];
    list.extend(variables);
    json!({
        "uid": uid,
        "title": title,
        "tags": ["sloprober"],
        "timezone": "browser",
        "editable": true,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": list},
        "annotations": {"list": []},
        "panels": panels,
    })
}

pub fn dashboards(plan: &Plan) -> Vec<(&'static str, Value)> {
    vec![("sloprober-slo", slo_overview(plan)), ("sloprober-load", load_view()), ("sloprober-trends", trends_view())]
}

fn slo_overview(plan: &Plan) -> Value {
    let period = prom_duration(plan.alerts.period);
    let sel = "slo=~\"$slo\"";
    let compliant = format!("min by (slo) ({}{{{sel}, instance=~\"$instance\"}})", exported::SLO_COMPLIANT.name);
    let observed = format!("max by (slo) ({}{{{sel}, instance=~\"$instance\"}})", exported::SLO_OBSERVED.name);
    let threshold = format!("max by (slo) ({}{{{sel}}})", exported::SLO_THRESHOLD.name);
    let sli = format!("1 - {}{{{sel}}}", ratio_record(Duration::from_secs(3600)));
    let objective = format!("max by (slo) ({}{{{sel}}})", exported::SLO_OBJECTIVE.name);
    let budget = format!("{BUDGET_RECORD}{{{sel}}}");
    let burn = |window: u64| {
        format!(
            "{}{{{sel}}} / on (slo) group_left () (1 - max by (slo) ({}{{{sel}}}))",
            ratio_record(Duration::from_secs(window)),
            exported::SLO_OBJECTIVE.name
        )
    };
    let (burn_5m, burn_1h, burn_6h, burn_1d) = (burn(300), burn(3600), burn(6 * 3600), burn(86400));
    let mut compliant_panel = panel(
        1,
        "stat",
        "Compliant now",
        "Each threshold over the daemon's sliding window (daemon.slo_window): PASS or FAIL.",
        (0, 0, 24, 4),
        "none",
        &[(&compliant, "{{slo}}")],
    );
    compliant_panel["fieldConfig"]["defaults"]["mappings"] = json!([
        {"type": "value", "options": {"0": {"text": "FAIL", "color": "red", "index": 0}, "1": {"text": "PASS", "color": "green", "index": 1}}}
    ]);
    compliant_panel["fieldConfig"]["defaults"]["thresholds"] =
        json!({"mode": "absolute", "steps": [{"color": "red", "value": null}, {"color": "green", "value": 1}]});
    compliant_panel["options"] = json!({"colorMode": "background", "graphMode": "none", "textMode": "value_and_name", "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}});
    let mut budget_panel = panel(
        4,
        "bargauge",
        &format!("Error budget remaining ({period})"),
        "1 - bad fraction / allowed bad fraction over the SLO period.",
        (0, 12, 8, 8),
        "percentunit",
        &[(&budget, "{{slo}}")],
    );
    budget_panel["fieldConfig"]["defaults"]["min"] = json!(0);
    budget_panel["fieldConfig"]["defaults"]["max"] = json!(1);
    budget_panel["options"] = json!({"orientation": "horizontal", "displayMode": "gradient", "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}});
    let panels = vec![
        compliant_panel,
        panel(
            2,
            "timeseries",
            "Observed latency vs threshold",
            "The thresholded percentile over the sliding window, and the threshold.",
            (0, 4, 12, 8),
            "s",
            &[(&observed, "{{slo}} observed"), (&threshold, "{{slo}} threshold")],
        ),
        panel(
            3,
            "timeseries",
            "SLI vs objective (1h)",
            "Fraction of good events over the last hour, against the objective.",
            (12, 4, 12, 8),
            "percentunit",
            &[(&sli, "{{slo}} SLI"), (&objective, "{{slo}} objective")],
        ),
        budget_panel,
        panel(
            5,
            "timeseries",
            "Burn rate",
            "How many times faster than sustainable the error budget burns (1 = exactly on budget).",
            (8, 12, 16, 8),
            "none",
            &[(&burn_5m, "{{slo}} 5m"), (&burn_1h, "{{slo}} 1h"), (&burn_6h, "{{slo}} 6h"), (&burn_1d, "{{slo}} 1d")],
        ),
    ];
    dashboard(
        "sloprober-slo",
        "sloprober: SLO overview",
        vec![
            variable("slo", "SLO", &format!("label_values({}, slo)", exported::SLO_OBJECTIVE.name)),
            variable("instance", "Instance", &format!("label_values({}, instance)", exported::BUILD_INFO.name)),
        ],
        panels,
    )
}

fn load_view() -> Value {
    let f = "scenario=~\"$scenario\", instance=~\"$instance\"";
    let rate = |metric: &str, by: &str| format!("sum by ({by}) (rate({metric}{{{f}}}[$__rate_interval]))");
    let quantile = |q: &str| {
        format!(
            "histogram_quantile({q}, sum by (scenario, request, le) (rate({}_bucket{{{f}}}[$__rate_interval])))",
            exported::HTTP_REQ_DURATION.name
        )
    };
    let (p50, p95, p99) = (quantile("0.5"), quantile("0.95"), quantile("0.99"));
    let vus = format!("sum by (scenario) ({}{{{f}}})", exported::VUS.name);
    let vus_max = format!("sum by (scenario) ({}{{{f}}})", exported::VUS_MAX.name);
    let reqs = rate(exported::HTTP_REQS.name, "scenario");
    let by_status = rate(exported::HTTP_REQS.name, "scenario, status");
    let heat = format!("sum by (le) (rate({}_bucket{{{f}}}[$__rate_interval]))", exported::HTTP_REQ_DURATION.name);
    let failed = rate(exported::HTTP_REQ_FAILED.name, "scenario, reason");
    let checks = rate(exported::CHECKS.name, "request, check, result");
    let dropped = rate(exported::DROPPED_ITERATIONS.name, "scenario");
    let iterations = rate(exported::ITERATIONS.name, "scenario");
    let sent = rate(exported::DATA_SENT.name, "scenario");
    let received = rate(exported::DATA_RECEIVED.name, "scenario");
    let per_instance = rate(exported::HTTP_REQS.name, "instance");
    let iteration_p95 = format!(
        "histogram_quantile(0.95, sum by (scenario, le) (rate({}_bucket{{{f}}}[$__rate_interval])))",
        exported::ITERATION_DURATION.name
    );
    let group_p95 = format!(
        "histogram_quantile(0.95, sum by (scenario, group, le) (rate({}_bucket{{{f}}}[$__rate_interval])))",
        exported::GROUP_DURATION.name
    );
    let incomplete = rate(exported::ITERATIONS_INCOMPLETE.name, "scenario, journey, reason");
    let phase_p95: Vec<(String, String)> = Phase::ALL
        .iter()
        .map(|phase| {
            let expr = format!(
                "histogram_quantile(0.95, sum by (scenario, le) (rate({}_bucket{{{f}}}[$__rate_interval])))",
                exported::phase(*phase).name
            );
            (expr, format!("{{{{scenario}}}} {} p95", phase.metric_name().trim_start_matches("http_req_")))
        })
        .collect();
    let phase_targets: Vec<(&str, &str)> = phase_p95.iter().map(|(e, l)| (e.as_str(), l.as_str())).collect();
    let mut heatmap = panel(
        5,
        "heatmap",
        "Latency heatmap",
        "Requests per latency bucket.",
        (12, 8, 12, 8),
        "s",
        &[(&heat, "{{le}}")],
    );
    heatmap["targets"][0]["format"] = json!("heatmap");
    heatmap["options"] = json!({"calculate": false, "yAxis": {"unit": "s"}, "cellGap": 1});
    let panels = vec![
        panel(
            1,
            "timeseries",
            "VUs",
            "Active (closed model) or busy (arrival-rate) VUs, and VUs allocated.",
            (0, 0, 8, 8),
            "none",
            &[(&vus, "{{scenario}} active"), (&vus_max, "{{scenario}} allocated")],
        ),
        panel(
            2,
            "timeseries",
            "Requests per second",
            "By scenario and by response status.",
            (8, 0, 8, 8),
            "reqps",
            &[(&reqs, "{{scenario}}"), (&by_status, "{{scenario}} {{status}}")],
        ),
        panel(
            3,
            "timeseries",
            "Requests per second by instance",
            "Each replica's share of the load (scale-out).",
            (16, 0, 8, 8),
            "reqps",
            &[(&per_instance, "{{instance}}")],
        ),
        panel(
            4,
            "timeseries",
            "Latency percentiles",
            "p50, p95 and p99 per request.",
            (0, 8, 12, 8),
            "s",
            &[
                (&p50, "{{scenario}}/{{request}} p50"),
                (&p95, "{{scenario}}/{{request}} p95"),
                (&p99, "{{scenario}}/{{request}} p99"),
            ],
        ),
        heatmap,
        panel(
            6,
            "timeseries",
            "Failed requests by reason",
            "k6's http_req_failed: status, timeout, connect, tls, reset, body, header; then check and capture, which judge the content of an expected answer.",
            (0, 16, 8, 8),
            "reqps",
            &[(&failed, "{{scenario}} {{reason}}")],
        ),
        panel(
            7,
            "timeseries",
            "Checks",
            "Check results per second.",
            (8, 16, 8, 8),
            "ops",
            &[(&checks, "{{request}}: {{check}} {{result}}")],
        ),
        panel(
            8,
            "timeseries",
            "Iterations and dropped iterations",
            "Dropped: arrival-rate iterations that found no free VU.",
            (16, 16, 8, 8),
            "ops",
            &[(&iterations, "{{scenario}} completed"), (&dropped, "{{scenario}} dropped")],
        ),
        panel(
            9,
            "timeseries",
            "Data sent and received",
            "Approximate bytes per second.",
            (0, 24, 24, 6),
            "Bps",
            &[(&sent, "{{scenario}} sent"), (&received, "{{scenario}} received")],
        ),
        panel(
            10,
            "timeseries",
            "Iteration and group duration p95",
            "k6's iteration_duration (think time included) per scenario, and group_duration per journey group.",
            (0, 30, 12, 8),
            "s",
            &[(&iteration_p95, "{{scenario}} iteration p95"), (&group_p95, "{{scenario}} {{group}} p95")],
        ),
        panel(
            11,
            "timeseries",
            "Incomplete journey iterations",
            "Iterations that did not run every step, by the first reason: step_failed, capture_failed, missing_variable.",
            (12, 30, 12, 8),
            "ops",
            &[(&incomplete, "{{scenario}}/{{journey}} {{reason}}")],
        ),
        panel(
            12,
            "timeseries",
            "Where request time goes (phase p95)",
            "k6's phases of answered requests per scenario: blocked, connecting, tls_handshaking, sending, waiting \
             (time to first byte), receiving. Connecting and TLS take time only on new connections.",
            (0, 38, 24, 8),
            "s",
            &phase_targets,
        ),
    ];
    dashboard(
        "sloprober-load",
        "sloprober: live load",
        vec![
            variable("scenario", "Scenario", &format!("label_values({}, scenario)", exported::ITERATIONS.name)),
            variable("instance", "Instance", &format!("label_values({}, instance)", exported::BUILD_INFO.name)),
        ],
        panels,
    )
}

/// The suite's "Performance Trends": runs pushed by remote write (series
/// with a `testid`), over weeks. Each run's counters start at 0, so
/// `increase` over a window holds every request of the runs in it, and the
/// highest value of a counter over a range is a run's total.
fn trends_view() -> Value {
    let f = "testid!=\"\", profile=~\"$profile\", scenario=~\"$scenario\"";
    let p95_over = |window: &str, offset: &str| {
        format!(
            "histogram_quantile(0.95, sum by (scenario, request, le) (increase({}_bucket{{{f}, expected_response=\"true\"}}[{window}]{offset})))",
            exported::HTTP_REQ_DURATION.name
        )
    };
    let p95 = p95_over("$__interval", "");
    let p95_last_week = p95_over("$__interval", " offset 1w");
    let week = p95_over("1w", "");
    let week_before = p95_over("1w", " offset 1w");
    let change = format!("{week} / {week_before}");
    let threshold = format!("max by (slo) ({}{{testid!=\"\", profile=~\"$profile\"}})", exported::SLO_THRESHOLD.name);
    let run = "testid!=\"\", profile=~\"$profile\"";
    let total = |metric: &str| format!("sum by (testid, profile) (max_over_time({metric}{{{run}}}[$__range]))");
    let requests = total(exported::HTTP_REQS.name);
    // k6's http_req_failed: the failures the catalog's SLI counts, not those of content.
    let (trues, matchers) = match Metric::Builtin(Builtin::HttpReqFailed).series() {
        Series::Rate { trues, trues_matchers, .. } => (trues.into_owned(), trues_matchers),
        _ => (exported::HTTP_REQ_FAILED.name.to_string(), Vec::new()),
    };
    let content: Vec<String> = matchers.iter().map(|m| m.promql()).collect();
    let failed_ratio = format!(
        "sum by (testid, profile) (max_over_time({trues}{{{run}, {}}}[$__range])) / {requests}",
        content.join(", ")
    );
    let run_p95 = format!(
        "histogram_quantile(0.95, sum by (testid, profile, le) (max_over_time({}_bucket{{{run}}}[$__range])))",
        exported::HTTP_REQ_DURATION.name
    );
    let passed =
        format!("min by (testid, profile) (last_over_time({}{{{run}}}[$__range]))", exported::SLO_COMPLIANT.name);
    let mut over_time = panel(
        1,
        "timeseries",
        "p95 per request against its threshold",
        "Latency p95 of expected answers per request, over the runs in each interval, and each latency SLO's threshold.",
        (0, 0, 24, 9),
        "s",
        &[(&p95, "{{scenario}}/{{request}} p95"), (&threshold, "{{slo}} threshold")],
    );
    over_time["interval"] = json!("1h");
    let mut week_over_week = panel(
        2,
        "timeseries",
        "Week over week",
        "p95 per request, and the same at the same time a week earlier.",
        (0, 9, 16, 9),
        "s",
        &[(&p95, "{{scenario}}/{{request}} p95"), (&p95_last_week, "{{scenario}}/{{request}} a week earlier")],
    );
    week_over_week["interval"] = json!("1h");
    let mut change_panel = panel(
        3,
        "bargauge",
        "p95 of the last 7 days / the 7 days before",
        "Above 1: slower than the week before.",
        (16, 9, 8, 9),
        "none",
        &[(&change, "{{scenario}}/{{request}}")],
    );
    change_panel["options"] = json!({"orientation": "horizontal", "displayMode": "gradient", "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}});
    change_panel["fieldConfig"]["defaults"]["thresholds"] = json!({"mode": "absolute", "steps": [{"color": "green", "value": null}, {"color": "orange", "value": 1.1}, {"color": "red", "value": 1.25}]});
    let mut runs = panel(
        4,
        "table",
        "Runs by run id and profile",
        "Each run pushed in the range (`testid`): its verdict (1 passed, 0 failed), requests, failed share and p95.",
        (0, 18, 24, 10),
        "none",
        &[(&passed, "passed"), (&requests, "requests"), (&failed_ratio, "failed"), (&run_p95, "p95")],
    );
    for target in runs["targets"].as_array_mut().into_iter().flatten() {
        target["format"] = json!("table");
        target["instant"] = json!(true);
        target["range"] = json!(false);
    }
    runs["transformations"] = json!([
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": {"Time": true}, "renameByName": {"Value #A": "passed", "Value #B": "requests", "Value #C": "failed share", "Value #D": "p95 (s)"}}}
    ]);
    let mut trends = dashboard(
        "sloprober-trends",
        "sloprober: performance trends",
        vec![
            variable(
                "profile",
                "Profile",
                &format!("label_values({}{{testid!=\"\"}}, profile)", exported::HTTP_REQS.name),
            ),
            variable(
                "scenario",
                "Scenario",
                &format!("label_values({}{{testid!=\"\"}}, scenario)", exported::HTTP_REQS.name),
            ),
        ],
        vec![over_time, week_over_week, change_panel, runs],
    );
    trends["time"] = json!({"from": "now-30d", "to": "now"});
    trends["refresh"] = json!("5m");
    trends
}
