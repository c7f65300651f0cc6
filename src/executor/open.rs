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
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

pub struct OpenModel {
    pub arrivals: Arrivals,
    pub end: Duration,
    pub pre_allocated_vus: u32,
    pub max_vus: u32,
    pub graceful_stop: Duration,
}

/// The VUs of a run, shared by the pacer (which takes them) and the
/// iterations (which give them back).
struct VuPool {
    counters: ExecutorCounters,
    idle_vus: Mutex<Vec<VuState>>,
    allocated: AtomicU32,
    max_vus: u32,
}

impl VuPool {
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
}

/// An iteration to start: when it was scheduled, and the VU that runs it.
type Job = (Instant, VuState);

/// Hands each scheduled iteration to a free VU, queued for the VU threads in
/// turn. Dropping it closes the queues: pacing is over.
struct Dispatcher {
    pool: Arc<VuPool>,
    queues: Vec<mpsc::UnboundedSender<Job>>,
    next_queue: usize,
}

impl Dispatcher {
    fn dispatch(&mut self, scheduled: Instant) {
        let Some(vu) = self.pool.take_vu() else {
            self.pool.counters.dropped.inc();
            return;
        };
        self.next_queue = (self.next_queue + 1) % self.queues.len();
        // A closed queue means the run is being torn down: the VU is not needed.
        let _ = self.queues[self.next_queue].send((scheduled, vu));
    }
}

/// Runs on one VU thread: runs the iterations queued for it inside this one
/// task (no wake-up of another thread, and no task of its own per iteration),
/// and interrupts them all when `abort` is cancelled. Ends when the queue is
/// closed and its iterations have ended.
async fn serve_queue<I: Iteration>(
    mut queue: mpsc::UnboundedReceiver<Job>,
    iteration: Arc<I>,
    pool: Arc<VuPool>,
    abort: CancellationToken,
) {
    let mut running = FuturesUnordered::new();
    let mut open = true;
    // Made once: a waiter registers with the token on its first poll only.
    let aborted = abort.cancelled_owned();
    tokio::pin!(aborted);
    poll_fn(|cx| {
        if aborted.as_mut().poll(cx).is_ready() {
            // Returning drops `running`, which interrupts every iteration.
            return Poll::Ready(());
        }
        while open {
            match queue.poll_recv(cx) {
                Poll::Ready(Some((scheduled, vu))) => running.push(run_one(&*iteration, &pool, scheduled, vu)),
                Poll::Ready(None) => open = false,
                Poll::Pending => break,
            }
        }
        while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
        if !open && running.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// One iteration on `vu`, which goes back to the pool when it ends.
async fn run_one<I: Iteration>(iteration: &I, pool: &VuPool, scheduled: Instant, mut vu: VuState) {
    let busy = ActiveVu::new(&pool.counters.vus);
    // Every iteration of this thread shares one task, and so tokio's budget of
    // operations per task poll: each is exempt, or one poll of the thread's
    // iterations would hand out Pending (and a re-poll) to all past the 128th.
    tokio::task::unconstrained(iteration.run(&mut vu, scheduled)).await;
    drop(busy);
    vu.iterations += 1;
    pool.counters.iterations.inc();
    pool.idle().push(vu);
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
    let pool = Arc::new(VuPool {
        counters: counters.clone(),
        idle_vus: Mutex::new((1..=model.pre_allocated_vus as u64).rev().map(VuState::new).collect()),
        allocated: AtomicU32::new(model.pre_allocated_vus),
        max_vus: model.max_vus,
    });
    let abort = CancellationToken::new();
    let mut dispatcher = Dispatcher { pool: pool.clone(), queues: Vec::new(), next_queue: 0 };
    let mut servers = Vec::new();
    for thread in super::workers::all() {
        let (sender, receiver) = mpsc::unbounded_channel();
        dispatcher.queues.push(sender);
        servers.push(thread.spawn(serve_queue(receiver, iteration.clone(), pool.clone(), abort.clone())));
    }
    let schedule = model.arrivals.map(move |offset| start + offset).take_while(move |at| *at < end_at);
    let pace = async {
        if cfg!(test) {
            for scheduled in schedule {
                tokio::select! {
                    _ = sleep_until(scheduled) => {}
                    _ = stop.cancelled() => break,
                    _ = abort.cancelled() => break,
                }
                dispatcher.dispatch(scheduled);
            }
            drop(dispatcher);
        } else {
            let (stop, abort) = (stop.clone(), abort.clone());
            let _ = tokio::task::spawn_blocking(move || pace_on_this_thread(schedule, dispatcher, &stop, &abort)).await;
        }
        for server in servers {
            let _ = server.await;
        }
    };
    // Iterations still running at the hard stop, or `graceful_stop` after a
    // cancel, are interrupted here rather than by timers in every iteration.
    tokio::pin!(pace);
    tokio::select! {
        _ = &mut pace => return,
        _ = sleep_until(end_at + model.graceful_stop) => {}
        _ = stop_deadline(stop, model.graceful_stop) => {}
    }
    abort.cancel();
    pace.await;
}

/// The longest single OS sleep, so a cancelled run notices within this.
const MAX_SLEEP: Duration = Duration::from_millis(50);
/// The shortest: arrivals closer together than this start in batches, each at
/// most this late. An OS sleep per arrival costs more CPU than the request
/// (arming a precise timer traps to the hypervisor on a VM).
const MIN_SLEEP: Duration = Duration::from_micros(200);

/// Arrivals at least this far apart (500/s or fewer) are started with a
/// precise sleep, whose final spin keeps an OS sleep's lateness out of every
/// latency. At 500/s the spin costs a tenth of a core; at the 1 to 100/s of a
/// typical probe, almost nothing.
const PRECISE_FROM_GAP: Duration = Duration::from_millis(2);

fn pace_on_this_thread(
    schedule: impl Iterator<Item = Instant>,
    mut dispatcher: Dispatcher,
    stop: &CancellationToken,
    abort: &CancellationToken,
) {
    crate::timer_slack::tighten_timer_slack();
    // Pacing runs on a thread of tokio's blocking pool: the slice is given back after.
    let _short_slice = crate::timer_slack::short_slice();
    let mut previous: Option<Instant> = None;
    for scheduled in schedule {
        let precise = previous.is_some_and(|previous| scheduled - previous >= PRECISE_FROM_GAP);
        previous = Some(scheduled);
        loop {
            if stop.is_cancelled() || abort.is_cancelled() {
                return;
            }
            let now = Instant::now();
            if now >= scheduled {
                break;
            }
            let left = scheduled - now;
            if precise && left <= MAX_SLEEP {
                crate::timer_slack::sleep_precisely_until(scheduled.into_std());
                break;
            }
            std::thread::sleep(left.clamp(MIN_SLEEP, MAX_SLEEP));
        }
        dispatcher.dispatch(scheduled);
    }
}
