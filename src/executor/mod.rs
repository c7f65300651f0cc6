//! Executors: when each iteration starts, in k6's closed (VUs) and open
//! (arrival-rate) models. An executor knows nothing about HTTP: it drives an
//! [`Iteration`], which in production is the request runner.

mod closed;
mod counters;
mod open;
pub(crate) mod schedule;
mod settings;
pub(crate) mod spec;
mod start_timer;
mod workers;

pub use counters::{CounterValues, ExecutorCounters};
pub use settings::{ExecutorSettings, OnEnd, Shortcuts, Stage};
pub use spec::{ExecutorPlan, ExecutorSpec, EXECUTORS, FOREVER};
pub use workers::{VuThreads, VU_THREADS};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One VU as the executor sees it: its number and how many iterations it
/// has started. `session` is whatever the iteration keeps from one run to
/// the next; the executor never reads it.
pub struct Vu<S> {
    /// 1-based, like k6's `__VU`.
    pub id: u64,
    /// Iterations this VU has started.
    pub iterations: u64,
    pub session: S,
}

impl<S: Default> Vu<S> {
    pub fn new(id: u64) -> Vu<S> {
        Vu { id, iterations: 0, session: S::default() }
    }
}

/// The work of one iteration. `scheduled` is when it was meant to start:
/// latency is measured from there, so a late start counts against the target.
pub trait Iteration: Send + Sync + 'static {
    /// What one VU keeps between its iterations.
    type Session: Default + Send + 'static;

    fn run(&self, vu: &mut Vu<Self::Session>, scheduled: Instant) -> impl Future<Output = ()> + Send;
}

/// Resolves once `stop` is cancelled and `grace` has passed: the end of a graceful stop.
async fn stop_deadline(stop: &CancellationToken, grace: Duration) {
    stop.cancelled().await;
    tokio::time::sleep(grace).await;
}

/// Plays the plan's schedule once. Returns when every iteration has ended
/// (completed, or interrupted after `graceful_stop`). Cancelling `stop` ends
/// the pass early: no new iterations, and running ones get `graceful_stop`.
pub async fn run_pass<I: Iteration>(
    plan: &ExecutorPlan,
    iteration: Arc<I>,
    counters: &Arc<ExecutorCounters>,
    threads: &VuThreads,
    stop: &CancellationToken,
) {
    if !plan.start_time.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(plan.start_time) => {}
            _ = stop.cancelled() => return,
        }
    }
    let grace = plan.graceful_stop;
    match &plan.spec {
        ExecutorSpec::ConstantVus { vus, duration } => {
            let model = closed::ClosedModel::constant(*vus, *duration, closed::Budget::Unlimited, grace);
            closed::run(model, iteration, counters, threads, stop).await
        }
        ExecutorSpec::RampingVus { start_vus, stages, graceful_ramp_down } => {
            let model = closed::ClosedModel {
                steps: schedule::vu_steps(*start_vus, stages),
                end: schedule::stages_length(stages),
                budget: closed::Budget::Unlimited,
                graceful_ramp_down: *graceful_ramp_down,
                graceful_stop: grace,
            };
            closed::run(model, iteration, counters, threads, stop).await
        }
        ExecutorSpec::PerVuIterations { vus, iterations, max_duration } => {
            let model = closed::ClosedModel::constant(*vus, *max_duration, closed::Budget::per_vu(*iterations), grace);
            closed::run(model, iteration, counters, threads, stop).await
        }
        ExecutorSpec::SharedIterations { vus, iterations, max_duration } => {
            let model = closed::ClosedModel::constant(*vus, *max_duration, closed::Budget::shared(*iterations), grace);
            closed::run(model, iteration, counters, threads, stop).await
        }
        ExecutorSpec::ConstantArrivalRate { rate, time_unit, duration, pre_allocated_vus, max_vus } => {
            let model = open::OpenModel {
                arrivals: schedule::Arrivals::constant(*rate, *time_unit, *duration),
                end: *duration,
                pre_allocated_vus: *pre_allocated_vus,
                max_vus: *max_vus,
                graceful_stop: grace,
            };
            open::run(model, iteration, counters, threads, stop).await
        }
        ExecutorSpec::RampingArrivalRate { start_rate, time_unit, stages, pre_allocated_vus, max_vus } => {
            let model = open::OpenModel {
                arrivals: schedule::Arrivals::new(*start_rate, *time_unit, stages),
                end: schedule::stages_length(stages),
                pre_allocated_vus: *pre_allocated_vus,
                max_vus: *max_vus,
                graceful_stop: grace,
            };
            open::run(model, iteration, counters, threads, stop).await
        }
    }
}

#[cfg(test)]
mod tests;
