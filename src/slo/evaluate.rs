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
    // A fold from +0.0: f64's `sum` of nothing is -0.0, which a summary would print as "-0".
    let sum = |field: &dyn Fn(&RequestView) -> f64| views().map(field).fold(0.0, |total, value| total + value);
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
    // k6's http_req_failed counts requests without an expected answer; a
    // custom Rate the true samples its requests fed it.
    let failed = |rate: bool| Source::Rate {
        hits: views().map(|v| if rate { v.stats.rate_trues } else { v.stats.failed_requests() }).sum(),
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
            Builtin::HttpReqFailed => failed(false),
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
            Builtin::Iterations => Source::Counter(executors().map(|e| e.iterations).sum::<u64>() as f64),
            Builtin::DroppedIterations => Source::Counter(executors().map(|e| e.dropped).sum::<u64>() as f64),
            Builtin::Vus => Source::Gauge(Some(executors().map(|e| e.vus).sum::<i64>() as f64)),
            Builtin::VusMax => Source::Gauge(Some(executors().map(|e| e.vus_max).sum::<i64>() as f64)),
        },
        Metric::Custom { kind, .. } => match kind {
            CustomKind::Trend => Source::Latency(latency()),
            CustomKind::Rate => failed(true),
            CustomKind::Counter => Source::Counter(sum(&|v| v.stats.counter_sum)),
            CustomKind::Gauge => Source::Gauge(
                views().filter_map(|v| v.stats.gauge_last).max_by(|a, b| a.0.cmp(&b.0)).map(|(_, value)| value),
            ),
        },
    }
}

/// The durations a Trend `metric` selects under `tags`; None for other
/// kinds, or without samples.
pub fn trend_latency(metric: &Metric, tags: &Tags, snapshot: &Snapshot) -> Option<Latency> {
    match source(metric, tags, snapshot) {
        Source::Latency(latency) => latency.filter(|l| l.count() > 0),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Loaded;
    use crate::model::env::EnvVars;
    use crate::model::sample::{FailReason, Sample, SampleSink};
    use crate::plan::{resolve, Plan};
    use crate::stats::ScenarioStats;
    use std::time::Duration;

    /// One request with one check, feeding the Rate `errors` and the Counter `tokens`.
    const CONFIG: &str = "target: {base_url: \"http://127.0.0.1:1\"}\n\
        metrics: {custom: {errors: rate, tokens: counter}}\n\
        scenarios:\n  s:\n    requests:\n      - {name: a, path: /a, checks: [{status: 200}], rate: errors, counter: tokens}\n\
        \x20   profiles: {p: {executor: constant-vus, vus: 1, duration: 1s}}\nthresholds:\n";

    fn plan(thresholds: &str) -> Plan {
        resolve(&Loaded::new("t", format!("{CONFIG}{thresholds}")), Some("p"), &EnvVars::new()).unwrap()
    }

    /// Request `a` answered `answers` times (latency in ms, status), over 10 s,
    /// each answer carrying 2 tokens; a status other than 200 fails it.
    fn snapshot(plan: &Plan, answers: &[(u64, u16)]) -> Snapshot {
        let stats = ScenarioStats::new(&plan.scenarios[0], 3, false);
        for &(ms, status) in answers {
            let mut sample = Sample::new(0);
            sample.latency = Duration::from_millis(ms);
            sample.status = Some(status);
            sample.counter_delta = Some(2.0);
            match status {
                200 => sample.checks_passed = 1,
                _ => sample.failure = Some(FailReason::Status),
            }
            // The request feeds `errors` its default way: true when it failed.
            sample.rate_true = Some(sample.failure.is_some());
            stats.record(&sample);
        }
        let elapsed = Duration::from_secs(10);
        Snapshot::capture(
            plan,
            elapsed,
            Vec::new(),
            |_, r| stats.lock(r).clone(),
            |_, i| stats.span(i).clone(),
            |_| None,
        )
    }

    fn verdicts(thresholds: &str, answers: &[(u64, u16)]) -> Vec<Verdict> {
        let plan = plan(thresholds);
        let snapshot = snapshot(&plan, answers);
        plan.thresholds.iter().map(|t| evaluate(t, &snapshot)).collect()
    }

    fn only(thresholds: &str, answers: &[(u64, u16)]) -> Verdict {
        let mut all = verdicts(thresholds, answers);
        assert_eq!(all.len(), 1, "{thresholds}");
        all.remove(0)
    }

    fn near(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() <= b.abs() * 0.002 + 1e-12)
    }

    #[test]
    fn a_percentile_is_judged_with_its_sli_the_share_within_the_bound() {
        let mut answers = vec![(100, 200); 94];
        answers.extend([(500, 200); 6]);
        let v = only("  http_req_duration: [\"p(95)<300\"]\n", &answers);
        assert!(!v.passed, "{v:?}");
        assert!(near(v.observed, 0.5), "p(95) is a slow answer: {v:?}");
        assert_eq!(v.good_ratio, Some(0.94), "94 of 100 within 300 ms");
        let v = only("  http_req_duration: [\"p(94)<300\"]\n", &answers);
        assert!(v.passed && near(v.observed, 0.1), "{v:?}");
    }

    #[test]
    fn failed_requests_are_error_events_and_never_latency_events() {
        let mut answers = vec![(100, 200); 10];
        answers.extend([(900, 503); 10]);
        let v = verdicts("  http_req_duration: [\"p(95)<300\"]\n  http_req_failed: [\"rate<0.01\"]\n", &answers);
        let (latency, failed) = (&v[0], &v[1]);
        assert!(latency.passed && near(latency.observed, 0.1) && latency.good_ratio == Some(1.0), "{latency:?}");
        assert!(!failed.passed && failed.observed == Some(0.5) && failed.good_ratio == Some(0.5), "{failed:?}");
    }

    #[test]
    fn no_data_passes_as_in_k6_and_says_it_has_no_data() {
        let v = only("  http_req_duration: [\"p(95)<300\"]\n", &[(900, 503); 5]);
        assert_eq!(v, Verdict { observed: None, passed: true, good_ratio: None });
        assert!(!v.has_data());
    }

    #[test]
    fn checks_rates_and_counters_read_their_own_samples() {
        let answers = [(10, 200), (10, 200), (10, 200), (10, 500)];
        let v = verdicts(
            "  checks: [\"rate>0.99\"]\n  errors: [\"rate<0.5\"]\n  tokens: [\"count>=8\", \"rate<0.5\"]\n  http_reqs: [\"count==4\"]\n",
            &answers,
        );
        let observed: Vec<Option<f64>> = v.iter().map(|v| v.observed).collect();
        // Planned in metric order: checks, errors, http_reqs, tokens (twice).
        assert_eq!(observed, [Some(0.75), Some(0.25), Some(4.0), Some(8.0), Some(0.8)]);
        let passed: Vec<bool> = v.iter().map(|v| v.passed).collect();
        assert_eq!(passed, [false, true, true, true, false]);
        assert_eq!(v[0].good_ratio, Some(0.75), "checks: good means passed");
        assert_eq!(v[1].good_ratio, Some(0.75), "errors: good means false");
    }

    #[test]
    fn a_failed_check_judges_the_content_not_the_exchange_as_in_k6() {
        let plan = plan(
            "  http_req_failed: [\"rate<0.01\"]\n  http_req_duration: [\"p(95)<300\"]\n  errors: [\"rate<0.01\"]\n  checks: [\"rate>0.99\"]\n",
        );
        let stats = ScenarioStats::new(&plan.scenarios[0], 3, false);
        for content_ok in [true, false, true, false] {
            let mut sample = Sample::new(0);
            sample.latency = Duration::from_millis(50);
            sample.status = Some(200);
            if !content_ok {
                sample.failure = Some(FailReason::Check);
            }
            sample.checks_passed = u64::from(content_ok);
            sample.rate_true = Some(!content_ok);
            stats.record(&sample);
        }
        let elapsed = Duration::from_secs(10);
        let snapshot = Snapshot::capture(
            &plan,
            elapsed,
            Vec::new(),
            |_, r| stats.lock(r).clone(),
            |_, i| stats.span(i).clone(),
            |_| None,
        );
        let v: Vec<Verdict> = plan.thresholds.iter().map(|t| evaluate(t, &snapshot)).collect();
        // Planned in metric order: checks, errors, http_req_duration, http_req_failed.
        assert_eq!((v[0].observed, v[0].passed), (Some(0.5), false), "checks judge the content");
        assert_eq!((v[1].observed, v[1].passed), (Some(0.5), false), "a Rate fed by the request counts failed checks");
        assert!(v[2].passed && near(v[2].observed, 0.05), "every expected answer is a latency sample: {:?}", v[2]);
        assert_eq!(v[2].good_ratio, Some(1.0));
        assert_eq!((v[3].observed, v[3].passed), (Some(0.0), true), "an expected status is no failed request");
    }

    #[test]
    fn a_counter_without_samples_is_zero_not_minus_zero() {
        let plan = plan("");
        let tokens = Metric::Custom { name: "tokens".into(), kind: CustomKind::Counter };
        let Figures::Counter { count, rate } = figures(&tokens, &Tags::new(), &snapshot(&plan, &[])) else { panic!() };
        assert_eq!((count.to_string(), rate.to_string()), ("0".to_string(), "0".to_string()));
    }

    #[test]
    fn the_budget_used_is_the_bad_share_over_the_allowed_share() {
        let plan = plan("  http_req_failed: [\"rate<0.1\"]\n");
        let mut answers = vec![(10, 200); 95];
        answers.extend([(10, 500); 5]);
        let v = evaluate(&plan.thresholds[0], &snapshot(&plan, &answers));
        assert!(near(v.budget_used(&plan.thresholds[0]), 0.5), "5 % bad of 10 % allowed: {v:?}");
    }
}
