//! The last failures of every request, for the status page: a fixed number
//! per request, the oldest dropped, so memory stays fixed however many fail.

use crate::model::sample::{FailReason, Sample, SampleSink};
use crate::plan::Plan;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Failures kept per request.
pub const KEPT: usize = 10;

/// One failed request as the page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub at: SystemTime,
    pub reason: FailReason,
    pub status: Option<u16>,
    pub latency: Duration,
    /// What its answer showed or, without one, why (redacted): [`Sample::detail`].
    pub detail: Option<Box<str>>,
}

/// A request's last failures and how many it has had.
#[derive(Default)]
struct Ring {
    failures: VecDeque<Failure>,
    total: u64,
}

/// The last [`KEPT`] failures of each request of a plan, by scenario and request.
pub struct RecentFailures {
    scenarios: Vec<Vec<Mutex<Ring>>>,
    /// By scenario: why its setup failed the last time it ran; None once it passed (or without one).
    setups: Vec<Mutex<Option<String>>>,
}

impl RecentFailures {
    pub fn new(plan: &Plan) -> Arc<RecentFailures> {
        let scenarios = plan
            .scenarios
            .iter()
            .map(|s| {
                s.requests
                    .iter()
                    .map(|_| Mutex::new(Ring { failures: VecDeque::with_capacity(KEPT), total: 0 }))
                    .collect()
            })
            .collect();
        let setups = plan.scenarios.iter().map(|_| Mutex::new(None)).collect();
        Arc::new(RecentFailures { scenarios, setups })
    }

    /// Why scenario `scenario`'s setup failed the last time it ran; None once it passed.
    pub fn setup_failure(&self, scenario: usize) -> Option<String> {
        self.setups.get(scenario).and_then(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// The sink for scenario `scenario` of the plan.
    pub fn sink(self: &Arc<Self>, scenario: usize) -> Arc<dyn SampleSink> {
        Arc::new(FailureSink { failures: self.clone(), scenario })
    }

    /// Request `request` of scenario `scenario`: its kept failures, newest
    /// first, and how many it has had in all.
    pub fn of(&self, scenario: usize, request: usize) -> (Vec<Failure>, u64) {
        let Some(ring) = self.scenarios.get(scenario).and_then(|s| s.get(request)) else {
            return (Vec::new(), 0);
        };
        let ring = ring.lock().unwrap_or_else(|p| p.into_inner());
        (ring.failures.iter().rev().cloned().collect(), ring.total)
    }

    fn record(&self, scenario: usize, sample: &Sample) {
        let Some(reason) = sample.failure else { return };
        let Some(ring) = self.scenarios.get(scenario).and_then(|s| s.get(sample.request)) else { return };
        let failure = Failure {
            at: SystemTime::now(),
            reason,
            status: sample.status,
            latency: sample.latency,
            detail: sample.detail.clone(),
        };
        let mut ring = ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.failures.len() == KEPT {
            ring.failures.pop_front();
        }
        ring.failures.push_back(failure);
        ring.total += 1;
    }
}

struct FailureSink {
    failures: Arc<RecentFailures>,
    scenario: usize,
}

impl SampleSink for FailureSink {
    fn record(&self, sample: &Sample) {
        self.failures.record(self.scenario, sample);
    }

    fn record_setup(&self, failed: Option<&str>) {
        if let Some(setup) = self.failures.setups.get(self.scenario) {
            *setup.lock().unwrap_or_else(|p| p.into_inner()) = failed.map(str::to_string);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        crate::plan::of_requests("[{name: a, path: /a}, {name: b, path: /b}]")
    }

    fn failed(request: usize, n: usize) -> Sample {
        Sample {
            latency: Duration::from_millis(n as u64),
            status: Some(503),
            failure: Some(FailReason::Status),
            detail: Some(format!("HTTP 503\n\nfailure {n}").into()),
            ..Sample::new(request)
        }
    }

    #[test]
    fn keeps_the_last_failures_of_each_request_newest_first() {
        let failures = RecentFailures::new(&plan());
        let sink = failures.sink(0);
        for n in 0..10_000 {
            sink.record(&failed(0, n));
        }
        sink.record(&Sample { failure: None, detail: None, ..failed(1, 1) });
        sink.record(&failed(1, 7));
        let (kept, total) = failures.of(0, 0);
        assert_eq!((kept.len(), total), (KEPT, 10_000));
        assert_eq!(kept[0].detail.as_deref(), Some("HTTP 503\n\nfailure 9999"));
        assert_eq!(kept[KEPT - 1].detail.as_deref(), Some(&*format!("HTTP 503\n\nfailure {}", 10_000 - KEPT)));
        let (kept, total) = failures.of(0, 1);
        assert_eq!((kept.len(), total), (1, 1), "a request that passed is not listed");
        assert_eq!(failures.of(3, 0).1, 0);
    }
}
