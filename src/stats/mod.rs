//! Exact statistics of a run or of a sliding window, for thresholds, the
//! end-of-run summary and the reports. Memory is bounded by the number of
//! requests in the config, not by the number of samples.

mod request;
mod snapshot;
mod window;

pub use request::{Answers, Latency, RequestStats};
pub use snapshot::{ExecutorTotals, RequestView, Snapshot};
pub use window::SlidingWindow;

use crate::plan::ScenarioPlan;
use crate::sample::{Sample, SampleSink};
use std::sync::{Mutex, MutexGuard};

/// One scenario's per-request statistics; the scenario's `SampleSink` into them.
pub struct ScenarioStats {
    requests: Vec<Mutex<RequestStats>>,
}

impl ScenarioStats {
    pub fn new(plan: &ScenarioPlan, significant_digits: u8) -> ScenarioStats {
        ScenarioStats {
            requests: plan
                .requests
                .iter()
                .map(|r| Mutex::new(RequestStats::new(r.checks.len(), significant_digits)))
                .collect(),
        }
    }

    /// A request's stats; a panic elsewhere cannot leave them half-updated in a way that matters.
    pub fn lock(&self, request: usize) -> MutexGuard<'_, RequestStats> {
        self.requests[request].lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    pub fn reset(&self) {
        for i in 0..self.requests.len() {
            self.lock(i).reset();
        }
    }
}

impl SampleSink for ScenarioStats {
    fn record(&self, sample: &Sample) {
        if sample.request < self.requests.len() {
            self.lock(sample.request).record(sample);
        }
    }
}

/// Several sinks fed with the same samples.
pub struct Fanout(pub Vec<std::sync::Arc<dyn SampleSink>>);

impl SampleSink for Fanout {
    fn record(&self, sample: &Sample) {
        for sink in &self.0 {
            sink.record(sample);
        }
    }
}
