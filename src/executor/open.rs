//! The open model: iterations start at scheduled instants whatever the server
//! does. An iteration that finds every VU busy (and no room to allocate one)
//! is dropped and counted, never queued.
//!
//! Pacing runs on its own thread with OS sleeps without timer slack
//! rather than tokio's 1 ms timer wheel, so iterations start on time and the
//! latency measured from the scheduled instant is not inflated by the
//! generator. Unit tests pace with tokio's timer, which the paused clock drives.

use super::schedule::Arrivals;
use super::{stop_deadline, ActiveVu, ExecutorCounters, Iteration, VuState};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

pub struct OpenModel {
    pub arrivals: Arrivals,
    pub end: Duration,
    pub pre_allocated_vus: u32,
    pub max_vus: u32,
    pub graceful_stop: Duration,
}

/// Starts iterations on free VUs and keeps count of the running ones.
struct Dispatcher<I> {
    iteration: Arc<I>,
    counters: ExecutorCounters,
    idle_vus: Mutex<Vec<VuState>>,
    allocated: AtomicU32,
    max_vus: u32,
    hard_stop_at: Instant,
    graceful_stop: Duration,
    stop: CancellationToken,
    running: AtomicUsize,
    all_done: Notify,
}

impl<I: Iteration> Dispatcher<I> {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<VuState>> {
        // A panic while holding this lock cannot leave the Vec inconsistent, so recover it.
        self.idle_vus.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A free VU, a newly allocated one, or None when `max_vus` are all busy.
    fn take_vu(&self) -> Option<VuState> {
        if let Some(vu) = self.idle().pop() {
            return Some(vu);
        }
        let id = self
            .allocated
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max_vus).then_some(n + 1))
            .ok()?
            + 1;
        self.counters.vus_max.set(id as i64);
        Some(VuState::new(id as u64))
    }

    fn dispatch(self: &Arc<Self>, scheduled: Instant) {
        let Some(mut vu) = self.take_vu() else {
            self.counters.dropped.inc();
            return;
        };
        self.running.fetch_add(1, Ordering::AcqRel);
        let this = self.clone();
        super::workers::next().spawn(async move {
            let busy = ActiveVu::new(&this.counters.vus);
            let completed = tokio::select! {
                // An iteration that ends exactly at a deadline counts as completed.
                biased;
                _ = this.iteration.run(&mut vu, scheduled) => true,
                _ = sleep_until(this.hard_stop_at) => false,
                _ = stop_deadline(&this.stop, this.graceful_stop) => false,
            };
            drop(busy);
            vu.iterations += 1;
            if completed {
                this.counters.iterations.inc();
            }
            this.idle().push(vu);
            if this.running.fetch_sub(1, Ordering::AcqRel) == 1 {
                this.all_done.notify_waiters();
            }
        });
    }

    async fn drained(&self) {
        loop {
            let notified = self.all_done.notified();
            if self.running.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
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
    counters.vus_max.set(model.pre_allocated_vus as i64);
    let dispatcher = Arc::new(Dispatcher {
        iteration,
        counters: counters.clone(),
        idle_vus: Mutex::new((1..=model.pre_allocated_vus as u64).rev().map(VuState::new).collect()),
        allocated: AtomicU32::new(model.pre_allocated_vus),
        max_vus: model.max_vus,
        hard_stop_at: end_at + model.graceful_stop,
        graceful_stop: model.graceful_stop,
        stop: stop.clone(),
        running: AtomicUsize::new(0),
        all_done: Notify::new(),
    });
    let schedule = model.arrivals.map(move |offset| start + offset).take_while(move |at| *at < end_at);
    if cfg!(test) {
        for scheduled in schedule {
            tokio::select! {
                _ = sleep_until(scheduled) => {}
                _ = stop.cancelled() => break,
            }
            dispatcher.dispatch(scheduled);
        }
    } else {
        let (pacer, stop) = (dispatcher.clone(), stop.clone());
        let _ = tokio::task::spawn_blocking(move || pace_on_this_thread(schedule, &pacer, &stop)).await;
    }
    dispatcher.drained().await;
}

/// The longest single OS sleep, so a cancelled run notices within this.
const MAX_SLEEP: Duration = Duration::from_millis(50);

fn pace_on_this_thread<I: Iteration>(
    schedule: impl Iterator<Item = Instant>,
    dispatcher: &Arc<Dispatcher<I>>,
    stop: &CancellationToken,
) {
    crate::timer_slack::tighten_timer_slack();
    for scheduled in schedule {
        loop {
            if stop.is_cancelled() {
                return;
            }
            let now = Instant::now();
            if now >= scheduled {
                break;
            }
            std::thread::sleep((scheduled - now).min(MAX_SLEEP));
        }
        dispatcher.dispatch(scheduled);
    }
}
