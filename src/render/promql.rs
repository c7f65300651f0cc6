//! PromQL for an SLO: its error ratio over a window, and the "breached now" test.

use crate::config::CustomKind;
use crate::plan::PlannedThreshold;
use crate::threshold::{Aggregation, Operator};
use std::time::Duration;

/// `5m`, `1h`, `30d`, `90s`: the largest unit that divides the duration exactly.
pub fn prom_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_millis() != 0 || secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60)] {
        if secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// A bucket boundary as the prometheus crate writes it (Rust's shortest f64 form).
fn le(seconds: f64) -> String {
    format!("{seconds}")
}

/// Label matchers for the threshold's tags; custom families only carry `scenario`.
fn matchers(t: &PlannedThreshold, extra: &[(&str, String)]) -> String {
    let builtin = crate::plan::builtin_kind(&t.metric.name).is_some();
    let mut parts: Vec<String> =
        t.metric.tags.iter().filter(|(k, _)| k == "scenario" || builtin).map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    parts.extend(extra.iter().map(|(k, v)| format!("{k}=\"{v}\"")));
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// The histogram family behind a Trend.
fn histogram(t: &PlannedThreshold) -> String {
    if t.metric.name == "http_req_duration" {
        "sloprober_http_req_duration_seconds".to_string()
    } else {
        format!("{}_seconds", t.metric.name)
    }
}

/// (series counting true samples, series counting all samples) behind a Rate.
fn rate_series(t: &PlannedThreshold) -> (String, String) {
    match t.metric.name.as_str() {
        "http_req_failed" => (
            format!("sloprober_http_req_failed_total{}", matchers(t, &[])),
            format!("sloprober_http_reqs_total{}", matchers(t, &[])),
        ),
        "checks" => (
            format!("sloprober_checks_total{}", matchers(t, &[("result", "pass".into())])),
            format!("sloprober_checks_total{}", matchers(t, &[])),
        ),
        name => (format!("{name}_total{}", matchers(t, &[])), format!("{name}_samples_total{}", matchers(t, &[]))),
    }
}

/// Whether the SLO has a PromQL error ratio: latency percentiles and rates.
pub fn has_error_ratio(t: &PlannedThreshold) -> bool {
    t.objective_ratio().is_some()
}

/// Fraction of bad events over `window`: slow requests, or failed ones.
pub fn error_ratio(t: &PlannedThreshold, window: Duration) -> Option<String> {
    t.objective_ratio()?;
    let w = prom_duration(window);
    Some(match t.kind {
        CustomKind::Trend => {
            let family = histogram(t);
            let good = matchers(t, &[("le", le(t.condition.value / 1000.0))]);
            let all = matchers(t, &[]);
            format!("1 - (\n  sum(rate({family}_bucket{good}[{w}]))\n  /\n  sum(rate({family}_count{all}[{w}]))\n)")
        }
        _ => {
            let (trues, total) = rate_series(t);
            let ratio = format!("sum(rate({trues}[{w}]))\n/\nsum(rate({total}[{w}]))");
            match t.condition.operator {
                Operator::Gt | Operator::Ge => format!("1 - (\n{ratio}\n)"),
                _ => ratio,
            }
        }
    })
}

/// True (non-empty) while the threshold fails over `window`, as the CI verdict would.
pub fn breached(t: &PlannedThreshold, window: Duration) -> Option<String> {
    let w = prom_duration(window);
    let c = t.condition;
    let fails = match c.operator {
        Operator::Lt => ">=",
        Operator::Le => ">",
        Operator::Gt => "<=",
        Operator::Ge => "<",
        Operator::Eq | Operator::Ne => return None,
    };
    let statistic = match (t.kind, c.aggregation) {
        (CustomKind::Trend, Aggregation::Percentile(_) | Aggregation::Med) => {
            let q = match c.aggregation {
                Aggregation::Percentile(p) => p / 100.0,
                _ => 0.5,
            };
            format!("histogram_quantile({q}, sum by (le) (rate({}_bucket{}[{w}])))", histogram(t), matchers(t, &[]))
        }
        (CustomKind::Trend, Aggregation::Avg) => {
            let m = matchers(t, &[]);
            format!("sum(rate({0}_sum{m}[{w}])) / sum(rate({0}_count{m}[{w}]))", histogram(t))
        }
        (CustomKind::Rate, Aggregation::Rate) => {
            let (trues, total) = rate_series(t);
            format!("sum(rate({trues}[{w}])) / sum(rate({total}[{w}]))")
        }
        _ => return None,
    };
    let limit = if t.kind == CustomKind::Trend { c.value / 1000.0 } else { c.value };
    Some(format!("{statistic} {fails} {limit}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_prometheus_form() {
        assert_eq!(prom_duration(Duration::from_secs(300)), "5m");
        assert_eq!(prom_duration(Duration::from_secs(30 * 86400)), "30d");
        assert_eq!(prom_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(prom_duration(Duration::from_secs(90)), "90s");
        assert_eq!(prom_duration(Duration::from_millis(1500)), "1500ms");
    }
}
