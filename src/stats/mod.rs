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
use crate::sample::{Sample, SampleSink, Span};
use std::sync::{Mutex, MutexGuard};

/// One scenario's per-request statistics, and the durations of its
/// iterations and groups; the scenario's `SampleSink` into them.
pub struct ScenarioStats {
    requests: Vec<Mutex<RequestStats>>,
    /// [`span_index`]: the iterations', then each group's.
    spans: Vec<Mutex<Latency>>,
}

/// Where a span's durations are kept in [`ScenarioStats`]: the iterations
/// at 0, group `g` at `g + 1`.
pub fn span_index(span: &Span) -> usize {
    match span {
        Span::Iteration { .. } => 0,
        Span::Group { group, .. } => group + 1,
    }
}

impl ScenarioStats {
    pub fn new(plan: &ScenarioPlan, significant_digits: u8) -> ScenarioStats {
        ScenarioStats {
            requests: plan
                .requests
                .iter()
                .map(|r| Mutex::new(RequestStats::new(r.checks.len(), significant_digits)))
                .collect(),
            spans: (0..=plan.groups.len()).map(|_| Mutex::new(Latency::new(significant_digits))).collect(),
        }
    }

    /// The durations at `index` (see [`span_index`]).
    pub fn span(&self, index: usize) -> MutexGuard<'_, Latency> {
        self.spans[index].lock().unwrap_or_else(|p| p.into_inner())
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
        for i in 0..self.spans.len() {
            self.span(i).reset();
        }
    }
}

impl SampleSink for ScenarioStats {
    fn record(&self, sample: &Sample) {
        if sample.request < self.requests.len() {
            self.lock(sample.request).record(sample);
        }
    }

    fn record_span(&self, span: &Span) {
        let index = span_index(span);
        if index < self.spans.len() {
            let duration = match span {
                Span::Iteration { duration, .. } | Span::Group { duration, .. } => duration,
            };
            self.span(index).record(duration.as_micros().min(u64::MAX as u128) as u64);
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

    fn record_span(&self, span: &crate::sample::Span) {
        for sink in &self.0 {
            sink.record_span(span);
        }
    }

    fn record_certificate(&self, server_name: &str, expiry: u64) {
        for sink in &self.0 {
            sink.record_certificate(server_name, expiry);
        }
    }
}
