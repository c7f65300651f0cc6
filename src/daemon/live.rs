//! Live SLO verdicts in the daemon: thresholds evaluated over a sliding
//! window and published as `sloprober_slo_*` gauges, so a dashboard can show
//! "passing now" without PromQL, and on the status page with the window's
//! figures.

use crate::executor::ExecutorCounters;
use crate::metrics::ProberMetrics;
use crate::plan::Plan;
use crate::slo::evaluate;
use crate::stats::{ExecutorTotals, SlidingWindow, Snapshot};
use crate::status::StatusBoard;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

/// Longest pause between two evaluations.
const MAX_EVALUATION_INTERVAL: Duration = Duration::from_secs(5);

pub struct LiveSlos {
    pub plan: Arc<Plan>,
    pub window: Arc<SlidingWindow>,
    /// One per scenario of the plan, same order.
    pub executors: Vec<Arc<ExecutorCounters>>,
    pub metrics: Arc<ProberMetrics>,
    /// The status page: it shows `plan` once [`StatusBoard::begin`] was given it.
    pub board: Arc<StatusBoard>,
}

impl LiveSlos {
    /// Evaluates every threshold over the window and publishes the verdicts.
    pub fn evaluate(&self, since_start: Duration) {
        let executors = self
            .plan
            .scenarios
            .iter()
            .zip(&self.executors)
            .map(|(scenario, counters)| ExecutorTotals::read(&scenario.name, counters))
            .collect();
        let covered = since_start.min(self.window.length());
        let snapshot = Snapshot::capture(
            &self.plan,
            covered,
            executors,
            |s, r| self.window.merged(s, r),
            |s, i| self.window.merged_span(s, i),
            |s| self.window.merged_phases(s),
        );
        let verdicts: Vec<_> = self.plan.thresholds.iter().map(|t| evaluate(t, &snapshot)).collect();
        for (threshold, verdict) in self.plan.thresholds.iter().zip(&verdicts) {
            self.metrics.publish_verdict(threshold, verdict);
        }
        self.board.publish(&self.plan, &snapshot, &verdicts);
    }

    /// How often the verdicts are evaluated: each slot of the window, at
    /// most [`MAX_EVALUATION_INTERVAL`] apart.
    pub fn step(window: &SlidingWindow) -> Duration {
        window.slot_length.min(MAX_EVALUATION_INTERVAL).max(Duration::from_millis(10))
    }

    /// Rotates the window and evaluates until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let start = Instant::now();
        let step = Self::step(&self.window);
        let mut next_rotation = start + self.window.slot_length;
        let mut next_evaluation = start + step;
        loop {
            tokio::select! {
                _ = sleep_until(next_evaluation.min(next_rotation)) => {}
                _ = stop.cancelled() => return,
            }
            let now = Instant::now();
            if now >= next_rotation {
                self.window.rotate();
                next_rotation += self.window.slot_length;
            }
            if now >= next_evaluation {
                self.evaluate(now - start);
                next_evaluation += step;
            }
        }
    }
}
