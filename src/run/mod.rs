//! `sloprober run`: one pass of a profile, as a CI gate. Plays every selected
//! scenario's schedule once, shows progress, evaluates the thresholds on
//! exact statistics, prints a k6-style summary and writes reports.

mod progress;
mod report;
mod summary;
mod timeline;

pub use report::write_reports;
pub use summary::render_summary;
pub use timeline::{Timeline, TimelinePoint};

use crate::config::env::EnvVars;
use crate::config::{defaults, ConfigError, ConfigSource};
use crate::executor::run_pass;
use crate::metrics::ProberMetrics;
use crate::plan::{self, Plan};
use crate::request::ScenarioRunner;
use crate::slo::{evaluate, Verdict};
use crate::stats::{ExecutorTotals, Fanout, ScenarioStats, Snapshot};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How progress is shown while the run plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live line on a terminal, plain periodic lines otherwise (CI logs).
    Auto,
    Off,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub source: ConfigSource,
    /// None: `TEST_TYPE` was not set either; the default is `smoke`.
    pub profile: Option<String>,
    /// Scenario names; empty or `all` means every scenario.
    pub scenarios: Vec<String>,
    /// Serve /metrics while the run plays.
    pub listen: Option<SocketAddr>,
    /// With `listen`: hold the load until the first scrape, at most this long.
    pub await_first_scrape: Option<Duration>,
    pub progress: ProgressMode,
    pub env: EnvVars,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Runtime(String),
}

/// Everything a run found out; reports and the summary are made from it.
pub struct RunOutcome {
    pub plan: Plan,
    pub started_at: SystemTime,
    pub snapshot: Snapshot,
    /// One per threshold of the plan, same order.
    pub verdicts: Vec<Verdict>,
    /// The SLO whose `abort_on_fail` threshold stopped the run early.
    pub aborted_by: Option<String>,
    pub timeline: Timeline,
}

impl RunOutcome {
    pub fn passed(&self) -> bool {
        self.aborted_by.is_none() && self.verdicts.iter().all(|v| v.passed)
    }
}

/// How long running iterations may finish after an abort.
const ABORT_GRACE: Duration = Duration::from_secs(2);
/// How often the run samples its timeline and checks abort thresholds.
pub const TICK: Duration = Duration::from_secs(1);

/// Resolves the plan and keeps only the selected scenarios.
pub fn plan_for(options: &RunOptions) -> Result<Plan, ConfigError> {
    let profile = options.profile.clone().unwrap_or_else(|| defaults::RUN_PROFILE.to_string());
    let mut plan = plan::resolve(&options.source, Some(&profile), &options.env)?;
    plan::apply_shard(&mut plan, &options.env)?;
    let wanted: Vec<&String> = options.scenarios.iter().filter(|s| s.as_str() != "all").collect();
    if let Some(unknown) = wanted.iter().find(|w| !plan.scenarios.iter().any(|s| &&s.name == *w)) {
        let known: Vec<&str> = plan.scenarios.iter().map(|s| s.name.as_str()).collect();
        let mut problems = crate::config::Problems::default();
        problems
            .add("--scenario", format!("no scenario is named \"{unknown}\"; defined: {}, or all", known.join(", ")));
        return Err(problems.into_error(&plan.source));
    }
    if !wanted.is_empty() {
        plan.scenarios.retain(|s| wanted.contains(&&s.name));
        plan.thresholds.retain(|t| {
            t.tags.get(&crate::plan::Tag::Scenario).is_none_or(|v| plan.scenarios.iter().any(|s| &s.name == v))
        });
    }
    Ok(plan)
}

/// Plays the plan once and evaluates its thresholds.
pub async fn execute(plan: Plan, options: &RunOptions, metrics: Arc<ProberMetrics>) -> Result<RunOutcome, RunError> {
    let handles = metrics.for_plan(&plan).map_err(|e| RunError::Runtime(e.to_string()))?;
    let totals: Vec<Arc<ScenarioStats>> = plan.scenarios.iter().map(|s| Arc::new(ScenarioStats::new(s, 3))).collect();
    let intervals: Vec<Arc<ScenarioStats>> =
        plan.scenarios.iter().map(|s| Arc::new(ScenarioStats::new(s, 2))).collect();
    let stop = CancellationToken::new();
    let server_stop = CancellationToken::new();
    let endpoints = match options.listen {
        Some(addr) => Some(serve_metrics(addr, metrics.clone(), server_stop.clone()).await?),
        None => None,
    };
    if let (Some(endpoints), Some(limit)) = (&endpoints, options.await_first_scrape) {
        if endpoints.scrapes.count() == 0 && !endpoints.scrapes.next(limit).await {
            tracing::warn!(waited = ?limit, "no scrape came; starting the load anyway");
        }
    }
    crate::descriptors::make_room_for(plan.peak_vus());
    let started_at = SystemTime::now();
    let started = Instant::now();
    let mut scenarios = JoinSet::new();
    for (i, scenario) in plan.scenarios.iter().enumerate() {
        let sink = Arc::new(Fanout(vec![handles[i].clone(), totals[i].clone(), intervals[i].clone()]));
        let runner = Arc::new(ScenarioRunner::new(scenario, sink).map_err(|e| RunError::Runtime(e.to_string()))?);
        let (executor, counters, stop) = (scenario.executor.clone(), handles[i].executor.clone(), stop.clone());
        scenarios.spawn(async move { run_pass(&executor, runner, &counters, &stop).await });
    }
    tracing::info!(profile = %plan.profile, scenarios = plan.scenarios.len(), "run started");
    let planned = plan.scenarios.iter().map(|s| s.executor.planned_length()).max().unwrap_or_default();
    let mut progress = progress::Progress::new(options.progress, planned);
    let mut timeline = Timeline::new(&plan);
    let executor_totals = || -> Vec<ExecutorTotals> {
        plan.scenarios.iter().zip(&handles).map(|(s, h)| ExecutorTotals::read(&s.name, &h.executor)).collect()
    };
    let snapshot_now = |elapsed| Snapshot::capture(&plan, elapsed, executor_totals(), |s, r| totals[s].lock(r).clone());
    let mut aborted_by = None;
    let mut next_tick = started + TICK;
    while !scenarios.is_empty() {
        tokio::select! {
            _ = tokio::time::sleep_until(next_tick) => {}
            _ = scenarios.join_next() => continue,
        }
        next_tick += TICK;
        let elapsed = started.elapsed();
        let point = timeline.sample(elapsed, &intervals, &executor_totals());
        progress.tick(elapsed, &point);
        if let Some(slo) = failing_abort_threshold(&plan, elapsed, || snapshot_now(elapsed)) {
            tracing::warn!(slo = %slo, "threshold with abort_on_fail failed; stopping the run");
            aborted_by = Some(slo);
            stop.cancel();
            if tokio::time::timeout(ABORT_GRACE, async { while scenarios.join_next().await.is_some() {} })
                .await
                .is_err()
            {
                scenarios.abort_all();
            }
            break;
        }
    }
    let elapsed = started.elapsed();
    timeline.sample(elapsed, &intervals, &executor_totals());
    progress.finish(elapsed);
    if let Some(endpoints) = endpoints {
        await_final_scrape(&endpoints.scrapes).await;
    }
    server_stop.cancel();
    let snapshot = snapshot_now(elapsed);
    let verdicts = plan.thresholds.iter().map(|t| evaluate(t, &snapshot)).collect();
    Ok(RunOutcome { plan, started_at, snapshot, verdicts, aborted_by, timeline })
}

/// The SLO of the first `abort_on_fail` threshold failing now, past its `delay_abort_eval`.
fn failing_abort_threshold(plan: &Plan, elapsed: Duration, snapshot: impl FnOnce() -> Snapshot) -> Option<String> {
    let due: Vec<_> = plan
        .thresholds
        .iter()
        .filter(|t| t.abort_on_fail && elapsed >= t.delay_abort_eval.unwrap_or_default())
        .collect();
    if due.is_empty() {
        return None;
    }
    let snapshot = snapshot();
    due.into_iter().find(|t| !evaluate(t, &snapshot).passed).map(|t| t.slo.clone())
}

/// Longest wait for the scrape that carries a run's final counts.
const FINAL_SCRAPE_WAIT: Duration = Duration::from_secs(30);

/// When something scrapes the run, keeps /metrics up until it has scraped
/// the final counts once (at most two scrape intervals), so Prometheus sees
/// every request the run's verdict counts.
async fn await_final_scrape(scrapes: &crate::server::Scrapes) {
    if scrapes.count() == 0 {
        return;
    }
    let limit =
        scrapes.interval().map_or(FINAL_SCRAPE_WAIT, |i| (i * 2).clamp(Duration::from_secs(1), FINAL_SCRAPE_WAIT));
    if !scrapes.next(limit).await {
        tracing::warn!(waited = ?limit, "no scrape came after the run ended; Prometheus lacks its last seconds");
    }
}

/// Serves /metrics (and /health) during the run; reloads are refused.
async fn serve_metrics(
    addr: SocketAddr,
    metrics: Arc<ProberMetrics>,
    stop: CancellationToken,
) -> Result<Arc<crate::server::Endpoints>, RunError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| RunError::Runtime(format!("cannot listen on {addr}: {e}")))?;
    let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel::<crate::server::ReloadRequest>(1);
    tokio::spawn(async move {
        while let Some(reply) = reload_rx.recv().await {
            let _ = reply.send(Err("a one-shot run does not reload its config".to_string()));
        }
    });
    let endpoints = Arc::new(crate::server::Endpoints {
        metrics,
        ready: true.into(),
        reload: reload_tx,
        scrapes: Default::default(),
    });
    let serving = endpoints.clone();
    tokio::spawn(crate::http_server::serve(
        listener,
        move |request| serving.clone().handle(request),
        async move { stop.cancelled().await },
        Duration::from_secs(1),
    ));
    Ok(endpoints)
}

/// Where reports go: `<out>/<YYYYmmdd_HHMMSS>`, as the k6 suite laid them out.
pub fn report_dir(out: &std::path::Path, started_at: SystemTime) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(started_at).to_string();
    let stamp: String =
        stamp.trim_end_matches('Z').replace('T', "_").chars().filter(|c| *c != '-' && *c != ':').collect();
    let mut dir = out.join(&stamp);
    let mut n = 2;
    while dir.exists() {
        dir = out.join(format!("{stamp}-{n}"));
        n += 1;
    }
    dir
}
