//! What an executor counts about itself, per scenario: plain atomics it owns.
//! The metrics layer exports them and the statistics read them; neither is
//! the executor's bookkeeping.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// One scenario's executor counters; shared between its VUs and their readers.
#[derive(Debug, Default)]
pub struct ExecutorCounters {
    /// VUs active now (closed model) or busy with an iteration (open model).
    vus: AtomicI64,
    /// VUs allocated.
    vus_max: AtomicI64,
    /// Iterations that ran to completion.
    iterations: AtomicU64,
    /// Arrival-rate iterations not started because every VU was busy.
    dropped: AtomicU64,
}

/// The counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterValues {
    pub vus: i64,
    pub vus_max: i64,
    pub iterations: u64,
    pub dropped: u64,
}

impl ExecutorCounters {
    pub fn new() -> Arc<ExecutorCounters> {
        Arc::new(ExecutorCounters::default())
    }

    pub fn read(&self) -> CounterValues {
        CounterValues {
            vus: self.vus.load(Ordering::Relaxed),
            vus_max: self.vus_max.load(Ordering::Relaxed),
            iterations: self.iterations.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    pub(super) fn set_vus_max(&self, vus: i64) {
        self.vus_max.store(vus, Ordering::Relaxed);
    }

    pub(super) fn iteration_done(&self) {
        self.iterations.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn iteration_dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Keeps `vus` counting one VU for as long as it lives, even if its task is aborted.
pub(super) struct ActiveVu(Arc<ExecutorCounters>);

impl ActiveVu {
    pub(super) fn new(counters: &Arc<ExecutorCounters>) -> ActiveVu {
        counters.vus.fetch_add(1, Ordering::Relaxed);
        ActiveVu(counters.clone())
    }
}

impl Drop for ActiveVu {
    fn drop(&mut self) {
        self.0.vus.fetch_sub(1, Ordering::Relaxed);
    }
}
