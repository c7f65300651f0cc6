//! The closed model: a number of VUs that each loop over iterations.
//! Covers constant-vus, ramping-vus, per-vu-iterations and shared-iterations.

use super::{stop_deadline, ActiveVu, ExecutorCounters, Iteration, VuState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

/// How many iterations VUs may start.
pub enum Budget {
    Unlimited,
    PerVu(u64),
    Shared(AtomicU64),
}

impl Budget {
    pub fn per_vu(iterations: u64) -> Budget {
        Budget::PerVu(iterations)
    }

    pub fn shared(iterations: u64) -> Budget {
        Budget::Shared(AtomicU64::new(iterations))
    }

    /// Claims one iteration for `vu`; false when the budget is spent.
    fn take(&self, vu: &VuState) -> bool {
        match self {
            Budget::Unlimited => true,
            Budget::PerVu(n) => vu.iterations < *n,
            Budget::Shared(left) => {
                left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok()
            }
        }
    }
}

/// A step function of active VUs over time, and when starting iterations stops.
pub struct ClosedModel {
    pub steps: Vec<(Duration, u32)>,
    pub end: Duration,
    pub budget: Budget,
    pub graceful_ramp_down: Duration,
    pub graceful_stop: Duration,
}

impl ClosedModel {
    pub fn constant(vus: u32, end: Duration, budget: Budget, graceful_stop: Duration) -> ClosedModel {
        ClosedModel {
            steps: vec![(Duration::ZERO, vus)],
            end,
            budget,
            graceful_ramp_down: Duration::ZERO,
            graceful_stop,
        }
    }
}

struct Shared<I> {
    iteration: Arc<I>,
    counters: ExecutorCounters,
    budget: Budget,
    end_at: Instant,
    hard_stop_at: Instant,
    graceful_ramp_down: Duration,
    graceful_stop: Duration,
    stop: CancellationToken,
}

pub async fn run<I: Iteration>(
    model: ClosedModel,
    iteration: Arc<I>,
    counters: &ExecutorCounters,
    stop: &CancellationToken,
) {
    let start = Instant::now();
    let max_vus = model.steps.iter().map(|(_, vus)| *vus).max().unwrap_or(0);
    counters.vus_max.set(max_vus as i64);
    let end_at = start + model.end;
    let shared = Arc::new(Shared {
        iteration,
        counters: counters.clone(),
        budget: model.budget,
        end_at,
        hard_stop_at: end_at + model.graceful_stop,
        graceful_ramp_down: model.graceful_ramp_down,
        graceful_stop: model.graceful_stop,
        stop: stop.clone(),
    });
    let (target_tx, target_rx) = watch::channel(0u32);
    let mut vus = JoinSet::new();
    for index in 0..max_vus {
        vus.spawn_on(vu_loop(index, target_rx.clone(), shared.clone()), &super::workers::next());
    }
    let controller = async {
        for (offset, target) in &model.steps {
            tokio::select! {
                _ = sleep_until(start + *offset) => {}
                _ = stop.cancelled() => return,
            }
            target_tx.send_replace(*target);
        }
    };
    let all_done = async { while vus.join_next().await.is_some() {} };
    tokio::join!(controller, all_done);
}

async fn vu_loop<I: Iteration>(index: u32, mut target: watch::Receiver<u32>, shared: Arc<Shared<I>>) {
    let mut vu = VuState::new(index as u64 + 1);
    let mut active: Option<ActiveVu> = None;
    // Made once per VU rather than per iteration: a timer costs a wheel insert and removal.
    // Neither is polled after it fires: the loop ends first.
    let hard_stop = sleep_until(shared.hard_stop_at);
    let stopped = stop_deadline(&shared.stop, shared.graceful_stop);
    tokio::pin!(hard_stop, stopped);
    loop {
        while *target.borrow_and_update() <= index {
            active = None;
            tokio::select! {
                _ = target.changed() => {}
                _ = sleep_until(shared.end_at) => return,
                _ = shared.stop.cancelled() => return,
            }
        }
        if Instant::now() >= shared.end_at || shared.stop.is_cancelled() || !shared.budget.take(&vu) {
            return;
        }
        active.get_or_insert_with(|| ActiveVu::new(&shared.counters.vus));
        let scheduled = Instant::now();
        let completed = tokio::select! {
            // An iteration that ends exactly at a deadline counts as completed.
            biased;
            _ = shared.iteration.run(&mut vu, scheduled) => true,
            _ = &mut hard_stop => false,
            _ = ramped_down(target.clone(), index, shared.graceful_ramp_down) => false,
            _ = &mut stopped => false,
        };
        vu.iterations += 1;
        if completed {
            shared.counters.iterations.inc();
        }
    }
}

/// Resolves when this VU has been out of the active set for `grace`.
async fn ramped_down(mut target: watch::Receiver<u32>, index: u32, grace: Duration) {
    loop {
        while *target.borrow_and_update() > index {
            if target.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
        tokio::select! {
            _ = sleep(grace) => return,
            _ = target.changed() => {}
        }
    }
}
