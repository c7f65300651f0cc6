//! A point-in-time view of statistics, labelled with what the plan says
//! about each request (which custom metrics it feeds), for thresholds and reports.

use super::{Latency, Merge, RequestStats};
use crate::executor::ExecutorCounters;
use crate::model::sample::Phase;
use crate::plan::Plan;
use std::time::Duration;

/// One request's statistics with the names it is known by.
#[derive(Clone)]
pub struct RequestView {
    pub scenario: String,
    pub request: String,
    pub trend: Option<String>,
    pub rate: Option<String>,
    pub counter: Option<String>,
    pub gauge: Option<String>,
    pub check_names: Vec<String>,
    pub stats: RequestStats,
}

impl RequestView {
    /// Whether this request feeds the custom metric `name`.
    pub fn feeds(&self, name: &str) -> bool {
        [&self.trend, &self.rate, &self.counter, &self.gauge].into_iter().any(|m| m.as_deref() == Some(name))
    }
}

/// What an executor reports, per scenario.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExecutorTotals {
    pub scenario: String,
    pub iterations: u64,
    pub dropped: u64,
    pub vus: i64,
    pub vus_max: i64,
}

impl ExecutorTotals {
    pub fn read(scenario: &str, counters: &ExecutorCounters) -> ExecutorTotals {
        let now = counters.read();
        ExecutorTotals {
            scenario: scenario.to_string(),
            iterations: now.iterations,
            dropped: now.dropped,
            vus: now.vus,
            vus_max: now.vus_max,
        }
    }
}

/// The durations of a scenario's iterations (`group` None) or of one of its groups.
#[derive(Clone)]
pub struct SpanView {
    pub scenario: String,
    /// k6's group path (`::record answers`).
    pub group: Option<String>,
    pub durations: Latency,
}

/// The durations of one phase of a scenario's answered requests.
#[derive(Clone)]
pub struct PhaseView {
    pub scenario: String,
    pub phase: Phase,
    pub durations: Latency,
}

#[derive(Clone)]
pub struct Snapshot {
    /// The span the statistics cover (a run's length, or a window's).
    pub elapsed: Duration,
    pub requests: Vec<RequestView>,
    /// Each scenario's iterations, then its groups.
    pub spans: Vec<SpanView>,
    /// Each scenario's request phases, where they were kept.
    pub phases: Vec<PhaseView>,
    pub executors: Vec<ExecutorTotals>,
}

impl Snapshot {
    /// Builds a snapshot; `stats(s, r)` gives request `r` of scenario `s` of
    /// `plan`, `spans(s, i)` the durations at [`super::span_index`] `i`,
    /// `phases(s)` scenario `s`'s phases where they are kept.
    pub fn capture(
        plan: &Plan,
        elapsed: Duration,
        executors: Vec<ExecutorTotals>,
        mut stats: impl FnMut(usize, usize) -> RequestStats,
        mut spans: impl FnMut(usize, usize) -> Latency,
        mut phases: impl FnMut(usize) -> Option<Vec<Latency>>,
    ) -> Snapshot {
        let mut phase_views = Vec::new();
        for (s, scenario) in plan.scenarios.iter().enumerate() {
            for (phase, durations) in Phase::ALL.into_iter().zip(phases(s).into_iter().flatten()) {
                phase_views.push(PhaseView { scenario: scenario.name.clone(), phase, durations });
            }
        }
        let mut span_views = Vec::new();
        for (s, scenario) in plan.scenarios.iter().enumerate() {
            let groups = std::iter::once(None).chain(scenario.groups.iter().map(Some));
            for (i, group) in groups.enumerate() {
                span_views.push(SpanView {
                    scenario: scenario.name.clone(),
                    group: group.cloned(),
                    durations: spans(s, i),
                });
            }
        }
        let mut requests = Vec::new();
        for (s, scenario) in plan.scenarios.iter().enumerate() {
            for (r, request) in scenario.requests.iter().enumerate() {
                requests.push(RequestView {
                    scenario: scenario.name.clone(),
                    request: request.name.clone(),
                    trend: request.trend.clone(),
                    rate: request.rate.clone(),
                    counter: request.counter.as_ref().map(|f| f.name.clone()),
                    gauge: request.gauge.as_ref().map(|f| f.name.clone()),
                    check_names: request.checks.iter().map(|c| c.name.clone()).collect(),
                    stats: stats(s, r),
                });
            }
        }
        Snapshot { elapsed, requests, spans: span_views, phases: phase_views, executors }
    }

    /// The same snapshot restricted to one scenario.
    pub fn only_scenario(&self, scenario: &str) -> Snapshot {
        Snapshot {
            elapsed: self.elapsed,
            requests: self.requests.iter().filter(|r| r.scenario == scenario).cloned().collect(),
            spans: self.spans.iter().filter(|r| r.scenario == scenario).cloned().collect(),
            phases: self.phases.iter().filter(|r| r.scenario == scenario).cloned().collect(),
            executors: self.executors.iter().filter(|e| e.scenario == scenario).cloned().collect(),
        }
    }

    /// Merges the statistics of every request `keep` accepts; None when none do.
    pub fn merged(&self, keep: impl Fn(&RequestView) -> bool) -> Option<RequestStats> {
        let mut matching = self.requests.iter().filter(|r| keep(r));
        let mut merged = matching.next()?.stats.clone();
        for view in matching {
            merged.merge(&view.stats);
        }
        Some(merged)
    }
}
