//! The open model: iterations start at scheduled instants whatever the server
//! does. An iteration that finds every VU busy (and no room to allocate one)
//! is dropped and counted, never queued.
//!
//! Each VU thread paces its own share of the arrivals (every n-th of n
//! threads) in one task, with its own VUs: it starts the arrivals that are due
//! whenever it runs, and a precise timer wakes it for the next one when it is
//! idle ([`StartTimer`]). No other thread hands arrivals over, so starting one
//! costs no wake-up, lock or queue, and a busy thread starts each on time.

use super::counters::{ActiveVu, ExecutorCounters};
use super::schedule::Arrivals;
use super::start_timer::StartTimer;
use super::{Iteration, Vu, VuThreads};
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::task::AtomicWaker;
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

pub struct OpenModel {
    pub arrivals: Arrivals,
    pub end: Duration,
    pub pre_allocated_vus: u32,
    pub max_vus: u32,
    pub graceful_stop: Duration,
}

/// VU allocation beyond `pre_allocated_vus`, shared by the VU threads. A VU
/// stays on the thread that made it: with several VU threads, once `max_vus`
/// exist, an arrival is dropped when its own thread has no idle VU.
struct VuBudget {
    counters: Arc<ExecutorCounters>,
    allocated: AtomicU32,
    max_vus: u32,
}

impl VuBudget {
    /// A new VU, or None when `max_vus` exist already.
    fn allocate<S: Default>(&self) -> Option<Vu<S>> {
        let id = self
            .allocated
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max_vus).then_some(n + 1))
            .ok()?
            + 1;
        self.counters.set_vus_max(id as i64);
        Some(Vu::new(id as u64))
    }
}

/// How a VU thread's share of a pass is to end (0: it is not ending), set by [`run`].
#[derive(Default)]
struct Ending {
    state: AtomicU8,
    waker: AtomicWaker,
}

/// No new arrivals; running iterations go on.
const STOPPED: u8 = 1;
/// Running iterations are interrupted.
const ABORTED: u8 = 2;

impl Ending {
    fn set(&self, state: u8) {
        self.state.fetch_max(state, Ordering::AcqRel);
        self.waker.wake();
    }
}

/// The endings of a pass's VU threads, aborted when dropped: a pass whose
/// task is aborted leaves no iteration running on the VU threads.
struct Endings(Vec<Arc<Ending>>);

impl Endings {
    fn set(&self, state: u8) {
        self.0.iter().for_each(|ending| ending.set(state));
    }
}

impl Drop for Endings {
    fn drop(&mut self) {
        self.set(ABORTED);
    }
}

/// Arrivals closer together than this start in batches when the thread is
/// idle: a timer wake-up per arrival costs more CPU than the request (arming
/// a timer traps to the hypervisor on a VM). A busy thread starts each on time.
const MIN_WAKE_GAP: Duration = Duration::from_micros(200);

/// Arrivals at least this far apart on a thread (at most 500/s) are met
/// awake: the thread wakes early (by [`StartTimer::wake_up_lead`]) and polls
/// its sockets until the arrival is due, rather than sleeping up to it, as
/// latency counts from the intended start. Costs at most 10 % of a core, at 500/s.
const SPARSE_GAP: Duration = Duration::from_millis(2);

/// Arrivals started in one pass at most. A thread that fell behind then reads
/// its sockets between batches, so answers free their VUs and connections for
/// the next ones instead of every late arrival opening a connection of its own.
const MAX_STARTS_PER_PASS: u32 = 64;

/// The arrivals of thread `index` of `threads`: every `threads`-th, from the `index`-th.
fn thread_share(arrivals: Arrivals, index: usize, threads: usize) -> impl Iterator<Item = Duration> {
    arrivals.skip(index).step_by(threads)
}

/// Runs one VU thread's share of the arrivals, each on a free VU of this
/// thread (or a new one, up to `max_vus` in all), inside this one task: no
/// task of its own per iteration. Ends when the arrivals are over (or
/// stopped) and their iterations have ended; returning early (aborted) drops
/// and so interrupts the running iterations.
async fn serve_arrivals<I: Iteration>(
    mut arrivals: impl Iterator<Item = Instant>,
    mut idle: Vec<Vu<I::Session>>,
    iteration: Arc<I>,
    budget: Arc<VuBudget>,
    ending: Arc<Ending>,
    precise_timers: bool,
) {
    let mut running = FuturesUnordered::new();
    let mut next = arrivals.next();
    let mut last_started = None;
    let mut timer = StartTimer::new(precise_timers);
    poll_fn(|cx| {
        ending.waker.register(cx.waker());
        match ending.state.load(Ordering::Acquire) {
            ABORTED => return Poll::Ready(()),
            STOPPED => next = None,
            _ => {}
        }
        // Iterations that can end do first, so due arrivals find their VUs free.
        give_back_finished(&mut running, &mut idle, cx);
        let now = Instant::now();
        let mut started = false;
        let mut starts_left = MAX_STARTS_PER_PASS;
        while let Some(scheduled) = next.filter(|at| *at <= now && starts_left > 0) {
            starts_left -= 1;
            last_started = Some(scheduled);
            match idle.pop().or_else(|| budget.allocate()) {
                Some(vu) => {
                    running.push(run_one(&*iteration, &budget.counters, scheduled, vu));
                    started = true;
                }
                None => budget.counters.iteration_dropped(),
            }
            next = arrivals.next();
        }
        if started {
            give_back_finished(&mut running, &mut idle, cx);
        }
        let Some(scheduled) = next else {
            return if running.is_empty() { Poll::Ready(()) } else { Poll::Pending };
        };
        let sparse = last_started.is_some_and(|last| scheduled - last >= SPARSE_GAP);
        let wake_at = if sparse { scheduled - timer.wake_up_lead() } else { scheduled.max(now + MIN_WAKE_GAP) };
        if scheduled <= now || wake_at <= now || timer.poll_until(wake_at, cx).is_ready() {
            // Due (or about to be): run again once the thread has read its
            // sockets (tokio wakes a yielded task after polling its I/O
            // driver), so that answers free their VUs and connections first.
            let _ = std::pin::pin!(tokio::task::yield_now()).poll(cx);
        }
        Poll::Pending
    })
    .await
}

/// Polls the running iterations; the VUs of those that ended go back to `idle`.
fn give_back_finished<S, F: Future<Output = Vu<S>>>(
    running: &mut FuturesUnordered<F>,
    idle: &mut Vec<Vu<S>>,
    cx: &mut std::task::Context<'_>,
) {
    while let Poll::Ready(Some(vu)) = running.poll_next_unpin(cx) {
        idle.push(vu);
    }
}

/// One iteration on `vu`, which it gives back when it ends.
async fn run_one<I: Iteration>(
    iteration: &I,
    counters: &Arc<ExecutorCounters>,
    scheduled: Instant,
    mut vu: Vu<I::Session>,
) -> Vu<I::Session> {
    let busy = ActiveVu::new(counters);
    // Every iteration of this thread shares one task, and so tokio's budget of
    // operations per task poll: each is exempt, or one poll of the thread's
    // iterations would hand out Pending (and a re-poll) to all past the 128th.
    tokio::task::unconstrained(iteration.run(&mut vu, scheduled)).await;
    drop(busy);
    vu.iterations += 1;
    counters.iteration_done();
    vu
}

pub async fn run<I: Iteration>(
    model: OpenModel,
    iteration: Arc<I>,
    counters: &Arc<ExecutorCounters>,
    threads: &VuThreads,
    stop: &CancellationToken,
) {
    let start = Instant::now();
    let end_at = start + model.end;
    counters.set_vus_max(model.pre_allocated_vus as i64);
    let budget = Arc::new(VuBudget {
        counters: counters.clone(),
        allocated: AtomicU32::new(model.pre_allocated_vus),
        max_vus: model.max_vus,
    });
    let precise_timers = threads.precise_timers();
    let threads = threads.all();
    let mut endings = Endings(Vec::new());
    let mut servers = Vec::new();
    for (index, thread) in threads.iter().enumerate() {
        let arrivals = thread_share(model.arrivals.clone(), index, threads.len())
            .map(move |offset| start + offset)
            .take_while(move |at| *at < end_at);
        let idle = (1..=model.pre_allocated_vus as u64).rev().filter(|id| (id - 1) as usize % threads.len() == index);
        let ending = Arc::new(Ending::default());
        let serve = serve_arrivals(
            arrivals,
            idle.map(Vu::new).collect(),
            iteration.clone(),
            budget.clone(),
            ending.clone(),
            precise_timers,
        );
        servers.push(thread.spawn(serve));
        endings.0.push(ending);
    }
    let served = async {
        for server in servers {
            let _ = server.await;
        }
    };
    // Iterations still running at the hard stop, or `graceful_stop` after a
    // cancel, are interrupted here rather than by timers in every iteration.
    tokio::pin!(served);
    let hard_stop = sleep_until(end_at + model.graceful_stop);
    tokio::pin!(hard_stop);
    tokio::select! {
        _ = &mut served => return,
        _ = &mut hard_stop => {}
        _ = stop.cancelled() => {
            endings.set(STOPPED);
            tokio::select! {
                _ = &mut served => return,
                _ = &mut hard_stop => {}
                _ = sleep(model.graceful_stop) => {}
            }
        }
    }
    endings.set(ABORTED);
    served.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threads_shares_partition_the_arrivals() {
        let all: Vec<Duration> = Arrivals::constant(10.0, Duration::from_secs(1), Duration::from_secs(1)).collect();
        for threads in 1..=4 {
            let mut shared: Vec<Duration> = (0..threads)
                .flat_map(|index| {
                    thread_share(
                        Arrivals::constant(10.0, Duration::from_secs(1), Duration::from_secs(1)),
                        index,
                        threads,
                    )
                })
                .collect();
            shared.sort();
            assert_eq!(shared, all, "{threads} threads");
        }
    }
}
