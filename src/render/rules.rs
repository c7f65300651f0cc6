//! Prometheus recording and alert rules for every SLO of a plan.

use super::promql::{bad_events, breached, error_ratio, events, prom_duration};
use crate::config::BurnRateAlert;
use crate::model::families as exported;
use crate::model::units;
use crate::plan::{Plan, PlannedThreshold};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

pub const BURN_ALERT: &str = "SLOErrorBudgetBurn";
pub const FAST_ALERT: &str = "SLOThresholdBreached";
pub const NO_DATA_ALERT: &str = "SLONoData";

/// Error ratios over windows this long or longer are summed from recorded
/// 5-minute rates instead of re-reading every raw bucket sample of the window.
pub const LONG_WINDOW: Duration = Duration::from_secs(86400);
/// The window of the recorded rates that long windows are summed from.
pub const BASE_WINDOW: Duration = Duration::from_secs(300);
pub const EVENTS_RECORD: &str = "sloprober_slo:events:rate5m";
pub const BAD_EVENTS_RECORD: &str = "sloprober_slo:bad_events:rate5m";
/// What is left of each SLO's error budget over the SLO period.
pub const BUDGET_RECORD: &str = "sloprober_slo:error_budget_remaining:ratio";

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

/// The service that owns an SLO, decided in the plan.
pub fn service(t: &PlannedThreshold) -> &str {
    t.service.as_deref().unwrap_or_default()
}

/// `0.72` for 14.4 x 5 %: rounded so float noise does not reach the rule files.
pub fn number(value: f64) -> String {
    format!("{}", units::round(value, units::NOISE_FREE))
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
            t.slo, t.selector(), t.expression, number(b.factor), prom_duration(b.long), prom_duration(b.short)
        ),
        "runbook_url": format!("{}#{}", plan.alerts.runbook_url, anchor(BURN_ALERT)),
    })
}

pub fn fast_annotations(plan: &Plan, t: &PlannedThreshold) -> Value {
    json!({
        "summary": format!("{}: {} {} fails now", t.slo, t.selector(), t.expression),
        "description": format!(
            "Over the last {}, {} {} does not hold: a CI run would fail on this threshold.",
            prom_duration(plan.alerts.fast_window), t.selector(), t.expression
        ),
        "runbook_url": format!("{}#{}", plan.alerts.runbook_url, anchor(FAST_ALERT)),
    })
}

pub fn no_data_annotations(plan: &Plan, t: &PlannedThreshold) -> Value {
    json!({
        "summary": format!("{}: no data", t.slo),
        "description": format!(
            "No sample of {} has reached Prometheus for {}: the prober stopped sending the request, every request failed (a latency SLI counts only expected answers), or scrapes are lost. The SLO is blind.",
            t.selector(), prom_duration(plan.alerts.no_data_for)
        ),
        "runbook_url": format!("{}#{}", plan.alerts.runbook_url, anchor(NO_DATA_ALERT)),
    })
}

/// Labels an SLO's alerts carry besides `severity`.
pub fn slo_labels(t: &PlannedThreshold) -> Value {
    json!({"slo": t.slo, "service": service(t)})
}

pub fn burn_labels(t: &PlannedThreshold, b: &BurnRateAlert) -> Value {
    json!({
        "severity": b.severity,
        "slo": t.slo,
        "service": service(t),
        "window": format!("{}/{}", prom_duration(b.long), prom_duration(b.short)),
    })
}

/// The SLOs of a plan: thresholds with an objective.
pub fn slos(plan: &Plan) -> impl Iterator<Item = &PlannedThreshold> {
    plan.thresholds.iter().filter(|t| t.objective.is_some())
}

/// The error ratio over `window`: from raw series, or for long windows from the recorded 5m rates.
fn window_ratio(t: &PlannedThreshold, window: Duration) -> Option<String> {
    if window < LONG_WINDOW {
        return error_ratio(t, window);
    }
    let w = prom_duration(window);
    let slo = &t.slo;
    Some(format!(
        "sum_over_time({BAD_EVENTS_RECORD}{{slo=\"{slo}\"}}[{w}])\n/\nsum_over_time({EVENTS_RECORD}{{slo=\"{slo}\"}}[{w}])"
    ))
}

pub fn rules(plan: &Plan) -> Value {
    let windows = windows(plan);
    let mut recording = Vec::new();
    let mut alerts = Vec::new();
    for t in slos(plan) {
        let objective = t.objective.map_or(1.0, |o| o.ratio);
        if let (Some(all), Some(bad)) = (events(t, BASE_WINDOW), bad_events(t, BASE_WINDOW)) {
            recording.push(json!({"record": EVENTS_RECORD, "expr": all, "labels": slo_labels(t)}));
            recording.push(json!({"record": BAD_EVENTS_RECORD, "expr": bad, "labels": slo_labels(t)}));
        }
        for w in &windows {
            if let Some(expr) = window_ratio(t, *w) {
                recording.push(json!({"record": ratio_record(*w), "expr": expr, "labels": slo_labels(t)}));
            }
        }
        recording.push(json!({
            "record": BUDGET_RECORD,
            "expr": format!("1 - {}{{slo=\"{}\"}} / {}", ratio_record(plan.alerts.period), t.slo, number(1.0 - objective)),
            "labels": slo_labels(t),
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
            rule["labels"] = burn_labels(t, b);
            rule["annotations"] = burn_annotations(plan, t, b);
            alerts.push(rule);
        }
        if let Some(all) = events(t, plan.alerts.fast_window) {
            let mut labels = slo_labels(t);
            labels["severity"] = "warning".into();
            alerts.push(json!({
                "alert": NO_DATA_ALERT,
                "expr": format!("({all} or vector(0)) == 0"),
                "for": prom_duration(plan.alerts.no_data_for),
                "labels": labels,
                "annotations": no_data_annotations(plan, t),
            }));
        }
    }
    for t in plan.thresholds.iter().filter(|t| t.service.is_some()) {
        if let Some(expr) = breached(t, plan.alerts.fast_window) {
            let mut labels = slo_labels(t);
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
        {"name": "sloprober-prober", "rules": prober_alerts(plan).iter().map(|a| a.rule(plan)).collect::<Vec<_>>()},
    ]})
}

pub const CERT_ALERT: &str = "SloproberCertificateExpiringSoon";

/// Per server, whichever replica or scenario saw it: the one certificate expires once.
pub fn cert_expiry_expr(plan: &Plan) -> String {
    format!(
        "min by (server_name) ({}) - time() < {}",
        exported::TLS_CERT_EXPIRY.name,
        plan.alerts.cert_expires_within.as_secs()
    )
}

pub fn cert_annotations(plan: &Plan) -> Value {
    let within = prom_duration(plan.alerts.cert_expires_within);
    json!({
        "summary": "The TLS certificate of {{ $labels.server_name }} expires in {{ $value | humanizeDuration }}",
        "description": format!("The earliest certificate of the chain {{{{ $labels.server_name }}}} presents expires within {within} (a negative time: it has expired). Renew it before probes and users get TLS failures."),
        "runbook_url": format!("{}#{}", plan.alerts.runbook_url, anchor(CERT_ALERT)),
    })
}

pub const TARGET_DOWN_ALERT: &str = "SloproberTargetDown";
pub const NOT_SCRAPED_ALERT: &str = "SloproberNotScraped";
pub const DROPPED_ALERT: &str = "SloproberDroppedIterations";
pub const RELOAD_ALERT: &str = "SloproberConfigReloadFailed";
pub const SETUP_ALERT: &str = "SloproberSetupFailing";

/// One of the prober's own alerts (not an SLO's): all are warnings.
pub struct ProberAlert {
    pub name: &'static str,
    pub expr: String,
    pub for_: &'static str,
    summary: String,
    description: String,
}

impl ProberAlert {
    pub fn annotations(&self, plan: &Plan) -> Value {
        json!({
            "summary": self.summary,
            "description": self.description,
            "runbook_url": format!("{}#{}", plan.alerts.runbook_url, anchor(self.name)),
        })
    }

    fn rule(&self, plan: &Plan) -> Value {
        json!({
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": "warning"},
            "annotations": self.annotations(plan),
        })
    }
}

/// The prober's own alerts, on series the catalog names.
pub fn prober_alerts(plan: &Plan) -> Vec<ProberAlert> {
    let job = &plan.alerts.job;
    let cert = cert_annotations(plan);
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    vec![
        ProberAlert {
            name: TARGET_DOWN_ALERT,
            expr: format!(
                "sum by (scenario) (rate({reqs}{{status=\"error\"}}[5m]))\n/\nsum by (scenario) (rate({reqs}[5m])) > 0.5",
                reqs = exported::HTTP_REQS.name
            ),
            for_: "5m",
            summary: "sloprober gets no answer from scenario {{ $labels.scenario }}".into(),
            description: "More than half of the requests of scenario {{ $labels.scenario }} got no response (connect, timeout or reset) over 5m.".into(),
        },
        ProberAlert {
            name: NOT_SCRAPED_ALERT,
            expr: format!("absent(up{{job=\"{job}\"}} == 1)"),
            for_: "5m",
            summary: "Prometheus cannot scrape sloprober".into(),
            description: format!("No healthy target of job \"{job}\" for 5m: SLO data and alerts are blind."),
        },
        ProberAlert {
            name: DROPPED_ALERT,
            expr: format!("sum by (scenario) (rate({}[5m])) > 0", exported::DROPPED_ITERATIONS.name),
            for_: "10m",
            summary: "sloprober cannot keep the configured rate for {{ $labels.scenario }}".into(),
            description: "Iterations of scenario {{ $labels.scenario }} are being dropped because every VU is busy: the target is slow or max_vus is too low, and the load is below what the config asks.".into(),
        },
        ProberAlert {
            name: CERT_ALERT,
            expr: cert_expiry_expr(plan),
            for_: "1h",
            summary: text(&cert["summary"]),
            description: text(&cert["description"]),
        },
        ProberAlert {
            name: SETUP_ALERT,
            expr: format!("{} == 0", exported::SETUP_SUCCESSFUL.name),
            for_: "5m",
            summary: "The setup of scenario {{ $labels.scenario }} fails: none of its load is made".into(),
            description: "The setup of scenario {{ $labels.scenario }} on {{ $labels.instance }} has failed for 5m; the daemon makes none of the scenario's load until it passes, and the status page says why.".into(),
        },
        ProberAlert {
            name: RELOAD_ALERT,
            expr: format!("{} == 0", exported::CONFIG_RELOAD_SUCCESSFUL.name),
            for_: "5m",
            summary: "sloprober rejected its new config".into(),
            description: "The last config reload of {{ $labels.instance }} failed; the previous config keeps running.".into(),
        },
    ]
}
