//! Prometheus recording and alert rules for every SLO of a plan.

use super::promql::{breached, error_ratio, prom_duration};
use crate::config::BurnRateAlert;
use crate::plan::{Plan, PlannedThreshold};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

pub const BURN_ALERT: &str = "SLOErrorBudgetBurn";
pub const FAST_ALERT: &str = "SLOThresholdBreached";

/// Windows every SLO's error ratio is recorded over.
pub fn windows(plan: &Plan) -> BTreeSet<Duration> {
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let mut set: BTreeSet<Duration> = [5, 30, 60, 120, 360, 1440, 4320].into_iter().map(minutes).collect();
    for b in &plan.alerts.burn_rates {
        set.insert(b.long);
        set.insert(b.short);
    }
    set.insert(plan.alerts.period);
    set
}

pub fn ratio_record(window: Duration) -> String {
    format!("sloprober_slo:error_ratio:rate{}", prom_duration(window))
}

/// The service an SLO belongs to: its scenario tag, the one scenario feeding it, or "all".
pub fn service(plan: &Plan, t: &PlannedThreshold) -> String {
    if let Some((_, scenario)) = t.metric.tags.iter().find(|(k, _)| k == "scenario") {
        return scenario.clone();
    }
    let name = &t.metric.name;
    let feeding: Vec<&str> = plan
        .scenarios
        .iter()
        .filter(|s| s.requests.iter().any(|r| r.trend.as_ref() == Some(name) || r.rate.as_ref() == Some(name)))
        .map(|s| s.name.as_str())
        .collect();
    match feeding.as_slice() {
        [one] => one.to_string(),
        _ => "all".to_string(),
    }
}

/// `0.72` for 14.4 x 5 %: rounded so float noise does not reach the rule files.
pub fn number(value: f64) -> String {
    let rounded = (value * 1e9).round() / 1e9;
    format!("{rounded}")
}

fn anchor(alert: &str) -> String {
    alert.to_ascii_lowercase()
}

pub fn burn_annotations(plan: &Plan, t: &PlannedThreshold, b: &BurnRateAlert) -> Value {
    let period = prom_duration(plan.alerts.period);
    let exhausted = prom_duration(Duration::from_secs((plan.alerts.period.as_secs_f64() / b.factor) as u64));
    json!({
        "summary": format!("{}: error budget burning {}x too fast", t.slo, number(b.factor)),
        "description": format!(
            "SLO {} ({} {}) spent its error budget at more than {}x the sustainable rate over the last {} and {}. At this rate the {period} budget is gone in {exhausted}.",
            t.slo, t.metric, t.expression, number(b.factor), prom_duration(b.long), prom_duration(b.short)
        ),
        "runbook_url": format!("{}#{}", plan.alerts.runbook_url, anchor(BURN_ALERT)),
    })
}

pub fn fast_annotations(plan: &Plan, t: &PlannedThreshold) -> Value {
    json!({
        "summary": format!("{}: {} {} fails now", t.slo, t.metric, t.expression),
        "description": format!(
            "Over the last {}, {} {} does not hold: a CI run would fail on this threshold.",
            prom_duration(plan.alerts.fast_window), t.metric, t.expression
        ),
        "runbook_url": format!("{}#{}", plan.alerts.runbook_url, anchor(FAST_ALERT)),
    })
}

/// Labels an SLO's alerts carry besides `severity`.
pub fn slo_labels(plan: &Plan, t: &PlannedThreshold) -> Value {
    json!({"slo": t.slo, "service": service(plan, t)})
}

pub fn burn_labels(plan: &Plan, t: &PlannedThreshold, b: &BurnRateAlert) -> Value {
    json!({
        "severity": b.severity,
        "slo": t.slo,
        "service": service(plan, t),
        "window": format!("{}/{}", prom_duration(b.long), prom_duration(b.short)),
    })
}

pub fn rules(plan: &Plan) -> Value {
    let slos: Vec<&PlannedThreshold> = plan.thresholds.iter().filter(|t| t.objective_ratio().is_some()).collect();
    let windows = windows(plan);
    let mut recording = Vec::new();
    let mut alerts = Vec::new();
    for t in &slos {
        let objective = t.objective_ratio().unwrap_or(1.0);
        for w in &windows {
            if let Some(expr) = error_ratio(t, *w) {
                recording.push(json!({"record": ratio_record(*w), "expr": expr, "labels": slo_labels(plan, t)}));
            }
        }
        recording.push(json!({
            "record": "sloprober_slo:error_budget_remaining:ratio",
            "expr": format!("1 - {}{{slo=\"{}\"}} / {}", ratio_record(plan.alerts.period), t.slo, number(1.0 - objective)),
            "labels": slo_labels(plan, t),
        }));
        for b in &plan.alerts.burn_rates {
            let limit = number(b.factor * (1.0 - objective));
            let mut rule = json!({
                "alert": BURN_ALERT,
                "expr": format!(
                    "{}{{slo=\"{}\"}} > {limit}\nand\n{}{{slo=\"{}\"}} > {limit}",
                    ratio_record(b.long), t.slo, ratio_record(b.short), t.slo
                ),
            });
            if !b.for_.is_zero() {
                rule["for"] = prom_duration(b.for_).into();
            }
            rule["labels"] = burn_labels(plan, t, b);
            rule["annotations"] = burn_annotations(plan, t, b);
            alerts.push(rule);
        }
    }
    for t in &plan.thresholds {
        if let Some(expr) = breached(t, plan.alerts.fast_window) {
            let mut labels = slo_labels(plan, t);
            labels["severity"] = "warning".into();
            let mut rule = json!({"alert": FAST_ALERT, "expr": expr});
            if !plan.alerts.fast_for.is_zero() {
                rule["for"] = prom_duration(plan.alerts.fast_for).into();
            }
            rule["labels"] = labels;
            rule["annotations"] = fast_annotations(plan, t);
            alerts.push(rule);
        }
    }
    json!({"groups": [
        {"name": "sloprober-slo-recording", "rules": recording},
        {"name": "sloprober-slo-alerts", "rules": alerts},
        {"name": "sloprober-prober", "rules": prober_alerts(plan)},
    ]})
}

fn prober_alerts(plan: &Plan) -> Vec<Value> {
    let runbook = |alert: &str| format!("{}#{}", plan.alerts.runbook_url, anchor(alert));
    let job = &plan.alerts.job;
    vec![
        json!({
            "alert": "SloproberTargetDown",
            "expr": "sum by (scenario) (rate(sloprober_http_reqs_total{status=\"error\"}[5m]))\n/\nsum by (scenario) (rate(sloprober_http_reqs_total[5m])) > 0.5",
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "sloprober gets no answer from scenario {{ $labels.scenario }}",
                "description": "More than half of the requests of scenario {{ $labels.scenario }} got no response (connect, timeout or reset) over 5m.",
                "runbook_url": runbook("SloproberTargetDown"),
            },
        }),
        json!({
            "alert": "SloproberNotScraped",
            "expr": format!("absent(up{{job=\"{job}\"}} == 1)"),
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Prometheus cannot scrape sloprober",
                "description": format!("No healthy target of job \"{job}\" for 5m: SLO data and alerts are blind."),
                "runbook_url": runbook("SloproberNotScraped"),
            },
        }),
        json!({
            "alert": "SloproberDroppedIterations",
            "expr": "sum by (scenario) (rate(sloprober_dropped_iterations_total[5m])) > 0",
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "sloprober cannot keep the configured rate for {{ $labels.scenario }}",
                "description": "Iterations of scenario {{ $labels.scenario }} are being dropped because every VU is busy: the target is slow or max_vus is too low, and the load is below what the config asks.",
                "runbook_url": runbook("SloproberDroppedIterations"),
            },
        }),
        json!({
            "alert": "SloproberConfigReloadFailed",
            "expr": "sloprober_config_last_reload_successful == 0",
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "sloprober rejected its new config",
                "description": "The last config reload of {{ $labels.instance }} failed; the previous config keeps running.",
                "runbook_url": runbook("SloproberConfigReloadFailed"),
            },
        }),
    ]
}
