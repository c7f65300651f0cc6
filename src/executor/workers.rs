//! Where VUs run: single-threaded tokio runtimes, one per two cores, as wrk
//! and oha run one event loop per thread. A VU's task, its connection and its
//! timers stay on one thread, so an answer wakes no other thread and no work
//! is stolen; on loopback that is a fifth of the generator's CPU. The other
//! half of the cores is left to the kernel's network stack (sending and
//! receiving cost the kernel more CPU than the VU threads spend) and, on a
//! shared machine, the target: on 2 cores with nginx, one VU thread serves
//! 1.35x the requests of two.

use crate::model::env::EnvVars;
use crate::model::problems::{ConfigError, Problems};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// The variable that sets how many threads run VUs.
pub const VU_THREADS: &str = "SLOPROBER_VU_THREADS";

/// The threads a process's VUs run on, handed to every load it starts.
/// Cloning shares them; they stop when the last clone is dropped.
#[derive(Clone)]
pub struct VuThreads {
    inner: Arc<Threads>,
}

struct Threads {
    /// Empty: VUs run on the runtime that starts the load.
    handles: Vec<Handle>,
    next: AtomicUsize,
    precise_timers: bool,
    /// Dropping these ends the threads.
    _stops: Vec<oneshot::Sender<()>>,
}

impl VuThreads {
    /// One VU thread per two cores, at least one.
    pub fn default_count() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get()).div_ceil(2)
    }

    /// How many threads run VUs: `SLOPROBER_VU_THREADS`, else one per two cores.
    pub fn count_from(env: &EnvVars) -> Result<usize, ConfigError> {
        let Some(setting) = env.get(VU_THREADS) else {
            return Ok(VuThreads::default_count());
        };
        match setting.trim().parse::<usize>() {
            Ok(count) if count > 0 => Ok(count),
            _ => {
                let mut problems = Problems::default();
                problems
                    .add(VU_THREADS, format!("\"{setting}\" is not a number of threads (a whole number, 1 or more)"));
                Err(problems.into_error("the environment"))
            }
        }
    }

    /// Starts `count` VU threads, whose arrivals are timed by the kernel. A
    /// thread that cannot start leaves fewer (none: VUs run on the runtime
    /// that starts the load).
    pub fn start(count: usize) -> VuThreads {
        let (handles, stops) = (0..count).filter_map(|index| spawn_thread(index).ok()).unzip();
        VuThreads {
            inner: Arc::new(Threads { handles, next: AtomicUsize::new(0), precise_timers: true, _stops: stops }),
        }
    }

    /// VUs on the runtime that starts the load, with tokio's own timers: a
    /// test's paused clock then drives every VU.
    pub fn on_calling_runtime() -> VuThreads {
        VuThreads {
            inner: Arc::new(Threads {
                handles: Vec::new(),
                next: AtomicUsize::new(0),
                precise_timers: false,
                _stops: Vec::new(),
            }),
        }
    }

    /// The runtime for the next VU, round robin.
    pub(super) fn next(&self) -> Handle {
        let handles = &self.inner.handles;
        if handles.is_empty() {
            return Handle::current();
        }
        handles[self.inner.next.fetch_add(1, Ordering::Relaxed) % handles.len()].clone()
    }

    /// Every VU thread's runtime (the caller's when there are none).
    pub(super) fn all(&self) -> Vec<Handle> {
        if self.inner.handles.is_empty() {
            return vec![Handle::current()];
        }
        self.inner.handles.clone()
    }

    /// Whether arrivals are timed by the kernel rather than by tokio's millisecond timer.
    pub(super) fn precise_timers(&self) -> bool {
        self.inner.precise_timers
    }

    /// How many threads run VUs (0: the calling runtime's).
    pub fn count(&self) -> usize {
        self.inner.handles.len()
    }
}

fn spawn_thread(index: usize) -> std::io::Result<(Handle, oneshot::Sender<()>)> {
    let runtime = Builder::new_current_thread().enable_all().build()?;
    let handle = runtime.handle().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    std::thread::Builder::new().name(format!("sloprober-vus-{index}")).spawn(move || {
        let _ = runtime.block_on(stopped);
    })?;
    Ok((handle, stop))
}

#[cfg(test)]
mod tests {
    use super::VuThreads;
    use std::time::{Duration, Instant};

    fn env(pairs: &[(&str, &str)]) -> crate::model::env::EnvVars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn vu_threads_come_from_the_environment_and_a_bad_value_is_named() {
        assert_eq!(VuThreads::count_from(&env(&[("SLOPROBER_VU_THREADS", "3")])).unwrap(), 3);
        assert_eq!(VuThreads::count_from(&env(&[])).unwrap(), VuThreads::default_count());
        for bad in ["many", "0", "-1", ""] {
            let error = VuThreads::count_from(&env(&[("SLOPROBER_VU_THREADS", bad)])).unwrap_err().to_string();
            assert!(error.contains("SLOPROBER_VU_THREADS") && error.contains(&format!("\"{bad}\"")), "{error}");
        }
    }

    #[test]
    fn started_threads_run_vus_and_stop_when_dropped() {
        let threads = VuThreads::start(2);
        assert_eq!(threads.count(), 2);
        let names: Vec<String> = (0..2)
            .map(|_| {
                let (tx, rx) = std::sync::mpsc::channel();
                threads.next().spawn(async move { tx.send(std::thread::current().name().unwrap_or("").to_string()) });
                rx.recv().unwrap()
            })
            .collect();
        assert_eq!(names, ["sloprober-vus-0", "sloprober-vus-1"], "round robin over the threads");
        let handle = threads.next();
        drop(threads);
        let stopped = || handle.spawn(std::future::pending::<()>()).is_finished();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !stopped() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(stopped(), "a dropped VuThreads stops its runtimes");
    }
}
