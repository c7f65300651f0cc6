//! Where VUs run: single-threaded tokio runtimes, one per two cores, as wrk
//! and oha run one event loop per thread. A VU's task, its connection and its
//! timers stay on one thread, so an answer wakes no other thread and no work
//! is stolen; on loopback that is a fifth of the generator's CPU. The other
//! half of the cores is left to the kernel's network stack (sending and
//! receiving cost the kernel more CPU than the VU threads spend) and, on a
//! shared machine, the target: on 2 cores with nginx, one VU thread serves
//! 1.35x the requests of two.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use tokio::runtime::{Builder, Handle};

struct Workers {
    handles: Vec<Handle>,
    next: AtomicUsize,
}

/// The runtime for the next VU, round robin. Unit tests keep every VU on the
/// test's own runtime, whose paused clock drives them.
pub fn next() -> Handle {
    match started() {
        Some(workers) => {
            let index = workers.next.fetch_add(1, Ordering::Relaxed) % workers.handles.len();
            workers.handles[index].clone()
        }
        None => Handle::current(),
    }
}

/// Every VU thread's runtime (the caller's when there are none, and in unit tests).
pub fn all() -> Vec<Handle> {
    started().map_or_else(|| vec![Handle::current()], |workers| workers.handles.clone())
}

/// The VU threads, started on first use; None in unit tests or when none could start.
fn started() -> Option<&'static Workers> {
    if cfg!(test) {
        return None;
    }
    Some(WORKERS.get_or_init(start)).filter(|workers| !workers.handles.is_empty())
}

static WORKERS: OnceLock<Workers> = OnceLock::new();

/// Starts one worker thread per two cores, at least one
/// (`SLOPROBER_VU_THREADS` overrides);
/// they live as long as the process. A thread that cannot start leaves fewer
/// workers (none: VUs run on the caller's runtime).
fn start() -> Workers {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = thread_count(std::env::var("SLOPROBER_VU_THREADS").ok().as_deref(), cores);
    let handles = (0..threads).filter_map(|index| spawn_worker(index).ok()).collect();
    Workers { handles, next: AtomicUsize::new(0) }
}

/// `SLOPROBER_VU_THREADS` when it is a number, else one per two cores.
fn thread_count(setting: Option<&str>, cores: usize) -> usize {
    setting.and_then(|n| n.trim().parse().ok()).unwrap_or(cores.div_ceil(2))
}

fn spawn_worker(index: usize) -> std::io::Result<Handle> {
    let runtime = Builder::new_current_thread().enable_all().build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name(format!("sloprober-vus-{index}"))
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::thread_count;

    #[test]
    fn one_vu_thread_per_two_cores_unless_set() {
        let by_cores: Vec<usize> = [1, 2, 3, 4, 16].iter().map(|cores| thread_count(None, *cores)).collect();
        assert_eq!(by_cores, [1, 1, 2, 2, 8]);
        assert_eq!(thread_count(Some("3"), 2), 3);
        assert_eq!(thread_count(Some("many"), 4), 2, "not a number: the default");
    }
}
