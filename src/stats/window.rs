//! A sliding window of statistics for the daemon's live SLO verdicts, built
//! from rotating slots: no samples are stored, and memory is fixed by the
//! number of requests and slots.

use super::{Latency, Merge, RequestStats, ScenarioStats};
use crate::model::sample::{Sample, SampleSink, Span};
use crate::plan::Plan;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Slots per window: a 5 m window moves in 30 s steps.
pub const SLOTS: usize = 10;
/// Windows keep 2 significant digits (1 % latency resolution) to stay small.
const DIGITS: u8 = 2;

pub struct SlidingWindow {
    /// slots[slot][scenario]
    slots: Vec<Vec<ScenarioStats>>,
    current: AtomicUsize,
    pub slot_length: Duration,
}

impl SlidingWindow {
    pub fn new(plan: &Plan, length: Duration) -> Arc<SlidingWindow> {
        let phases = plan.reads_phases();
        let slots = (0..SLOTS)
            .map(|_| plan.scenarios.iter().map(|s| ScenarioStats::new(s, DIGITS, phases)).collect())
            .collect();
        Arc::new(SlidingWindow { slots, current: AtomicUsize::new(0), slot_length: length / SLOTS as u32 })
    }

    /// The sink for scenario `index` of the plan the window was made for.
    pub fn sink(self: &Arc<Self>, scenario: usize) -> Arc<dyn SampleSink> {
        Arc::new(WindowSink { window: self.clone(), scenario })
    }

    /// Drops the oldest slot and starts filling it again.
    pub fn rotate(&self) {
        let next = (self.current.load(Ordering::Acquire) + 1) % SLOTS;
        for scenario in &self.slots[next] {
            scenario.reset();
        }
        self.current.store(next, Ordering::Release);
    }

    /// Request `request` of scenario `scenario` over the whole window.
    pub fn merged(&self, scenario: usize, request: usize) -> RequestStats {
        let mut slots = self.slots.iter();
        let mut merged =
            slots.next().map(|s| s[scenario].lock(request).clone()).unwrap_or_else(|| RequestStats::new(0, DIGITS));
        for slot in slots {
            merged.merge(&slot[scenario].lock(request));
        }
        merged
    }

    /// Scenario `scenario`'s durations at [`super::span_index`] `index` over the whole window.
    pub fn merged_span(&self, scenario: usize, index: usize) -> Latency {
        let mut merged = Latency::new(DIGITS);
        for slot in &self.slots {
            merged.merge(&slot[scenario].span(index));
        }
        merged
    }

    /// Scenario `scenario`'s phases over the whole window, where they are kept.
    pub fn merged_phases(&self, scenario: usize) -> Option<Vec<Latency>> {
        let mut slots = self.slots.iter();
        let mut merged = slots.next()?[scenario].phases()?;
        for slot in slots {
            if let Some(phases) = slot[scenario].phases() {
                merged.iter_mut().zip(phases.iter()).for_each(|(m, p)| m.merge(p));
            }
        }
        Some(merged)
    }

    pub fn length(&self) -> Duration {
        self.slot_length * SLOTS as u32
    }
}

struct WindowSink {
    window: Arc<SlidingWindow>,
    scenario: usize,
}

impl SampleSink for WindowSink {
    fn record(&self, sample: &Sample) {
        let slot = self.window.current.load(Ordering::Acquire);
        self.window.slots[slot][self.scenario].record(sample);
    }

    fn record_span(&self, span: &Span) {
        let slot = self.window.current.load(Ordering::Acquire);
        self.window.slots[slot][self.scenario].record_span(span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        crate::plan::of_requests("[{name: r, path: /}]")
    }

    fn sample(ms: u64) -> Sample {
        Sample { latency: Duration::from_millis(ms), status: Some(200), ..Sample::new(0) }
    }

    #[test]
    fn a_sample_leaves_the_window_after_a_full_rotation() {
        let window = SlidingWindow::new(&plan(), Duration::from_secs(10));
        assert_eq!(window.slot_length, Duration::from_secs(1));
        let sink = window.sink(0);
        sink.record(&sample(500));
        for _ in 0..SLOTS - 1 {
            window.rotate();
            sink.record(&sample(10));
        }
        let merged = window.merged(0, 0);
        assert_eq!(merged.count, SLOTS as u64, "every slot still counts");
        assert!(merged.percentile_ms(100.0) >= 495.0);
        window.rotate();
        let merged = window.merged(0, 0);
        assert_eq!(merged.count, SLOTS as u64 - 1, "the oldest slot was dropped");
        assert!(merged.percentile_ms(100.0) < 11.0, "the 500 ms sample is gone");
    }
}
