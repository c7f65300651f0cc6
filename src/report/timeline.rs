//! The run as a compact time series: one point per scenario per tick, made
//! from per-interval statistics that are reset after each read.

use crate::plan::Plan;
use crate::stats::{accumulate, ExecutorTotals, RequestStats, ScenarioStats};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The time between two points: a run samples its timeline this often.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// What happened during one interval.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TimelinePoint {
    /// Seconds since the start, at the end of the interval.
    pub t: f64,
    pub interval_seconds: f64,
    pub requests: u64,
    pub failed: u64,
    pub requests_per_second: f64,
    pub checks_failed: u64,
    pub iterations: u64,
    pub dropped_iterations: u64,
    pub vus: i64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Per request with answers in the interval, its [p50, p95, p99] (per scenario only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_ms: BTreeMap<String, [f64; 3]>,
    /// Failed requests of the interval by reason, where any failed (per scenario only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_by_reason: BTreeMap<String, u64>,
}

impl TimelinePoint {
    /// Adds `other`'s counts (requests, failures, checks, iterations, VUs) into this point's.
    fn add_counts(&mut self, other: &TimelinePoint) {
        self.requests += other.requests;
        self.failed += other.failed;
        self.checks_failed += other.checks_failed;
        self.iterations += other.iterations;
        self.dropped_iterations += other.dropped_iterations;
        self.vus += other.vus;
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioTimeline {
    pub scenario: String,
    pub points: Vec<TimelinePoint>,
}

pub struct Timeline {
    pub scenarios: Vec<ScenarioTimeline>,
    /// Each scenario's request names, in the plan's order.
    requests: Vec<Vec<String>>,
    last_t: Duration,
    last_executors: Vec<ExecutorTotals>,
}

impl Timeline {
    pub fn new(plan: &Plan) -> Timeline {
        Timeline {
            scenarios: plan
                .scenarios
                .iter()
                .map(|s| ScenarioTimeline { scenario: s.name.clone(), points: Vec::new() })
                .collect(),
            requests: plan.scenarios.iter().map(|s| s.requests.iter().map(|r| r.name.clone()).collect()).collect(),
            last_t: Duration::ZERO,
            last_executors: plan
                .scenarios
                .iter()
                .map(|s| ExecutorTotals { scenario: s.name.clone(), ..Default::default() })
                .collect(),
        }
    }

    /// Reads and resets the interval statistics; returns the point for all scenarios together.
    pub fn sample(
        &mut self,
        now: Duration,
        intervals: &[Arc<ScenarioStats>],
        executors: &[ExecutorTotals],
    ) -> TimelinePoint {
        let span = now.saturating_sub(self.last_t).as_secs_f64();
        self.last_t = now;
        let mut all: Option<RequestStats> = None;
        let mut total = TimelinePoint { t: now.as_secs_f64(), interval_seconds: span, ..Default::default() };
        for (i, stats) in intervals.iter().enumerate() {
            let mut merged: Option<RequestStats> = None;
            let mut request_ms = BTreeMap::new();
            for r in 0..stats.len() {
                let mut request = stats.lock(r);
                if let Some(name) = self.requests.get(i).and_then(|names| names.get(r)).filter(|_| request.count > 0) {
                    let latency = request.latency(crate::stats::Answers::All);
                    let at = |p| latency.percentile_ms(p);
                    request_ms.insert(name.clone(), [at(50.0), at(95.0), at(99.0)]);
                }
                accumulate(&mut merged, request.clone());
                request.reset();
            }
            let (now_exec, before) = (&executors[i], &self.last_executors[i]);
            let mut point = point(now.as_secs_f64(), span, merged.as_ref(), now_exec, before);
            point.request_ms = request_ms;
            total.add_counts(&point);
            self.scenarios[i].points.push(point);
            if let Some(m) = merged {
                accumulate(&mut all, m);
            }
        }
        self.last_executors = executors.to_vec();
        total.requests_per_second = if span > 0.0 { total.requests as f64 / span } else { 0.0 };
        if let Some(all) = all.filter(|a| a.count > 0) {
            total.p50_ms = Some(all.percentile_ms(50.0));
            total.p95_ms = Some(all.percentile_ms(95.0));
            total.p99_ms = Some(all.percentile_ms(99.0));
        }
        total
    }
}

fn point(
    t: f64,
    span: f64,
    stats: Option<&RequestStats>,
    now: &ExecutorTotals,
    before: &ExecutorTotals,
) -> TimelinePoint {
    let mut point = TimelinePoint {
        t,
        interval_seconds: span,
        iterations: now.iterations.saturating_sub(before.iterations),
        dropped_iterations: now.dropped.saturating_sub(before.dropped),
        vus: now.vus,
        ..Default::default()
    };
    if let Some(s) = stats.filter(|s| s.count > 0) {
        point.requests = s.count;
        point.failed = s.failed_requests();
        point.checks_failed = s.checks_failed.iter().sum();
        point.failed_by_reason = crate::model::sample::FailReason::ALL
            .iter()
            .filter(|r| s.failed_by(**r) > 0)
            .map(|r| (r.as_str().to_string(), s.failed_by(*r)))
            .collect();
        point.requests_per_second = if span > 0.0 { s.count as f64 / span } else { 0.0 };
        point.p50_ms = Some(s.percentile_ms(50.0));
        point.p95_ms = Some(s.percentile_ms(95.0));
        point.p99_ms = Some(s.percentile_ms(99.0));
    }
    point
}

impl Timeline {
    /// A timeline already sampled (read from result files).
    pub fn of(scenarios: Vec<ScenarioTimeline>) -> Timeline {
        Timeline { scenarios, requests: Vec::new(), last_t: Duration::ZERO, last_executors: Vec::new() }
    }

    /// Adds a shard's points of one scenario to the points of the same
    /// ticks: counts and rates add up; percentiles of shards do not, so a
    /// point made of several shards has none.
    pub fn add_points(mine: &mut Vec<TimelinePoint>, theirs: &[TimelinePoint]) {
        for (i, point) in theirs.iter().enumerate() {
            match mine.get_mut(i) {
                None => mine.push(point.clone()),
                Some(m) => {
                    m.t = m.t.max(point.t);
                    m.interval_seconds = m.interval_seconds.max(point.interval_seconds);
                    m.add_counts(point);
                    m.requests_per_second += point.requests_per_second;
                    (m.p50_ms, m.p95_ms, m.p99_ms) = (None, None, None);
                    m.request_ms.clear();
                    for (reason, n) in &point.failed_by_reason {
                        *m.failed_by_reason.entry(reason.clone()).or_default() += n;
                    }
                }
            }
        }
    }
}
