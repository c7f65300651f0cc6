//! The open model: iterations start at scheduled instants whatever the server
//! does. An iteration that finds every VU busy (and no room to allocate one)
//! is dropped and counted, never queued.

use super::schedule::Arrivals;
use super::{stop_deadline, ActiveVu, ExecutorCounters, Iteration, VuState};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

pub struct OpenModel {
    pub arrivals: Arrivals,
    pub end: Duration,
    pub pre_allocated_vus: u32,
    pub max_vus: u32,
    pub graceful_stop: Duration,
}

/// Idle VUs, and how many exist in all.
struct VuPool {
    idle: Mutex<Vec<VuState>>,
}

impl VuPool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<VuState>> {
        // A panic while holding this lock cannot leave the Vec inconsistent, so recover it.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub async fn run<I: Iteration>(
    model: OpenModel,
    iteration: Arc<I>,
    counters: &ExecutorCounters,
    stop: &CancellationToken,
) {
    let start = Instant::now();
    let end_at = start + model.end;
    let hard_stop_at = end_at + model.graceful_stop;
    let pool =
        Arc::new(VuPool { idle: Mutex::new((1..=model.pre_allocated_vus as u64).rev().map(VuState::new).collect()) });
    let mut allocated = model.pre_allocated_vus;
    counters.vus_max.set(allocated as i64);
    let mut running = JoinSet::new();
    for offset in model.arrivals {
        let scheduled = start + offset;
        if scheduled >= end_at {
            break;
        }
        tokio::select! {
            _ = sleep_until(scheduled) => {}
            _ = stop.cancelled() => break,
        }
        while running.try_join_next().is_some() {}
        let idle = pool.lock().pop();
        let vu = idle.or_else(|| {
            (allocated < model.max_vus).then(|| {
                allocated += 1;
                counters.vus_max.set(allocated as i64);
                VuState::new(allocated as u64)
            })
        });
        let Some(mut vu) = vu else {
            counters.dropped.inc();
            continue;
        };
        let (iteration, counters, pool, stop) = (iteration.clone(), counters.clone(), pool.clone(), stop.clone());
        let graceful_stop = model.graceful_stop;
        running.spawn(async move {
            let busy = ActiveVu::new(&counters.vus);
            let completed = tokio::select! {
                // An iteration that ends exactly at a deadline counts as completed.
                biased;
                _ = iteration.run(&mut vu, scheduled) => true,
                _ = sleep_until(hard_stop_at) => false,
                _ = stop_deadline(&stop, graceful_stop) => false,
            };
            drop(busy);
            vu.iterations += 1;
            if completed {
                counters.iterations.inc();
            }
            pool.lock().push(vu);
        });
    }
    while running.join_next().await.is_some() {}
}
