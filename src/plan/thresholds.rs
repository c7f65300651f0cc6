//! Thresholds resolved for a profile: parsed, checked against the metrics
//! that exist, and named as SLOs.

use crate::config::{Config, CustomKind, Problems, ThresholdEntry};
use crate::threshold::{parse_condition, parse_selector, Aggregation, Condition, MetricSelector};
use std::collections::BTreeMap;
use std::time::Duration;

/// k6's built-in metrics, in the order reports list them.
pub const BUILTIN_METRICS: &[&str] = &[
    "http_reqs",
    "http_req_duration",
    "http_req_failed",
    "checks",
    "iterations",
    "dropped_iterations",
    "data_sent",
    "data_received",
    "vus_max",
];

/// k6's built-in metrics, by the names thresholds use.
pub fn builtin_kind(name: &str) -> Option<CustomKind> {
    Some(match name {
        "http_req_duration" => CustomKind::Trend,
        "http_req_failed" | "checks" => CustomKind::Rate,
        "http_reqs" | "iterations" | "dropped_iterations" | "data_sent" | "data_received" => CustomKind::Counter,
        "vus" | "vus_max" => CustomKind::Gauge,
        _ => return None,
    })
}

/// A threshold ready to evaluate, with the SLO name it is exported under.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedThreshold {
    pub slo: String,
    pub metric: MetricSelector,
    pub kind: CustomKind,
    pub condition: Condition,
    pub expression: String,
    pub abort_on_fail: bool,
    pub delay_abort_eval: Option<Duration>,
}

impl PlannedThreshold {
    /// For `p(95)<300` on a Trend: 0.3 s, a boundary the histogram must have.
    pub fn latency_seconds(&self) -> Option<f64> {
        (self.kind == CustomKind::Trend).then_some(self.condition.value / 1000.0)
    }

    /// The SLI objective, as a fraction of good events: `p(95)<300` asks 95 % of
    /// samples <= 0.3 s; `rate<0.01` on errors asks 99 % good; `rate>0.99` on checks asks 99 %.
    pub fn objective_ratio(&self) -> Option<f64> {
        use crate::threshold::Operator::*;
        match (self.kind, self.condition.aggregation, self.condition.operator) {
            (CustomKind::Trend, Aggregation::Percentile(p), Lt | Le) => Some(p / 100.0),
            (CustomKind::Trend, Aggregation::Med, Lt | Le) => Some(0.5),
            (CustomKind::Rate, Aggregation::Rate, Lt | Le) => Some(1.0 - self.condition.value),
            (CustomKind::Rate, Aggregation::Rate, Gt | Ge) => Some(self.condition.value),
            _ => None,
        }
    }
}

/// The thresholds in force for `profile`: the top level, with each metric the profile lists replaced.
pub fn plan(config: &Config, profile: &str, problems: &mut Problems) -> Vec<PlannedThreshold> {
    for (name, overrides) in &config.profiles {
        for (metric, entries) in &overrides.thresholds {
            let path = format!("profiles.{name}.thresholds.{metric}");
            for (i, entry) in entries.iter().enumerate() {
                check_one(config, metric, entry, &format!("{path}[{i}]"), problems);
            }
        }
    }
    let mut merged: BTreeMap<&String, (String, &Vec<ThresholdEntry>)> =
        config.thresholds.iter().map(|(m, e)| (m, (format!("thresholds.{m}"), e))).collect();
    if let Some(overrides) = config.profiles.get(profile) {
        for (m, e) in &overrides.thresholds {
            merged.insert(m, (format!("profiles.{profile}.thresholds.{m}"), e));
        }
    }
    let mut planned: Vec<PlannedThreshold> = Vec::new();
    for (metric, (path, entries)) in merged {
        for (i, entry) in entries.iter().enumerate() {
            let from_profile = path.starts_with("profiles.");
            let at = format!("{path}[{i}]");
            let checked = if from_profile {
                check_one(config, metric, entry, &at, &mut Problems::default())
            } else {
                check_one(config, metric, entry, &at, problems)
            };
            if let Some(mut threshold) = checked {
                let base = threshold.slo.clone();
                let mut n = 2;
                while planned.iter().any(|t| t.slo == threshold.slo) {
                    threshold.slo = format!("{base}_{n}");
                    n += 1;
                }
                planned.push(threshold);
            }
        }
    }
    planned
}

fn check_one(
    config: &Config,
    metric: &str,
    entry: &ThresholdEntry,
    path: &str,
    problems: &mut Problems,
) -> Option<PlannedThreshold> {
    let selector = parse_selector(metric).map_err(|e| problems.add(path, e)).ok();
    let condition = parse_condition(&entry.expression).map_err(|e| problems.add(path, e)).ok();
    let (selector, condition) = (selector?, condition?);
    let Some(kind) = builtin_kind(&selector.name).or_else(|| config.metrics.custom.get(&selector.name).copied()) else {
        problems.add(
            path,
            format!("unknown metric \"{}\"; use a built-in (http_req_duration, http_req_failed, checks, ...) or one declared in metrics.custom", selector.name),
        );
        return None;
    };
    if !condition.aggregation.fits(kind) {
        problems.add(
            path,
            format!(
                "{} does not apply to {} (a {}); use {}",
                condition.aggregation,
                selector.name,
                kind.name(),
                Aggregation::allowed_for(kind)
            ),
        );
        return None;
    }
    for (key, value) in &selector.tags {
        let known = match key.as_str() {
            "scenario" => config.scenarios.contains_key(value),
            "request" => config.scenarios.values().any(|s| s.requests.iter().any(|r| &r.name == value)),
            _ => {
                problems.add(path, format!("unknown tag \"{key}\"; thresholds filter on scenario and request"));
                return None;
            }
        };
        if !known {
            problems.add(path, format!("no {key} is named \"{value}\""));
            return None;
        }
    }
    Some(PlannedThreshold {
        slo: slo_name(&selector, &condition),
        metric: selector,
        kind,
        condition,
        expression: entry.expression.clone(),
        abort_on_fail: entry.abort_on_fail,
        delay_abort_eval: entry.delay_abort_eval,
    })
}

/// `generate_duration_p95`, `http_req_duration_search_p99`, `errors_rate`.
fn slo_name(selector: &MetricSelector, condition: &Condition) -> String {
    let mut name = selector.name.clone();
    for (_, value) in &selector.tags {
        name.push('_');
        name.push_str(value);
    }
    let aggregation = match condition.aggregation {
        Aggregation::Percentile(p) => format!("p{}", p.to_string().replace('.', "_")),
        other => other.to_string(),
    };
    name.push('_');
    name.push_str(&aggregation);
    name.replace('-', "_")
}
