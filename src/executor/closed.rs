//! The closed model: a number of VUs that each loop over iterations.
//! Covers constant-vus, ramping-vus, per-vu-iterations and shared-iterations.

use super::counters::{ActiveVu, ExecutorCounters};
use super::{stop_deadline, Iteration, Vu, VuThreads};
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
    fn take<S>(&self, vu: &Vu<S>) -> bool {
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
    counters: Arc<ExecutorCounters>,
    budget: Budget,
    end_at: Instant,
    graceful_ramp_down: Duration,
    /// VUs from this index up are removed by a later, lower stage.
    removable_from: u32,
    stop: CancellationToken,
}

/// The lowest VU index that some stage removes after an earlier one started it
/// (`u32::MAX` when the count never drops).
fn removable_from(steps: &[(Duration, u32)]) -> u32 {
    let mut peak = 0;
    let mut lowest = u32::MAX;
    for (_, target) in steps {
        if *target < peak {
            lowest = lowest.min(*target);
        }
        peak = peak.max(*target);
    }
    lowest
}

pub async fn run<I: Iteration>(
    model: ClosedModel,
    iteration: Arc<I>,
    counters: &Arc<ExecutorCounters>,
    threads: &VuThreads,
    stop: &CancellationToken,
) {
    let start = Instant::now();
    let max_vus = model.steps.iter().map(|(_, vus)| *vus).max().unwrap_or(0);
    counters.set_vus_max(max_vus as i64);
    let end_at = start + model.end;
    let shared = Arc::new(Shared {
        iteration,
        counters: counters.clone(),
        budget: model.budget,
        end_at,
        graceful_ramp_down: model.graceful_ramp_down,
        removable_from: removable_from(&model.steps),
        stop: stop.clone(),
    });
    let (target_tx, target_rx) = watch::channel(0u32);
    let mut vus = JoinSet::new();
    for index in 0..max_vus {
        vus.spawn_on(vu_loop(index, target_rx.clone(), shared.clone()), &threads.next());
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
    // Iterations still running at the hard stop, or `graceful_stop` after a
    // cancel, are aborted here rather than by a timer in every VU: the VUs'
    // hot loop then polls nothing but its iteration.
    let all_done = async {
        let deadline = async {
            tokio::select! {
                _ = sleep_until(end_at + model.graceful_stop) => {}
                _ = stop_deadline(stop, model.graceful_stop) => {}
            }
        };
        tokio::pin!(deadline);
        let mut cut = false;
        loop {
            let reached = tokio::select! {
                biased;
                joined = vus.join_next() => match joined {
                    None => return,
                    Some(_) => false,
                },
                _ = &mut deadline, if !cut => true,
            };
            if reached {
                cut = true;
                vus.abort_all();
            }
        }
    };
    tokio::join!(controller, all_done);
}

async fn vu_loop<I: Iteration>(index: u32, mut target: watch::Receiver<u32>, shared: Arc<Shared<I>>) {
    let mut vu = Vu::<I::Session>::new(index as u64 + 1);
    let mut active: Option<ActiveVu> = None;
    // Only a VU that a later stage removes can be ramped down.
    let removable = index >= shared.removable_from;
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
        active.get_or_insert_with(|| ActiveVu::new(&shared.counters));
        let scheduled = Instant::now();
        let completed = if removable {
            tokio::select! {
                // An iteration that ends exactly at a deadline counts as completed.
                biased;
                _ = shared.iteration.run(&mut vu, scheduled) => true,
                _ = ramped_down(target.clone(), index, shared.graceful_ramp_down) => false,
            }
        } else {
            shared.iteration.run(&mut vu, scheduled).await;
            true
        };
        vu.iterations += 1;
        if completed {
            shared.counters.iteration_done();
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

#[cfg(test)]
mod removable_tests {
    use super::removable_from;
    use std::time::Duration;

    #[test]
    fn only_vus_a_lower_stage_removes_can_be_ramped_down() {
        let steps = |targets: &[u32]| targets.iter().map(|t| (Duration::ZERO, *t)).collect::<Vec<_>>();
        assert_eq!(removable_from(&steps(&[10])), u32::MAX);
        assert_eq!(removable_from(&steps(&[0, 5, 10])), u32::MAX);
        assert_eq!(removable_from(&steps(&[0, 10, 4, 8, 0])), 0);
        assert_eq!(removable_from(&steps(&[5, 10, 7, 10])), 7);
    }
}
