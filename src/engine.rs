//! The one way a plan's load starts, for `run` and the daemon alike: each
//! scenario's executor drives its request runner on the process's VU
//! threads, and every sample goes to Prometheus and to the caller's own
//! statistics. [`prepare`] does all that can fail and makes every series
//! exist; [`Prepared::start`] sets the load going; [`Load`] stops it.

use crate::executor::OnEnd;
use crate::executor::{run_pass, ExecutorCounters, VuThreads};
use crate::metrics::{MetricsError, ProberMetrics};
use crate::model::sample::SampleSink;
use crate::plan::Plan;
use crate::request::{RunnerError, ScenarioRunner, SetupFailed};
use crate::stats::{ExecutorTotals, Fanout};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Runner(#[from] RunnerError),
}

/// How often each scenario's schedule is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passes {
    /// Once (a run).
    Once,
    /// Until stopped (the daemon): `on_end` says what follows a schedule's end.
    Forever(OnEnd),
}

/// A schedule that ends this quickly is followed by a pause, so a tiny
/// iteration budget against a dead target cannot spin a core.
const MIN_PASS: Duration = Duration::from_secs(1);

/// A plan's load, ready to start.
pub struct Prepared {
    scenarios: Vec<ReadyScenario>,
    threads: VuThreads,
    peak_vus: u64,
}

struct ReadyScenario {
    name: String,
    executor: crate::executor::ExecutorPlan,
    runner: Arc<ScenarioRunner>,
    counters: Arc<ExecutorCounters>,
}

/// Builds every scenario's runner, recording into its Prometheus handles and
/// into `sinks(i)` for scenario `i`; from now on every series of the plan exists.
pub fn prepare(
    plan: &Plan,
    metrics: &ProberMetrics,
    threads: &VuThreads,
    mut sinks: impl FnMut(usize) -> Vec<Arc<dyn SampleSink>>,
) -> Result<Prepared, StartError> {
    let counters: Vec<Arc<ExecutorCounters>> = plan.scenarios.iter().map(|_| ExecutorCounters::new()).collect();
    let handles = metrics.for_plan(plan, &counters)?;
    let mut scenarios = Vec::with_capacity(plan.scenarios.len());
    for (index, ((scenario, handles), counters)) in plan.scenarios.iter().zip(handles).zip(counters).enumerate() {
        let mut fed: Vec<Arc<dyn SampleSink>> = vec![handles];
        fed.extend(sinks(index));
        let runner = Arc::new(ScenarioRunner::new(scenario, Arc::new(Fanout(fed)))?);
        scenarios.push(ReadyScenario {
            name: scenario.name.clone(),
            executor: scenario.executor.clone(),
            runner,
            counters,
        });
    }
    Ok(Prepared { scenarios, threads: threads.clone(), peak_vus: plan.peak_vus() })
}

/// How long the daemon waits before trying a failed setup again, unless the setup says `every`.
const SETUP_RETRY: Duration = Duration::from_secs(10);

/// Runs `runner`'s setup until it passes (true), or until `stop` (false).
async fn setup_passes(runner: &ScenarioRunner, stop: &CancellationToken) -> bool {
    loop {
        let failed = match runner.run_setup().await {
            Ok(()) => return true,
            Err(failed) => failed,
        };
        let retry = runner.setup_every().unwrap_or(SETUP_RETRY);
        tracing::warn!(%failed, ?retry, "setup failed: none of this scenario's load until it passes");
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = stop.cancelled() => return false,
        }
    }
}

impl Prepared {
    /// Runs every scenario's setup once, in order, before any load (as k6's
    /// `setup()`); the first that fails stops the others, and a run with it.
    pub async fn setup(&self) -> Result<(), SetupFailed> {
        for scenario in &self.scenarios {
            scenario.runner.run_setup().instrument(scenario.runner.span().clone()).await?;
        }
        Ok(())
    }

    /// Starts every scenario: once (a run, after [`Prepared::setup`]), or for ever.
    pub fn start(self, passes: Passes) -> Load {
        crate::sys::descriptors::make_room_for(self.peak_vus);
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut scenarios = Vec::with_capacity(self.scenarios.len());
        for scenario in self.scenarios {
            let executor = match passes {
                Passes::Forever(OnEnd::Hold) => scenario.executor.held(),
                Passes::Once | Passes::Forever(OnEnd::Repeat) => scenario.executor.clone(),
            };
            let span = scenario.runner.span().clone();
            if let Passes::Forever(on_end) = passes {
                let executor = scenario.executor.describe_forever(on_end);
                span.in_scope(|| tracing::info!(%executor, "scenario started"));
            }
            let (runner, counters, threads, stop) =
                (scenario.runner, scenario.counters.clone(), self.threads.clone(), stop.clone());
            tasks.spawn(
                async move {
                    // A run's setups ran before its load (`Prepared::setup`); a daemon
                    // generation makes none of a scenario's load until its setup has
                    // passed, then runs it again on its interval.
                    if passes != Passes::Once && !setup_passes(&runner, &stop).await {
                        return;
                    }
                    let refresh = async {
                        match (passes, runner.setup_every()) {
                            (Passes::Forever(_), Some(every)) => loop {
                                tokio::select! {
                                    _ = tokio::time::sleep(every) => {
                                        if let Err(failed) = runner.run_setup().await {
                                            tracing::warn!(%failed, "setup failed again; the load goes on with the values it had");
                                        }
                                    }
                                    _ = stop.cancelled() => std::future::pending::<()>().await,
                                }
                            },
                            _ => std::future::pending::<()>().await,
                        }
                    };
                    let load = async {
                        loop {
                            let started = tokio::time::Instant::now();
                            run_pass(&executor, runner.clone(), &counters, &threads, &stop).await;
                            if passes == Passes::Once || stop.is_cancelled() {
                                break;
                            }
                            tracing::debug!("schedule finished; starting it again");
                            tokio::select! {
                                _ = tokio::time::sleep_until(started + MIN_PASS) => {}
                                _ = stop.cancelled() => break,
                            }
                        }
                    };
                    tokio::select! {
                        () = load => {}
                        () = refresh => {}
                    }
                    if passes == Passes::Once {
                        runner.run_teardown().await;
                    }
                }
                .instrument(span),
            );
            scenarios.push((scenario.name, scenario.counters));
        }
        Load { stop, tasks, scenarios }
    }
}

/// A running load.
pub struct Load {
    stop: CancellationToken,
    tasks: JoinSet<()>,
    /// (name, executor counters) per scenario of the plan, same order.
    scenarios: Vec<(String, Arc<ExecutorCounters>)>,
}

impl Load {
    /// Each scenario's executor counters, in the plan's order.
    pub fn counters(&self) -> Vec<Arc<ExecutorCounters>> {
        self.scenarios.iter().map(|(_, c)| c.clone()).collect()
    }

    /// What each scenario's executor has counted so far, in the plan's order.
    pub fn executor_totals(&self) -> Vec<ExecutorTotals> {
        self.scenarios.iter().map(|(name, counters)| ExecutorTotals::read(name, counters)).collect()
    }

    /// Resolves once every scenario has played its schedule (never, for
    /// [`Passes::Forever`]). Safe to cancel and call again.
    pub async fn finished(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    pub fn is_finished(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Starts no more iterations (running ones get their `graceful_stop`),
    /// waits up to `grace` for them, then interrupts the rest.
    pub async fn stop(&mut self, grace: Duration) {
        self.stop.cancel();
        if tokio::time::timeout(grace, self.finished()).await.is_err() {
            tracing::warn!(?grace, "iterations still running after the shutdown grace; interrupting them");
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}
