//! Evaluating a threshold on a snapshot: the observed value, pass or fail,
//! and for SLO-shaped thresholds the SLI (fraction of good events) and the
//! error budget it uses.

use crate::config::CustomKind;
use crate::plan::PlannedThreshold;
use crate::stats::{RequestStats, RequestView, Snapshot};
use crate::threshold::{Aggregation, MetricSelector, Operator};
use serde::Serialize;

/// The outcome of one threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// In the threshold's own unit (milliseconds for Trends); None without data.
    pub observed: Option<f64>,
    /// True when the condition holds, or when there was no data (as k6 does).
    pub passed: bool,
    /// Fraction of good events, for latency and rate SLOs with data.
    pub good_ratio: Option<f64>,
}

impl Verdict {
    pub fn has_data(&self) -> bool {
        self.observed.is_some()
    }

    /// Share of the error budget spent: bad fraction / allowed bad fraction.
    pub fn budget_used(&self, threshold: &PlannedThreshold) -> Option<f64> {
        let objective = threshold.objective_ratio()?;
        let good = self.good_ratio?;
        (objective < 1.0).then(|| (1.0 - good) / (1.0 - objective))
    }
}

/// What a metric selector yields on a snapshot.
enum Source {
    Latency(Option<Box<RequestStats>>),
    /// `hits` of `total` were true.
    Rate {
        hits: u64,
        total: u64,
    },
    Counter(f64),
    Gauge(Option<f64>),
}

fn tags_match(metric: &MetricSelector, view: &RequestView) -> bool {
    metric.tags.iter().all(|(key, value)| match key.as_str() {
        "scenario" => &view.scenario == value,
        "request" => &view.request == value,
        _ => false,
    })
}

fn source(metric: &MetricSelector, kind: CustomKind, snapshot: &Snapshot) -> Source {
    let name = metric.name.as_str();
    let matching = |feeds: &dyn Fn(&RequestView) -> bool| snapshot.merged(|v| tags_match(metric, v) && feeds(v));
    let sum = |field: &dyn Fn(&RequestStats) -> f64| {
        snapshot.requests.iter().filter(|v| tags_match(metric, v)).map(|v| field(&v.stats)).sum::<f64>()
    };
    let scenario_tag = metric.tags.iter().find(|(k, _)| k == "scenario").map(|(_, v)| v.as_str());
    let executors = || snapshot.executors.iter().filter(move |e| scenario_tag.is_none_or(|s| s == e.scenario));
    match name {
        "http_req_duration" => Source::Latency(matching(&|_| true).map(Box::new)),
        "http_req_failed" => {
            Source::Rate { hits: sum(&|s| s.failed_total() as f64) as u64, total: sum(&|s| s.count as f64) as u64 }
        }
        "checks" => Source::Rate {
            hits: sum(&|s| s.checks_passed.iter().sum::<u64>() as f64) as u64,
            total: sum(&|s| (s.checks_passed.iter().sum::<u64>() + s.checks_failed.iter().sum::<u64>()) as f64) as u64,
        },
        "http_reqs" => Source::Counter(sum(&|s| s.count as f64)),
        "data_sent" => Source::Counter(sum(&|s| s.bytes_sent as f64)),
        "data_received" => Source::Counter(sum(&|s| s.bytes_received as f64)),
        "iterations" => Source::Counter(executors().map(|e| e.iterations as f64).sum()),
        "dropped_iterations" => Source::Counter(executors().map(|e| e.dropped as f64).sum()),
        "vus" => Source::Gauge(Some(executors().map(|e| e.vus as f64).sum())),
        "vus_max" => Source::Gauge(Some(executors().map(|e| e.vus_max as f64).sum())),
        custom => match kind {
            CustomKind::Trend => Source::Latency(matching(&|v| v.trend.as_deref() == Some(custom)).map(Box::new)),
            CustomKind::Rate => {
                let feeding = |v: &&RequestView| tags_match(metric, v) && v.rate.as_deref() == Some(custom);
                let views = snapshot.requests.iter().filter(feeding);
                let (hits, total) = views.fold((0, 0), |(h, t), v| (h + v.stats.failed_total(), t + v.stats.count));
                Source::Rate { hits, total }
            }
            CustomKind::Counter => Source::Counter(
                snapshot
                    .requests
                    .iter()
                    .filter(|v| tags_match(metric, v) && v.counter.as_deref() == Some(custom))
                    .map(|v| v.stats.counter_sum)
                    .sum(),
            ),
            CustomKind::Gauge => Source::Gauge(
                snapshot
                    .requests
                    .iter()
                    .filter(|v| tags_match(metric, v) && v.gauge.as_deref() == Some(custom))
                    .filter_map(|v| v.stats.gauge_last)
                    .max_by(|a, b| a.0.cmp(&b.0))
                    .map(|(_, value)| value),
            ),
        },
    }
}

/// Evaluates `threshold` on `snapshot`.
pub fn evaluate(threshold: &PlannedThreshold, snapshot: &Snapshot) -> Verdict {
    let condition = threshold.condition;
    let seconds = snapshot.elapsed.as_secs_f64().max(1e-9);
    let (observed, good_ratio) = match source(&threshold.metric, threshold.kind, snapshot) {
        Source::Latency(stats) => match stats.filter(|s| s.count > 0) {
            None => (None, None),
            Some(s) => {
                let observed = match condition.aggregation {
                    Aggregation::Avg => s.latency_sum_micros as f64 / s.count as f64 / 1000.0,
                    Aggregation::Min => s.latency.min() as f64 / 1000.0,
                    Aggregation::Max => s.latency.max() as f64 / 1000.0,
                    Aggregation::Med => s.percentile_ms(50.0),
                    Aggregation::Percentile(p) => s.percentile_ms(p),
                    _ => return no_data(),
                };
                let sli = matches!(condition.aggregation, Aggregation::Percentile(_) | Aggregation::Med)
                    .then(|| s.fraction_within_ms(condition.value));
                (Some(observed), sli)
            }
        },
        Source::Rate { total: 0, .. } => (None, None),
        Source::Rate { hits, total } => {
            let rate = hits as f64 / total as f64;
            let good = match condition.operator {
                Operator::Lt | Operator::Le => Some(1.0 - rate),
                Operator::Gt | Operator::Ge => Some(rate),
                _ => None,
            };
            (Some(rate), good)
        }
        Source::Counter(sum) => match condition.aggregation {
            Aggregation::Rate => (Some(sum / seconds), None),
            _ => (Some(sum), None),
        },
        Source::Gauge(value) => (value, None),
    };
    Verdict { observed, passed: observed.is_none_or(|v| condition.operator.holds(v, condition.value)), good_ratio }
}

fn no_data() -> Verdict {
    Verdict { observed: None, passed: true, good_ratio: None }
}

/// Latency figures in milliseconds, as k6 prints them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendFigures {
    pub count: u64,
    pub avg: f64,
    pub min: f64,
    pub med: f64,
    pub max: f64,
    #[serde(rename = "p(90)")]
    pub p90: f64,
    #[serde(rename = "p(95)")]
    pub p95: f64,
    #[serde(rename = "p(99)")]
    pub p99: f64,
}

impl TrendFigures {
    pub fn of(stats: &RequestStats) -> Option<TrendFigures> {
        (stats.count > 0).then(|| TrendFigures {
            count: stats.count,
            avg: stats.latency_sum_micros as f64 / stats.count as f64 / 1000.0,
            min: stats.latency.min() as f64 / 1000.0,
            med: stats.percentile_ms(50.0),
            max: stats.latency.max() as f64 / 1000.0,
            p90: stats.percentile_ms(90.0),
            p95: stats.percentile_ms(95.0),
            p99: stats.percentile_ms(99.0),
        })
    }
}

/// A metric's figures over a snapshot, by metric type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Figures {
    Trend {
        #[serde(flatten)]
        figures: Option<TrendFigures>,
        unit: &'static str,
    },
    /// `trues` of `total` samples were true (failed, for http_req_failed and custom Rates; passed, for checks).
    Rate {
        rate: Option<f64>,
        trues: u64,
        total: u64,
    },
    Counter {
        count: f64,
        rate: f64,
    },
    Gauge {
        value: Option<f64>,
    },
}

/// The figures of `metric` (a built-in or custom metric of type `kind`) on `snapshot`.
pub fn figures(metric: &MetricSelector, kind: CustomKind, snapshot: &Snapshot) -> Figures {
    let seconds = snapshot.elapsed.as_secs_f64().max(1e-9);
    match source(metric, kind, snapshot) {
        Source::Latency(stats) => Figures::Trend { figures: stats.as_deref().and_then(TrendFigures::of), unit: "ms" },
        Source::Rate { hits, total } => {
            Figures::Rate { rate: (total > 0).then(|| hits as f64 / total as f64), trues: hits, total }
        }
        Source::Counter(count) => Figures::Counter { count, rate: count / seconds },
        Source::Gauge(value) => Figures::Gauge { value },
    }
}
