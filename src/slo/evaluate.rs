//! Evaluating a threshold on a snapshot: the observed value, pass or fail,
//! and for SLO-shaped thresholds the SLI (fraction of good events) and the
//! error budget it uses. What is good comes from the plan's objective.

use crate::model::metric::CustomKind;
use crate::model::metric::{Builtin, Metric, Tag, Tags};
use crate::model::threshold::Aggregation;
use crate::plan::PlannedThreshold;
use crate::stats::{accumulate, Answers, Latency, Merge, RequestView, Snapshot};
use serde::Serialize;

/// The outcome of one threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// In base units (seconds for latency); None without data.
    pub observed: Option<f64>,
    /// True when the condition holds, or when there was no data (as k6 does).
    pub passed: bool,
    /// Fraction of good events, for SLO-shaped thresholds with data.
    pub good_ratio: Option<f64>,
}

impl Verdict {
    pub fn has_data(&self) -> bool {
        self.observed.is_some()
    }

    /// Share of the error budget spent: bad fraction / allowed bad fraction.
    pub fn budget_used(&self, threshold: &PlannedThreshold) -> Option<f64> {
        threshold.objective?.budget_used(self.good_ratio?)
    }
}

/// What a metric selection yields on a snapshot.
enum Source {
    Latency(Option<Latency>),
    /// `hits` of `total` samples were true.
    Rate {
        hits: u64,
        total: u64,
    },
    Counter(f64),
    Gauge(Option<f64>),
}

/// Whether `view`'s samples belong to `metric` under `tags`.
fn selects(metric: &Metric, tags: &Tags, view: &RequestView) -> bool {
    let tag_holds = |tag: Tag, actual: &str| tags.get(&tag).is_none_or(|wanted| wanted == actual);
    let feeds = match metric {
        Metric::Builtin(_) => true,
        Metric::Custom { name, .. } => view.feeds(name),
    };
    feeds && tag_holds(Tag::Scenario, &view.scenario) && tag_holds(Tag::Request, &view.request)
}

fn source(metric: &Metric, tags: &Tags, snapshot: &Snapshot) -> Source {
    let views = || snapshot.requests.iter().filter(|v| selects(metric, tags, v));
    let sum = |field: &dyn Fn(&RequestView) -> f64| views().map(field).sum::<f64>();
    let scenario_tag = tags.get(&Tag::Scenario);
    let executors = || snapshot.executors.iter().filter(move |e| scenario_tag.is_none_or(|s| s == &e.scenario));
    let answers = match tags.get(&Tag::ExpectedResponse).map(String::as_str) {
        Some("true") => Answers::Expected,
        _ => Answers::All,
    };
    let latency = || {
        let mut merged: Option<Latency> = None;
        for view in views() {
            accumulate(&mut merged, view.stats.latency(answers));
        }
        merged
    };
    let failed = || Source::Rate {
        hits: views().map(|v| v.stats.failed_total()).sum(),
        total: views().map(|v| v.stats.count).sum(),
    };
    let spans = |groups: bool| {
        merge_all(
            snapshot
                .spans
                .iter()
                .filter(|v| {
                    scenario_tag.is_none_or(|s| s == &v.scenario)
                        && v.group.is_some() == groups
                        && tags.get(&Tag::Group).is_none_or(|g| v.group.as_ref() == Some(g))
                })
                .map(|v| &v.durations),
        )
    };
    match metric {
        Metric::Builtin(b) => match b {
            Builtin::HttpReqDuration => Source::Latency(latency()),
            Builtin::IterationDuration => Source::Latency(spans(false)),
            Builtin::GroupDuration => Source::Latency(spans(true)),
            Builtin::Phase(phase) => Source::Latency(merge_all(
                snapshot
                    .phases
                    .iter()
                    .filter(|v| v.phase == *phase && scenario_tag.is_none_or(|s| s == &v.scenario))
                    .map(|v| &v.durations),
            )),
            Builtin::HttpReqFailed => failed(),
            Builtin::Checks => {
                let (mut hits, mut total) = (0, 0);
                for view in views() {
                    for (i, name) in view.check_names.iter().enumerate() {
                        if tags.get(&Tag::Check).is_none_or(|wanted| wanted == name) {
                            hits += view.stats.checks_passed[i];
                            total += view.stats.checks_passed[i] + view.stats.checks_failed[i];
                        }
                    }
                }
                Source::Rate { hits, total }
            }
            Builtin::HttpReqs => Source::Counter(sum(&|v| v.stats.count as f64)),
            Builtin::DataSent => Source::Counter(sum(&|v| v.stats.bytes_sent as f64)),
            Builtin::DataReceived => Source::Counter(sum(&|v| v.stats.bytes_received as f64)),
            Builtin::Iterations => Source::Counter(executors().map(|e| e.iterations as f64).sum()),
            Builtin::DroppedIterations => Source::Counter(executors().map(|e| e.dropped as f64).sum()),
            Builtin::Vus => Source::Gauge(Some(executors().map(|e| e.vus as f64).sum())),
            Builtin::VusMax => Source::Gauge(Some(executors().map(|e| e.vus_max as f64).sum())),
        },
        Metric::Custom { kind, .. } => match kind {
            CustomKind::Trend => Source::Latency(latency()),
            CustomKind::Rate => failed(),
            CustomKind::Counter => Source::Counter(sum(&|v| v.stats.counter_sum)),
            CustomKind::Gauge => Source::Gauge(
                views().filter_map(|v| v.stats.gauge_last).max_by(|a, b| a.0.cmp(&b.0)).map(|(_, value)| value),
            ),
        },
    }
}

/// The durations of every one of `latencies` together; None when there are none.
fn merge_all<'a>(mut latencies: impl Iterator<Item = &'a Latency>) -> Option<Latency> {
    let mut merged = latencies.next()?.clone();
    latencies.for_each(|l| merged.merge(l));
    Some(merged)
}

/// Evaluates `threshold` on `snapshot`.
pub fn evaluate(threshold: &PlannedThreshold, snapshot: &Snapshot) -> Verdict {
    let condition = threshold.condition;
    let seconds = snapshot.elapsed.as_secs_f64().max(1e-9);
    let objective = threshold.objective;
    let (observed, good_ratio) = match source(&threshold.metric, &threshold.selection(), snapshot) {
        Source::Latency(latency) => match latency.filter(|l| l.count() > 0) {
            None => (None, None),
            Some(l) => {
                let micros = match condition.aggregation {
                    Aggregation::Avg => l.sum_micros as f64 / l.count() as f64,
                    Aggregation::Min => l.histogram.min() as f64,
                    Aggregation::Max => l.histogram.max() as f64,
                    Aggregation::Med => l.histogram.value_at_percentile(50.0) as f64,
                    Aggregation::Percentile(p) => l.histogram.value_at_percentile(p) as f64,
                    _ => return no_data(),
                };
                let good = objective.and_then(|o| {
                    let within = l.count_within(o.latency_seconds()?);
                    o.good_ratio(within, l.count())
                });
                (Some(micros / 1e6), good)
            }
        },
        Source::Rate { total: 0, .. } => (None, None),
        Source::Rate { hits, total } => {
            (Some(hits as f64 / total as f64), objective.and_then(|o| o.good_ratio(hits, total)))
        }
        Source::Counter(sum) => match condition.aggregation {
            Aggregation::Rate => (Some(sum / seconds), None),
            _ => (Some(sum), None),
        },
        Source::Gauge(value) => (value, None),
    };
    let limit = threshold.limit();
    Verdict { observed, passed: observed.is_none_or(|v| condition.operator.holds(v, limit)), good_ratio }
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
    pub fn of(latency: &Latency) -> Option<TrendFigures> {
        (latency.count() > 0).then(|| TrendFigures {
            count: latency.count(),
            avg: latency.avg_ms(),
            min: latency.min_ms(),
            med: latency.percentile_ms(50.0),
            max: latency.max_ms(),
            p90: latency.percentile_ms(90.0),
            p95: latency.percentile_ms(95.0),
            p99: latency.percentile_ms(99.0),
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

/// The figures of `metric`, filtered by `tags`, on `snapshot`.
pub fn figures(metric: &Metric, tags: &Tags, snapshot: &Snapshot) -> Figures {
    let seconds = snapshot.elapsed.as_secs_f64().max(1e-9);
    match source(metric, tags, snapshot) {
        Source::Latency(latency) => Figures::Trend { figures: latency.as_ref().and_then(TrendFigures::of), unit: "ms" },
        Source::Rate { hits, total } => {
            Figures::Rate { rate: (total > 0).then(|| hits as f64 / total as f64), trues: hits, total }
        }
        Source::Counter(count) => Figures::Counter { count, rate: count / seconds },
        Source::Gauge(value) => Figures::Gauge { value },
    }
}
