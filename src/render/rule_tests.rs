//! promtool unit tests for the generated rules: synthetic traffic with a
//! fixed share of bad events, and the burn-rate alerts that must (and must
//! not) fire for it.

use super::promql::prom_duration;
use super::rules::{
    burn_annotations, burn_labels, cert_annotations, fast_annotations, no_data_annotations, prober_alerts,
    ratio_record, service, slo_labels, slos, ProberAlert, BURN_ALERT, CERT_ALERT, DROPPED_ALERT, FAST_ALERT,
    NOT_SCRAPED_ALERT, NO_DATA_ALERT, RELOAD_ALERT, SETUP_ALERT, TARGET_DOWN_ALERT,
};
use crate::model::families as exported;
use crate::model::metric::Tag;
use crate::model::metric::{Matcher, Series};
use crate::model::sample::FailReason;
use crate::model::threshold::{Aggregation, Operator};
use crate::plan::{GoodEvents, Plan, PlannedThreshold};
use serde_json::{json, Value};
use std::time::Duration;

/// Events per minute in the synthetic series: fine enough for a 99.9 % objective.
const PER_MINUTE: u64 = 100_000;
const STEP: Duration = Duration::from_secs(60);

/// The labels sloprober puts on the samples a threshold selects.
fn sample_labels(plan: &Plan, t: &PlannedThreshold) -> Vec<(&'static str, String)> {
    let selection = t.selection();
    let scenario = selection
        .get(&Tag::Scenario)
        .cloned()
        .unwrap_or_else(|| plan.scenarios.first().map(|s| s.name.clone()).unwrap_or_default());
    let mut labels =
        vec![("instance", "sloprober-0:9469".to_string()), ("job", plan.alerts.job.clone()), ("scenario", scenario)];
    for (tag, value) in &selection {
        if *tag != Tag::Scenario {
            labels.push((tag.key(), value.clone()));
        }
    }
    if !selection.contains_key(&Tag::Request) {
        labels.push(("request", "r".into()));
    }
    labels
}

/// `family{labels..., extra...}`.
fn series_name(labels: &[(&str, String)], family: &str, extra: &[(&str, String)]) -> String {
    let all: Vec<String> = labels.iter().chain(extra).map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{family}{{{}}}", all.join(","))
}

/// Input series with `bad` of every PER_MINUTE events bad, for `minutes`,
/// labelled as sloprober labels the samples the SLO selects.
fn series(plan: &Plan, t: &PlannedThreshold, bad: u64, minutes: u64) -> Vec<Value> {
    let labels = sample_labels(plan, t);
    let name = |family: &str, extra: &[(&str, String)]| series_name(&labels, family, extra);
    let line =
        |series: String, per_minute: u64| json!({"series": series, "values": format!("0+{per_minute}x{minutes}")});
    let good = PER_MINUTE - bad;
    match (t.metric.series(), t.objective.map(|o| o.good)) {
        (Series::Histogram { family }, Some(GoodEvents::LatencyWithin { seconds })) => vec![
            line(name(&format!("{family}_bucket"), &[("le", format!("{seconds}"))]), good),
            line(name(&format!("{family}_bucket"), &[("le", format!("{}", seconds * 4.0))]), PER_MINUTE),
            line(name(&format!("{family}_bucket"), &[("le", "+Inf".into())]), PER_MINUTE),
            line(name(&format!("{family}_count"), &[]), PER_MINUTE),
        ],
        (Series::Rate { trues, trues_matchers, total }, Some(good_events)) => {
            let trues_count = if good_events == GoodEvents::RateTrue { good } else { bad };
            // A true sample's labels: `result="pass"`; for a failed request, a reason the SLI counts.
            let extra: Vec<(&str, String)> = trues_matchers
                .iter()
                .map(|m| match m {
                    Matcher::Is(k, v) => (*k, v.to_string()),
                    Matcher::IsNone(k, _) => (*k, FailReason::Status.as_str().to_string()),
                })
                .collect();
            let mut lines = if trues == total {
                // One family split by a label (checks: result="pass" / "fail").
                let others: Vec<(&str, String)> =
                    trues_matchers.iter().map(|m| (m.label(), "fail".to_string())).collect();
                vec![line(name(&trues, &extra), trues_count), line(name(&total, &others), PER_MINUTE - trues_count)]
            } else {
                vec![line(name(&trues, &extra), trues_count), line(name(&total, &[]), PER_MINUTE)]
            };
            // Samples the SLI must leave out (failed checks, for http_req_failed), as many as all requests.
            for m in &trues_matchers {
                if let Matcher::IsNone(k, excluded) = m {
                    lines.extend(excluded.iter().map(|v| line(name(&trues, &[(*k, v.to_string())]), PER_MINUTE)));
                }
            }
            lines
        }
        _ => Vec::new(),
    }
}

/// One promtool test: `bad_ratio` of events bad from the start, checked at `eval`.
fn case(plan: &Plan, t: &PlannedThreshold, name: String, bad_ratio: f64, eval: Duration) -> Value {
    let allowed = t.objective.map_or(0.0, |o| o.allowed_bad_ratio());
    let bad = (bad_ratio * PER_MINUTE as f64).round() as u64;
    let minutes = eval.as_secs() / 60 + 5;
    // A row fires when its burn factor is exceeded and its `for` has passed (the
    // condition holds from the first minute, when rate() has two samples).
    let firing: Vec<Value> = plan
        .alerts
        .burn_rates
        .iter()
        .filter(|b| bad as f64 / PER_MINUTE as f64 > b.factor * allowed && b.for_ + STEP * 2 <= eval)
        .map(|b| json!({"exp_labels": burn_labels(t, b), "exp_annotations": burn_annotations(plan, t, b)}))
        .collect();
    json!({
        "name": name,
        "interval": prom_duration(STEP),
        "input_series": series(plan, t, bad, minutes),
        "alert_rule_test": [{"eval_time": prom_duration(eval), "alertname": BURN_ALERT, "exp_alerts": firing}],
    })
}

/// A burn level's `for`, plus slack for the windows to fill.
fn settle(plan: &Plan, factor: f64) -> Duration {
    let longest_for =
        plan.alerts.burn_rates.iter().filter(|b| b.factor >= factor).map(|b| b.for_).max().unwrap_or_default();
    longest_for + Duration::from_secs(600)
}

pub fn rule_tests(plan: &Plan, rules_path: &str) -> Value {
    let mut tests = Vec::new();
    for t in slos(plan) {
        let allowed = t.objective.map_or(0.0, |o| o.allowed_bad_ratio());
        let mut factors: Vec<f64> = plan.alerts.burn_rates.iter().map(|b| b.factor).collect();
        factors.sort_by(|a, b| b.total_cmp(a));
        factors.dedup();
        let mut healthy =
            case(plan, t, format!("{}: healthy traffic fires no burn alert", t.slo), 0.0, settle(plan, 0.0));
        if let Some(fast) = fast_case(plan, t, true) {
            if let Some(checks) = healthy["alert_rule_test"].as_array_mut() {
                checks.push(fast);
            }
        }
        tests.push(healthy);
        for (i, factor) in factors.iter().enumerate() {
            // Between this level and the next higher one, so exactly the rows at or below it fire.
            let ceiling = if i == 0 { 1.0 / allowed } else { factors[i - 1] };
            let burn = if i == 0 { (factor * 1.25).min(ceiling) } else { (factor * ceiling).sqrt() };
            let bad_ratio = burn * allowed;
            if bad_ratio > 1.0 || burn <= *factor {
                continue;
            }
            let name = format!(
                "{}: {}% bad events burn the budget {}x",
                t.slo,
                super::rules::number(bad_ratio * 100.0),
                super::rules::number(burn)
            );
            let mut test = case(plan, t, name, bad_ratio, settle(plan, *factor));
            if i == 0 {
                if let Some(fast) = fast_case(plan, t, false) {
                    if let Some(checks) = test["alert_rule_test"].as_array_mut() {
                        checks.push(fast);
                    }
                }
                test["promql_expr_test"] = long_windows_case(plan, t, bad_ratio, settle(plan, *factor));
            }
            tests.push(test);
        }
    }
    for t in plan.thresholds.iter().filter(|t| t.service.is_some() && t.objective.is_none()) {
        tests.extend(fast_only_cases(plan, t));
    }
    if slos(plan).next().is_some() {
        tests.push(no_data_case(plan));
    }
    tests.push(cert_case(plan));
    tests.extend(prober_cases(plan));
    json!({"rule_files": [rules_path], "evaluation_interval": prom_duration(STEP), "tests": tests})
}

/// The fast alert is quiet on healthy traffic and fires when the SLO is badly broken.
fn fast_case(plan: &Plan, t: &PlannedThreshold, healthy: bool) -> Option<Value> {
    super::promql::breached(t, plan.alerts.fast_window)?;
    let eval = plan.alerts.fast_window.max(STEP * 2) + plan.alerts.fast_for + STEP * 3;
    let mut labels = json!({"severity": "warning"});
    labels["slo"] = t.slo.clone().into();
    labels["service"] = service(t).into();
    let expected = if healthy {
        vec![]
    } else {
        vec![json!({"exp_labels": labels, "exp_annotations": fast_annotations(plan, t)})]
    };
    Some(json!({"eval_time": prom_duration(eval), "alertname": FAST_ALERT, "exp_alerts": expected}))
}

/// On steady traffic the long windows' ratios, summed from recorded 5m rates,
/// equal both the bad fraction and the ratio read from the raw series.
fn long_windows_case(plan: &Plan, t: &PlannedThreshold, bad_ratio: f64, eval: Duration) -> Value {
    let bad = (bad_ratio * PER_MINUTE as f64).round() / PER_MINUTE as f64;
    let labels = format!("{{slo=\"{}\", service=\"{}\"}}", t.slo, service(t));
    let mut checks = Vec::new();
    for window in [plan.alerts.period, Duration::from_secs(3 * 86400)] {
        let recorded = format!("{}{{slo=\"{}\"}}", ratio_record(window), t.slo);
        checks.push(json!({
            "expr": format!("abs({recorded} - {bad}) < bool 1e-9"),
            "eval_time": prom_duration(eval),
            "exp_samples": [{"labels": labels, "value": 1}],
        }));
        if let Some(raw) = super::promql::error_ratio(t, window) {
            checks.push(json!({
                "expr": format!("abs({recorded} - on () group_left () ({raw})) < bool 1e-9"),
                "eval_time": prom_duration(eval),
                "exp_samples": [{"labels": labels, "value": 1}],
            }));
        }
    }
    Value::Array(checks)
}

/// Two replicas see a server whose chain expires just inside
/// `alerts.cert_expires_within`, and one whose chain lasts twice as long:
/// the first fires once (per server, not per replica), the second not.
fn cert_case(plan: &Plan) -> Value {
    let within = plan.alerts.cert_expires_within.as_secs();
    let eval = Duration::from_secs(2 * 3600);
    // Inside the window from the first minute on, so past the alert's `for: 1h` at `eval`.
    let soon = within;
    let later = eval.as_secs() + 2 * within;
    let metric = crate::model::families::TLS_CERT_EXPIRY.name;
    let input = |instance: &str, server: &str, expiry: u64| {
        json!({
            "series": format!("{metric}{{instance=\"{instance}\",scenario=\"s\",server_name=\"{server}\"}}"),
            "values": format!("{expiry}+0x200"),
        })
    };
    let mut annotations = cert_annotations(plan);
    let left = humanize_duration(within - eval.as_secs());
    annotations["summary"] = format!("The TLS certificate of soon.example expires in {left}").into();
    annotations["description"] = annotations["description"]
        .as_str()
        .unwrap_or_default()
        .replace("{{ $labels.server_name }}", "soon.example")
        .into();
    json!({
        "name": "a certificate expiring soon fires once per server",
        "interval": prom_duration(STEP),
        "input_series": [
            input("a:9469", "soon.example", soon),
            input("b:9469", "soon.example", soon),
            input("a:9469", "later.example", later),
        ],
        "alert_rule_test": [{
            "eval_time": prom_duration(eval),
            "alertname": CERT_ALERT,
            "exp_alerts": [{"exp_labels": {"severity": "warning", "server_name": "soon.example"}, "exp_annotations": annotations}],
        }],
    })
}

/// A threshold without an objective (an average) still has its fast alert:
/// quiet while the average holds, firing once it breaks.
fn fast_only_cases(plan: &Plan, t: &PlannedThreshold) -> Vec<Value> {
    let (Series::Histogram { family }, Aggregation::Avg) = (t.metric.series(), t.condition.aggregation) else {
        return Vec::new();
    };
    let Some(firing) = fast_case(plan, t, false) else { return Vec::new() };
    let quiet = fast_case(plan, t, true).unwrap_or_default();
    let labels = sample_labels(plan, t);
    let upper_bound = matches!(t.condition.operator, Operator::Lt | Operator::Le);
    let minutes = 60;
    let test = |name: &str, average: f64, check: Value| {
        let line = |suffix: &str, per_minute: f64| json!({"series": series_name(&labels, &format!("{family}{suffix}"), &[]), "values": format!("0+{per_minute}x{minutes}")});
        json!({
            "name": format!("{}: {name}", t.slo),
            "interval": prom_duration(STEP),
            "input_series": [line("_sum", average * 100.0), line("_count", 100.0)],
            "alert_rule_test": [check],
        })
    };
    let (holds, breaks) =
        if upper_bound { (t.limit() / 2.0, t.limit() * 2.0) } else { (t.limit() * 2.0, t.limit() / 2.0) };
    vec![
        test("an average that holds fires no fast alert", holds, quiet),
        test("a broken average fires its fast alert", breaks, firing),
    ]
}

/// With no events at all, every SLO's no-data alert fires once
/// `alerts.no_data_for` has passed, and not before.
fn no_data_case(plan: &Plan) -> Value {
    let firing: Vec<Value> = slos(plan)
        .map(|t| {
            let mut labels = slo_labels(t);
            labels["severity"] = "warning".into();
            json!({"exp_labels": labels, "exp_annotations": no_data_annotations(plan, t)})
        })
        .collect();
    let before = plan.alerts.no_data_for.saturating_sub(STEP);
    let after = plan.alerts.no_data_for + STEP * 2;
    let alert = |eval: Duration, expected: &[Value]| json!({"eval_time": prom_duration(eval), "alertname": NO_DATA_ALERT, "exp_alerts": expected});
    json!({
        "name": format!("no events for {} fires every SLO's no-data alert", prom_duration(plan.alerts.no_data_for)),
        "interval": prom_duration(STEP),
        "input_series": [],
        "alert_rule_test": [alert(before, &[]), alert(after, &firing)],
    })
}

/// The prober's own alerts, each on the series it reads (named by the
/// catalog): one scenario or instance in trouble fires, a healthy one does not.
fn prober_cases(plan: &Plan) -> Vec<Value> {
    let job = &plan.alerts.job;
    let series =
        |name: &str, labels: &str, values: &str| json!({"series": format!("{name}{{{labels}}}"), "values": values});
    let eval = |minutes: u64| prom_duration(Duration::from_secs(minutes * 60));
    // Each firing alert: the labels it carries besides `severity`, filled into its annotations.
    let case = |alert: &ProberAlert, input: Vec<Value>, firing: Vec<Vec<(&str, &str)>>, minutes: u64| {
        let expected: Vec<Value> = firing
            .iter()
            .map(|pairs| {
                let mut labels = json!({"severity": "warning"});
                let mut annotations = alert.annotations(plan);
                for (label, value) in pairs {
                    labels[*label] = (*value).into();
                    for text in ["summary", "description"] {
                        let filled = annotations[text]
                            .as_str()
                            .unwrap_or_default()
                            .replace(&format!("{{{{ $labels.{label} }}}}"), value);
                        annotations[text] = filled.into();
                    }
                }
                json!({"exp_labels": labels, "exp_annotations": annotations})
            })
            .collect();
        json!({
            "name": format!("{}: fires for what is in trouble, not for what is healthy", alert.name),
            "interval": prom_duration(STEP),
            "input_series": input,
            "alert_rule_test": [{"eval_time": eval(minutes), "alertname": alert.name, "exp_alerts": expected}],
        })
    };
    let reqs = exported::HTTP_REQS.name;
    let instance =
        |scenario: &str| format!("instance=\"sloprober-0:9469\",job=\"{job}\",scenario=\"{scenario}\",request=\"r\"");
    prober_alerts(plan)
        .iter()
        .map(|alert| match alert.name {
            TARGET_DOWN_ALERT => case(
                alert,
                vec![
                    series(reqs, &format!("{},status=\"error\"", instance("down")), "0+60x20"),
                    series(reqs, &format!("{},status=\"200\"", instance("down")), "0+40x20"),
                    series(reqs, &format!("{},status=\"error\"", instance("up")), "0+10x20"),
                    series(reqs, &format!("{},status=\"200\"", instance("up")), "0+90x20"),
                ],
                vec![vec![("scenario", "down")]],
                15,
            ),
            NOT_SCRAPED_ALERT => case(
                alert,
                vec![series("up", &format!("instance=\"sloprober-0:9469\",job=\"{job}\""), "0x20")],
                vec![vec![]],
                15,
            ),
            DROPPED_ALERT => case(
                alert,
                vec![
                    series(exported::DROPPED_ITERATIONS.name, &format!("job=\"{job}\",scenario=\"starved\""), "0+5x30"),
                    series(exported::DROPPED_ITERATIONS.name, &format!("job=\"{job}\",scenario=\"fed\""), "0x30"),
                ],
                vec![vec![("scenario", "starved")]],
                20,
            ),
            SETUP_ALERT => case(
                alert,
                vec![
                    series(
                        exported::SETUP_SUCCESSFUL.name,
                        &format!("instance=\"a:9469\",job=\"{job}\",scenario=\"blocked\""),
                        "0x20",
                    ),
                    series(
                        exported::SETUP_SUCCESSFUL.name,
                        &format!("instance=\"a:9469\",job=\"{job}\",scenario=\"fine\""),
                        "1x20",
                    ),
                ],
                vec![vec![("scenario", "blocked"), ("instance", "a:9469"), ("job", job)]],
                15,
            ),
            RELOAD_ALERT => case(
                alert,
                vec![
                    series(
                        exported::CONFIG_RELOAD_SUCCESSFUL.name,
                        &format!("instance=\"a:9469\",job=\"{job}\""),
                        "0x20",
                    ),
                    series(
                        exported::CONFIG_RELOAD_SUCCESSFUL.name,
                        &format!("instance=\"b:9469\",job=\"{job}\""),
                        "1x20",
                    ),
                ],
                vec![vec![("instance", "a:9469"), ("job", job)]],
                15,
            ),
            _ => Value::Null,
        })
        .filter(|case| !case.is_null())
        .collect()
}

/// Prometheus' `humanizeDuration` of whole seconds.
fn humanize_duration(seconds: u64) -> String {
    let (d, h, m, s) = (seconds / 86400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m {s}s"),
        _ => format!("{d}d {h}h {m}m {s}s"),
    }
}
