//! `sloprober run`: one pass of a profile, as a CI gate. Plays every selected
//! scenario's schedule once, shows progress, evaluates the thresholds on
//! exact statistics, prints a k6-style summary and writes reports.

mod progress;

use crate::config::Loaded;
use crate::engine::{self, Passes, StartError};
use crate::executor::VuThreads;
use crate::metrics::ProberMetrics;
use crate::model::defaults;
use crate::model::env::EnvVars;
use crate::model::problems::ConfigError;
use crate::plan::{self, Plan, Selection};
use crate::remote_write::RemoteWriter;
use crate::report::{RunOutcome, Timeline};
use crate::request::SetupFailed;
use crate::result::run_labels;
use crate::server::{self, ListenError};
use crate::slo::{evaluate, Verdict};
use crate::stats::{ScenarioStats, Snapshot};
use crate::status::{self, RecentFailures, StatusBoard};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// How progress is shown while the run plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live line on a terminal, plain periodic lines otherwise (CI logs).
    Auto,
    Off,
}

#[derive(Clone)]
pub struct RunOptions {
    /// The config, read once.
    pub config: Loaded,
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
    pub vu_threads: VuThreads,
    /// With `listen`: TLS, basic auth and the connection limit of the endpoints.
    pub web: server::Web,
    /// The run's identifier (the `testid` label of pushed metrics); None: one is made up.
    pub run_id: Option<String>,
    /// k6's `--vus`, `--duration`, `--iterations`.
    pub shortcuts: crate::executor::Shortcuts,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(transparent)]
    Start(#[from] StartError),
    /// A setup failed: nothing was sent past it (exit 107, as k6).
    #[error(transparent)]
    Setup(#[from] SetupFailed),
}

/// How long running iterations may finish after an abort.
const ABORT_GRACE: Duration = Duration::from_secs(2);
/// How often the run samples its timeline and checks abort thresholds.
const TICK: Duration = crate::report::timeline::INTERVAL;

/// The plan a run plays: the selected profile (default `smoke`) and scenarios.
pub fn plan_for(options: &RunOptions) -> Result<Plan, ConfigError> {
    let profile = options.profile.clone().unwrap_or_else(|| defaults::RUN_PROFILE.to_string());
    plan::load(
        &options.config,
        &Selection { profile: Some(profile), scenarios: options.scenarios.clone(), shortcuts: options.shortcuts },
        &options.env,
    )
}

/// Plays the plan once and evaluates its thresholds.
pub async fn execute(plan: Plan, options: &RunOptions, metrics: Arc<ProberMetrics>) -> Result<RunOutcome, RunError> {
    // The summary lists the phases, as k6's does; the progress ticks do not.
    let totals: Vec<Arc<ScenarioStats>> =
        plan.scenarios.iter().map(|s| Arc::new(ScenarioStats::new(s, 3, true))).collect();
    let intervals: Vec<Arc<ScenarioStats>> =
        plan.scenarios.iter().map(|s| Arc::new(ScenarioStats::new(s, 2, false))).collect();
    // With `--listen`, the status page shows the run so far and each request's last failures.
    let board = StatusBoard::new(status::Mode::Run);
    let shown = options.listen.map(|_| (Arc::new(plan.clone()), RecentFailures::new(&plan)));
    let prepared = engine::prepare(&plan, &metrics, &options.vu_threads, |i| {
        let mut sinks = vec![totals[i].clone() as Arc<dyn crate::model::sample::SampleSink>, intervals[i].clone()];
        sinks.extend(shown.as_ref().map(|(_, failures)| failures.sink(i)));
        sinks
    })?;
    if let Some((shown, failures)) = &shown {
        board.begin(shown.clone(), failures.clone(), TICK);
    }
    let server = match options.listen {
        Some(addr) => {
            let listener = server::bind(addr).await?;
            tracing::info!(listen = %listener.local_addr().unwrap_or(addr), "serving /metrics while the run plays");
            let server = server::start(
                listener,
                metrics.clone(),
                board.clone(),
                server::HttpReload::OneShot,
                Duration::from_secs(1),
                &options.web,
            );
            server.set_ready(true);
            Some(server)
        }
        None => None,
    };
    if let (Some(server), Some(limit)) = (&server, options.await_first_scrape) {
        if server.scrapes().count() == 0 && !server.scrapes().next(limit).await {
            tracing::warn!(waited = ?limit, "no scrape came; starting the load anyway");
        }
    }
    // As k6's setup(): once, before any VU; when it fails no load is made.
    if let Err(failed) = prepared.setup().await {
        if let Some(server) = server {
            server.stop().await;
        }
        return Err(RunError::Setup(failed));
    }
    let started_at = SystemTime::now();
    let run_id = options.run_id.clone().unwrap_or_else(|| new_run_id(started_at));
    let writer = plan.remote_write.as_ref().map(|rw| {
        tracing::info!(receiver = %rw.receiver(), testid = %run_id, every = ?rw.interval, "pushing metrics by remote write");
        RemoteWriter::start(rw.clone(), metrics.clone(), run_labels(&plan, &run_id, &options.env))
    });
    let started = Instant::now();
    let mut load = prepared.start(Passes::Once);
    tracing::info!(profile = %plan.profile, scenarios = plan.scenarios.len(), "run started");
    let planned = plan.scenarios.iter().map(|s| s.executor.planned_length()).max().unwrap_or_default();
    let mut progress = progress::Progress::new(options.progress, planned);
    let mut timeline = Timeline::new(&plan);
    let snapshot_now = |elapsed, load: &engine::Load| {
        Snapshot::capture(
            &plan,
            elapsed,
            load.executor_totals(),
            |s, r| totals[s].lock(r).clone(),
            |s, i| totals[s].span(i).clone(),
            |s| totals[s].phases(),
        )
    };
    let mut aborted_by = None;
    let mut next_tick = started + TICK;
    while !load.is_finished() {
        tokio::select! {
            _ = tokio::time::sleep_until(next_tick) => {}
            _ = load.finished() => continue,
        }
        next_tick += TICK;
        let elapsed = started.elapsed();
        let point = timeline.sample(elapsed, &intervals, &load.executor_totals());
        progress.tick(elapsed, &point);
        if let Some((shown, _)) = &shown {
            let snapshot = snapshot_now(elapsed, &load);
            board.publish(shown, &snapshot, &status::board::verdicts(&plan, &snapshot));
        }
        if let Some(slo) = failing_abort_threshold(&plan, elapsed, || snapshot_now(elapsed, &load)) {
            tracing::warn!(slo = %slo, "threshold with abort_on_fail failed; stopping the run");
            aborted_by = Some(slo);
            load.stop(ABORT_GRACE).await;
            break;
        }
    }
    let elapsed = started.elapsed();
    let snapshot = snapshot_now(elapsed, &load);
    timeline.sample(elapsed, &intervals, &snapshot.executors);
    progress.finish(elapsed);
    let verdicts: Vec<Verdict> = plan.thresholds.iter().map(|t| evaluate(t, &snapshot)).collect();
    // The final scrape and push carry the run's verdicts too (the trends dashboard lists them).
    for (threshold, verdict) in plan.thresholds.iter().zip(&verdicts) {
        metrics.publish_verdict(threshold, verdict);
    }
    if let Some((shown, _)) = &shown {
        board.publish(shown, &snapshot, &verdicts);
    }
    if let Some(writer) = writer {
        writer.finish(REMOTE_WRITE_FLUSH).await.log();
    }
    if let Some(server) = server {
        await_final_scrape(server.scrapes()).await;
        server.stop().await;
    }
    Ok(RunOutcome { plan, started_at, snapshot, verdicts, aborted_by, timeline, shards: 1, run_id })
}

/// How long the end of a run waits for the remote-write receiver to take the final counts.
const REMOTE_WRITE_FLUSH: Duration = Duration::from_secs(15);

/// `20261204T193512Z-3fa9`: when the run started, and 4 random hex digits.
fn new_run_id(started_at: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(started_at).to_string().replace(['-', ':'], "");
    format!("{stamp}-{:04x}", rand::random::<u16>())
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
async fn await_final_scrape(scrapes: &server::Scrapes) {
    if scrapes.count() == 0 {
        return;
    }
    let limit =
        scrapes.interval().map_or(FINAL_SCRAPE_WAIT, |i| (i * 2).clamp(Duration::from_secs(1), FINAL_SCRAPE_WAIT));
    if !scrapes.next(limit).await {
        tracing::warn!(waited = ?limit, "no scrape came after the run ended; Prometheus lacks its last seconds");
    }
}
