//! Exact statistics of a run or of a sliding window, for thresholds, the
//! end-of-run summary and the reports. Memory is bounded by the number of
//! requests in the config, not by the number of samples.

mod record;
mod request;
mod snapshot;
mod window;

pub use record::{LatencyRecord, RequestRecord};
pub use request::{Answers, Latency, RequestStats};
pub use snapshot::{ExecutorTotals, RequestView, Snapshot, SpanView};
pub use window::SlidingWindow;

use crate::model::sample::{Phase, Phases, Sample, SampleSink, Span};
use crate::plan::ScenarioPlan;
use std::sync::{Mutex, MutexGuard};

/// Statistics that add up exactly: a request's into its scenario's, a
/// window's slots into the window, a shard's into the whole run.
pub trait Merge {
    /// Adds `other` into `self`; both describe the same thing.
    fn merge(&mut self, other: &Self);
}

/// Adds `item` into `total`, which takes it whole while still empty.
pub fn accumulate<T: Merge>(total: &mut Option<T>, item: T) {
    match total {
        None => *total = Some(item),
        Some(sum) => sum.merge(&item),
    }
}

/// One scenario's per-request statistics, and the durations of its
/// iterations and groups; the scenario's `SampleSink` into them.
pub struct ScenarioStats {
    requests: Vec<Mutex<RequestStats>>,
    /// [`span_index`]: the iterations', then each group's.
    spans: Vec<Mutex<Latency>>,
    /// The phases of answered requests; kept only where something reads
    /// them (a run's summary, a threshold on a phase).
    phases: Option<Mutex<PhaseStats>>,
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
    /// With `phases`, the phases of its requests are kept too.
    pub fn new(plan: &ScenarioPlan, significant_digits: u8, phases: bool) -> ScenarioStats {
        ScenarioStats {
            requests: plan
                .requests
                .iter()
                .map(|r| Mutex::new(RequestStats::new(r.checks.len(), significant_digits)))
                .collect(),
            spans: (0..=plan.groups.len()).map(|_| Mutex::new(Latency::new(significant_digits))).collect(),
            phases: phases.then(|| Mutex::new(PhaseStats::new(significant_digits))),
        }
    }

    /// The phases' durations (by `Phase as usize`), where they are kept.
    pub fn phases(&self) -> Option<Vec<Latency>> {
        self.lock_phases().map(|mut p| p.folded().to_vec())
    }

    fn lock_phases(&self) -> Option<MutexGuard<'_, PhaseStats>> {
        self.phases.as_ref().map(|p| p.lock().unwrap_or_else(|p| p.into_inner()))
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
        if let Some(mut phases) = self.lock_phases() {
            phases.reset();
        }
    }
}

impl SampleSink for ScenarioStats {
    fn record(&self, sample: &Sample) {
        if sample.request < self.requests.len() {
            self.lock(sample.request).record(sample);
        }
        if let Some(times) = &sample.phases {
            if let Some(mut phases) = self.lock_phases() {
                phases.record(times);
            }
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

/// The durations of each request phase. Most phases of a request on a
/// reused connection take no time (blocked, connecting, TLS): zeros are
/// counted apart and added to the histograms when they are read, which
/// keeps the cost of a request's phases on the hot path low.
struct PhaseStats {
    durations: [Latency; Phase::COUNT],
    zeros: [u64; Phase::COUNT],
}

impl PhaseStats {
    fn new(significant_digits: u8) -> PhaseStats {
        PhaseStats { durations: Phase::ALL.map(|_| Latency::new(significant_digits)), zeros: [0; Phase::COUNT] }
    }

    fn record(&mut self, times: &Phases) {
        for ((latency, zeros), time) in self.durations.iter_mut().zip(&mut self.zeros).zip(times) {
            match time.as_micros() {
                0 => *zeros += 1,
                micros => latency.record(micros.min(u64::MAX as u128) as u64),
            }
        }
    }

    fn folded(&mut self) -> &[Latency; Phase::COUNT] {
        for (latency, zeros) in self.durations.iter_mut().zip(&mut self.zeros) {
            latency.record_zeros(std::mem::take(zeros));
        }
        &self.durations
    }

    fn reset(&mut self) {
        self.durations.iter_mut().for_each(Latency::reset);
        self.zeros = [0; Phase::COUNT];
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

    fn record_span(&self, span: &crate::model::sample::Span) {
        for sink in &self.0 {
            sink.record_span(span);
        }
    }

    fn record_certificate(&self, server_name: &str, expiry: u64) {
        for sink in &self.0 {
            sink.record_certificate(server_name, expiry);
        }
    }

    fn record_setup(&self, failed: Option<&str>) {
        for sink in &self.0 {
            sink.record_setup(failed);
        }
    }
}
