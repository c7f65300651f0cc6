//! Executor semantics under tokio's paused clock: no real sleeping, exact instants.

use super::*;
use crate::executor::Stage;
use std::sync::Mutex;
use tokio::time::{advance, Duration, Instant};

/// An iteration that takes a fixed time and records when each one started.
struct FakeIteration {
    takes: Duration,
    origin: Instant,
    starts: Mutex<Vec<(Duration, u64)>>,
}

impl FakeIteration {
    fn new(takes: Duration) -> Arc<FakeIteration> {
        Arc::new(FakeIteration { takes, origin: Instant::now(), starts: Mutex::new(Vec::new()) })
    }

    fn starts(&self) -> Vec<(Duration, u64)> {
        self.starts.lock().unwrap().clone()
    }
}

impl Iteration for FakeIteration {
    type Session = ();

    fn run(&self, vu: &mut Vu<()>, scheduled: Instant) -> impl Future<Output = ()> + Send {
        self.starts.lock().unwrap().push((scheduled - self.origin, vu.id));
        tokio::time::sleep(self.takes)
    }
}

fn counters() -> Arc<ExecutorCounters> {
    ExecutorCounters::new()
}

fn plan(spec: ExecutorSpec, graceful_stop: Duration) -> ExecutorPlan {
    ExecutorPlan { spec, start_time: Duration::ZERO, graceful_stop }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// constant-arrival-rate: `rate` per second for `seconds`, with these VUs.
fn per_second(rate: f64, seconds: f64, pre_allocated_vus: u32, max_vus: u32) -> ExecutorSpec {
    ExecutorSpec::ConstantArrivalRate {
        rate,
        time_unit: secs(1.0),
        duration: secs(seconds),
        pre_allocated_vus,
        max_vus,
    }
}

fn stage(s: f64, target: f64) -> Stage {
    Stage { duration: secs(s), target }
}

/// Runs a pass to the end and returns how long it took in virtual time.
async fn play(plan: &ExecutorPlan, iteration: Arc<FakeIteration>, c: &Arc<ExecutorCounters>) -> Duration {
    let start = Instant::now();
    run_pass(plan, iteration, c, &VuThreads::on_calling_runtime(), &CancellationToken::new()).await;
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn constant_vus_loop_for_the_duration() {
    let it = FakeIteration::new(secs(1.0));
    let c = counters();
    let took =
        play(&plan(ExecutorSpec::ConstantVus { vus: 3, duration: secs(10.0) }, secs(30.0)), it.clone(), &c).await;
    assert_eq!(it.starts().len(), 30, "3 VUs x 10 one-second iterations");
    assert_eq!(c.read().iterations, 30);
    assert_eq!(c.read().vus_max, 3);
    assert_eq!(c.read().vus, 0, "every VU has left");
    assert_eq!(took, secs(10.0));
}

/// Plays a 1 s pass of 5 s iterations with a 2 s graceful_stop: every
/// iteration is cut at 3 s, and none counts as completed or busy after.
async fn assert_cut_at_the_hard_stop(spec: ExecutorSpec, starts: usize) {
    let it = FakeIteration::new(secs(5.0));
    let c = counters();
    let took = play(&plan(spec, secs(2.0)), it.clone(), &c).await;
    assert_eq!(it.starts().len(), starts);
    assert_eq!(c.read().iterations, 0, "interrupted iterations are not completed ones");
    assert_eq!(c.read().vus, 0, "no VU counts as busy after the pass");
    assert_eq!(took, secs(3.0), "duration + graceful_stop");
}

#[tokio::test(start_paused = true)]
async fn graceful_stop_interrupts_long_iterations() {
    assert_cut_at_the_hard_stop(ExecutorSpec::ConstantVus { vus: 1, duration: secs(1.0) }, 1).await;
}

#[tokio::test(start_paused = true)]
async fn ramping_vus_follow_the_stages() {
    let it = FakeIteration::new(secs(0.5));
    let c = counters();
    let spec = ExecutorSpec::RampingVus {
        start_vus: 0,
        stages: vec![stage(4.0, 4.0), stage(2.0, 4.0), stage(4.0, 0.0)],
        graceful_ramp_down: secs(0.0),
    };
    let p = plan(spec, secs(30.0));
    let sampler = {
        let counters = c.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..10 {
                advance(secs(0.0)).await;
                tokio::time::sleep(secs(0.25)).await;
                seen.push(counters.read().vus);
                tokio::time::sleep(secs(0.75)).await;
            }
            seen
        })
    };
    play(&p, it.clone(), &c).await;
    // Sampled at 0.25 s, 1.25 s, ... 9.25 s: up one VU a second to 4 s, hold to 6 s,
    // then down one VU at 7, 8, 9 and 10 s.
    assert_eq!(sampler.await.unwrap(), vec![0, 1, 2, 3, 4, 4, 4, 3, 2, 1]);
    assert_eq!(c.read().vus_max, 4);
    // VU k is active from k s until (11 - k) s, at two iterations a second.
    let by_vu = |id: u64| it.starts().iter().filter(|(_, vu)| *vu == id).count();
    assert_eq!(by_vu(1), 18, "VU 1: 1 s .. 10 s");
    assert_eq!(by_vu(4), 6, "VU 4: 4 s .. 7 s");
}

#[tokio::test(start_paused = true)]
async fn graceful_ramp_down_lets_iterations_finish() {
    let it = FakeIteration::new(secs(3.0));
    let c = counters();
    let spec = ExecutorSpec::RampingVus {
        start_vus: 2,
        stages: vec![stage(1.0, 1.0), stage(5.0, 1.0)],
        graceful_ramp_down: secs(5.0),
    };
    play(&plan(spec, secs(0.0)), it.clone(), &c).await;
    // VU 2 is ramped down at 1 s mid-iteration; with 5 s of grace its iteration completes.
    assert_eq!(it.starts().iter().filter(|(_, vu)| *vu == 2).count(), 1);
    let spec = ExecutorSpec::RampingVus {
        start_vus: 2,
        stages: vec![stage(1.0, 1.0), stage(5.0, 1.0)],
        graceful_ramp_down: secs(0.5),
    };
    let c2 = counters();
    play(&plan(spec, secs(0.0)), FakeIteration::new(secs(3.0)), &c2).await;
    assert_eq!(c.read().iterations - c2.read().iterations, 1, "with 0.5 s of grace VU 2's iteration is interrupted");
}

#[tokio::test(start_paused = true)]
async fn constant_arrival_rate_starts_on_schedule() {
    let it = FakeIteration::new(secs(0.05));
    let c = counters();
    let spec = per_second(10.0, 10.0, 2, 2);
    let took = play(&plan(spec, secs(30.0)), it.clone(), &c).await;
    assert_eq!(took, secs(9.95), "the pass ends with its last iteration, not at the hard stop");
    let starts = it.starts();
    assert_eq!(starts.len(), 100);
    assert!(starts.iter().enumerate().all(|(i, (at, _))| *at == secs(i as f64 * 0.1)), "iteration i at i x 100 ms");
    assert_eq!(c.read().dropped, 0);
    assert_eq!(c.read().iterations, 100);
}

#[tokio::test(start_paused = true)]
async fn arrival_rate_drops_when_every_vu_is_busy() {
    // 10/s, each iteration 0.95 s, at most 5 VUs: 5 start each second, 5 are dropped.
    let it = FakeIteration::new(secs(0.95));
    let c = counters();
    let spec = per_second(10.0, 10.0, 1, 5);
    play(&plan(spec, secs(30.0)), it.clone(), &c).await;
    assert_eq!(it.starts().len(), 50);
    assert_eq!(c.read().dropped, 50);
    assert_eq!(c.read().vus_max, 5, "VUs allocated up to max_vus as needed");
}

#[tokio::test(start_paused = true)]
async fn arrival_rate_does_not_wait_for_a_slow_iteration() {
    // A server that takes 10 s: the schedule keeps going at 2/s on other VUs.
    let it = FakeIteration::new(secs(10.0));
    let c = counters();
    let spec = per_second(2.0, 5.0, 20, 20);
    play(&plan(spec, secs(30.0)), it.clone(), &c).await;
    let at: Vec<Duration> = it.starts().iter().map(|(t, _)| *t).collect();
    assert_eq!(at, (0..10).map(|i| secs(i as f64 * 0.5)).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn ramping_arrival_rate_integrates_the_rate() {
    let it = FakeIteration::new(secs(0.01));
    let c = counters();
    let spec = ExecutorSpec::RampingArrivalRate {
        start_rate: 0.0,
        time_unit: secs(1.0),
        stages: vec![stage(10.0, 10.0), stage(5.0, 10.0)],
        pre_allocated_vus: 5,
        max_vus: 5,
    };
    play(&plan(spec, secs(30.0)), it.clone(), &c).await;
    let starts = it.starts();
    assert_eq!(starts.len(), 50 + 50, "ramp 0->10/s over 10 s, then 10/s for 5 s");
    let in_first_5s = starts.iter().filter(|(t, _)| *t < secs(5.0)).count();
    assert_eq!(in_first_5s, 13, "integral of the ramp over 5 s is 12.5: arrivals 0..=12");
}

#[tokio::test(start_paused = true)]
async fn per_vu_iterations_give_each_vu_its_count() {
    let it = FakeIteration::new(secs(1.0));
    let c = counters();
    let took = play(
        &plan(ExecutorSpec::PerVuIterations { vus: 4, iterations: 3, max_duration: secs(60.0) }, secs(30.0)),
        it.clone(),
        &c,
    )
    .await;
    for vu in 1..=4 {
        assert_eq!(it.starts().iter().filter(|(_, v)| *v == vu).count(), 3);
    }
    assert_eq!(took, secs(3.0), "the pass ends when every VU is done");
}

#[tokio::test(start_paused = true)]
async fn shared_iterations_split_one_budget() {
    let it = FakeIteration::new(secs(1.0));
    let c = counters();
    play(
        &plan(ExecutorSpec::SharedIterations { vus: 4, iterations: 10, max_duration: secs(60.0) }, secs(30.0)),
        it.clone(),
        &c,
    )
    .await;
    assert_eq!(it.starts().len(), 10);
    assert_eq!(c.read().iterations, 10);
}

#[tokio::test(start_paused = true)]
async fn max_duration_caps_iteration_executors() {
    let it = FakeIteration::new(secs(1.0));
    let c = counters();
    let took = play(
        &plan(ExecutorSpec::SharedIterations { vus: 1, iterations: 100, max_duration: secs(5.0) }, secs(0.0)),
        it.clone(),
        &c,
    )
    .await;
    assert_eq!(it.starts().len(), 5);
    assert_eq!(took, secs(5.0));
}

#[tokio::test(start_paused = true)]
async fn start_time_delays_the_pass() {
    let it = FakeIteration::new(secs(0.1));
    let c = counters();
    let mut p = plan(ExecutorSpec::SharedIterations { vus: 1, iterations: 1, max_duration: secs(5.0) }, secs(0.0));
    p.start_time = secs(7.0);
    play(&p, it.clone(), &c).await;
    assert_eq!(it.starts()[0].0, secs(7.0));
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_new_iterations_and_waits_for_running_ones() {
    let it = FakeIteration::new(secs(2.0));
    let c = counters();
    let stop = CancellationToken::new();
    let p = plan(ExecutorSpec::ConstantVus { vus: 2, duration: secs(100.0) }, secs(30.0));
    let canceller = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(secs(3.0)).await;
            stop.cancel();
        })
    };
    let start = Instant::now();
    run_pass(&p, it.clone(), &c, &VuThreads::on_calling_runtime(), &stop).await;
    canceller.await.unwrap();
    assert_eq!(start.elapsed(), secs(4.0), "the iterations started at 2 s finish at 4 s");
    assert_eq!(it.starts().len(), 4);
    assert_eq!(c.read().iterations, 4);
}

#[tokio::test(start_paused = true)]
async fn arrival_rate_iterations_are_interrupted_at_the_hard_stop() {
    // 2/s for 1 s: both iterations are cut.
    assert_cut_at_the_hard_stop(per_second(2.0, 1.0, 2, 2), 2).await;
}

#[tokio::test(start_paused = true)]
async fn cancelling_an_arrival_rate_pass_lets_running_iterations_finish_within_the_grace() {
    let it = FakeIteration::new(secs(2.0));
    let c = counters();
    let stop = CancellationToken::new();
    let spec = per_second(1.0, 100.0, 5, 5);
    let canceller = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(secs(2.5)).await;
            stop.cancel();
        })
    };
    let start = Instant::now();
    run_pass(&plan(spec, secs(30.0)), it.clone(), &c, &VuThreads::on_calling_runtime(), &stop).await;
    canceller.await.unwrap();
    assert_eq!(it.starts().len(), 3, "started at 0, 1 and 2 s");
    assert_eq!(start.elapsed(), secs(4.0), "the one started at 2 s finishes at 4 s");
    assert_eq!(c.read().iterations, 3);
}

#[tokio::test(start_paused = true)]
async fn an_aborted_arrival_rate_pass_leaves_no_iteration_running() {
    // What the daemon does when running iterations outlast a reload's grace: it aborts the pass's task.
    let it = FakeIteration::new(secs(10.0));
    let c = counters();
    let spec = per_second(1.0, 100.0, 5, 5);
    let (p, stop) = (plan(spec, secs(30.0)), CancellationToken::new());
    let threads = VuThreads::on_calling_runtime();
    let pass = tokio::time::timeout(secs(2.5), run_pass(&p, it.clone(), &c, &threads, &stop));
    assert!(pass.await.is_err(), "the pass was still running");
    assert_eq!(c.read().vus, 3, "started at 0, 1 and 2 s");
    tokio::task::yield_now().await;
    assert_eq!(c.read().vus, 0, "no VU is left busy");
    advance(secs(20.0)).await;
    assert_eq!((it.starts().len(), c.read().iterations), (3, 0), "nothing more started, nothing completed");
}
