//! The always-on prober: loads the config, keeps every scenario's load
//! going, serves metrics, reloads on SIGHUP or `POST /-/reload`, and shuts
//! down gracefully.

use crate::config::env::EnvVars;
use crate::config::{ConfigError, ConfigSource, OnEnd};
use crate::executor::run_pass;
use crate::metrics::ProberMetrics;
use crate::plan::{self, Plan};
use crate::request::ScenarioRunner;
use crate::server::{Endpoints, ReloadRequest};
use crate::slo::LiveSlos;
use crate::stats::{Fanout, SlidingWindow};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How to start the daemon.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub source: ConfigSource,
    /// None: the config's `daemon.profile`.
    pub profile: Option<String>,
    /// Overrides `metrics.listen`.
    pub listen: Option<SocketAddr>,
    pub env: EnvVars,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Start(String),
}

impl DaemonOptions {
    /// Reads the config and resolves the plan; called at start and on every reload.
    pub fn plan(&self) -> Result<Plan, ConfigError> {
        let mut plan = plan::resolve(&self.source, self.profile.as_deref(), &self.env)?;
        plan::apply_shard(&mut plan, &self.env)?;
        if let Some(listen) = self.listen {
            plan.listen = listen;
        }
        Ok(plan)
    }
}

/// Binds the metrics address; separate so tests and `demo` can bind port 0 and learn the port.
pub async fn bind(plan: &Plan) -> Result<TcpListener, DaemonError> {
    TcpListener::bind(plan.listen).await.map_err(|source| DaemonError::Listen { addr: plan.listen, source })
}

/// A fresh set of metrics in its own registry.
pub fn new_metrics() -> Result<Arc<ProberMetrics>, DaemonError> {
    ProberMetrics::new(prometheus::Registry::new()).map(Arc::new).map_err(|e| DaemonError::Start(e.to_string()))
}

/// Runs until `shutdown` resolves. `metrics` stay readable by the caller after return.
pub async fn run(
    options: DaemonOptions,
    listener: TcpListener,
    plan: Plan,
    metrics: Arc<ProberMetrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(4);
    let endpoints = Arc::new(Endpoints {
        metrics: metrics.clone(),
        ready: false.into(),
        reload: reload_tx,
        scrapes: Default::default(),
    });
    // Every series exists before the first scrape can happen.
    let mut generation = Generation::start(&plan, &metrics).map_err(DaemonError::Start)?;
    metrics.record_reload(true);
    let server_stop = CancellationToken::new();
    let server = {
        let endpoints = endpoints.clone();
        let stop = server_stop.clone();
        tokio::spawn(crate::http_server::serve(
            listener,
            move |request| endpoints.clone().handle(request),
            async move { stop.cancelled().await },
            Duration::from_secs(5),
        ))
    };
    endpoints.ready.store(true, Ordering::Release);
    let trimming = tokio::spawn(release_freed_memory_periodically());
    tracing::info!(
        config = %plan.source,
        profile = %plan.profile,
        scenarios = plan.scenarios.len(),
        listen = %plan.listen,
        "sloprober daemon started"
    );
    let mut current = plan;
    let mut hangups = hangup_signals();
    tokio::pin!(shutdown);
    loop {
        let reply = tokio::select! {
            _ = &mut shutdown => break,
            Some(reply) = reload_rx.recv() => Some(reply),
            Some(()) = hangups.recv() => None,
        };
        let outcome = reload(&options, &current, &metrics).map(|(plan, next)| {
            let previous = std::mem::replace(&mut generation, next);
            tokio::spawn(previous.stop(current.daemon.shutdown_grace));
            current = plan;
        });
        metrics.record_reload(outcome.is_ok());
        match &outcome {
            Ok(()) => {
                tracing::info!(profile = %current.profile, scenarios = current.scenarios.len(), "config reloaded")
            }
            Err(problems) => tracing::warn!(%problems, "config reload rejected; the previous config keeps running"),
        }
        if let Some(reply) = reply {
            let _ = reply.send(outcome);
        }
    }
    endpoints.ready.store(false, Ordering::Release);
    tracing::info!(grace = ?current.daemon.shutdown_grace, "shutting down: no new iterations, waiting for running ones");
    generation.stop(current.daemon.shutdown_grace).await;
    server_stop.cancel();
    let _ = server.await;
    trimming.abort();
    tracing::info!("sloprober daemon stopped");
    Ok(())
}

/// How often freed memory is handed back to the OS.
const TRIM_EVERY: Duration = Duration::from_secs(30);

/// glibc keeps the heap pages a burst freed (a stalled target makes hundreds
/// of requests pile up, each with its connection's buffers), so without this
/// a daemon's RSS would stay at its highest point ever instead of following
/// what it uses.
async fn release_freed_memory_periodically() {
    let mut every = tokio::time::interval(TRIM_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        release_freed_memory();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_freed_memory() {
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_freed_memory() {}

fn reload(options: &DaemonOptions, current: &Plan, metrics: &Arc<ProberMetrics>) -> Result<(Plan, Generation), String> {
    let plan = options.plan().map_err(|e| e.to_string())?;
    if plan.listen != current.listen {
        tracing::warn!(new = %plan.listen, current = %current.listen, "metrics.listen changed; it takes effect at the next restart");
    }
    let generation = Generation::start(&plan, metrics)?;
    Ok((plan, generation))
}

/// SIGHUP as a stream of reload requests (none on platforms without it).
fn hangup_signals() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(1);
    #[cfg(unix)]
    if let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                if tx.send(()).await.is_err() {
                    break;
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}

/// The load of one config: one task per scenario, stopped together.
struct Generation {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

/// A schedule that ends this quickly is followed by a pause, so a tiny
/// iteration budget against a dead target cannot spin a core.
const MIN_PASS: Duration = Duration::from_secs(1);

impl Generation {
    fn start(plan: &Plan, metrics: &Arc<ProberMetrics>) -> Result<Generation, String> {
        let handles = metrics.for_plan(plan).map_err(|e| e.to_string())?;
        let window = SlidingWindow::new(plan, plan.daemon.slo_window);
        crate::descriptors::make_room_for(plan.peak_vus());
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for (index, (scenario, handles)) in plan.scenarios.iter().zip(&handles).enumerate() {
            let sink = Arc::new(Fanout(vec![handles.clone(), window.sink(index)]));
            let runner = Arc::new(ScenarioRunner::new(scenario, sink).map_err(|e| e.to_string())?);
            let executor = match plan.daemon.on_end {
                OnEnd::Hold => scenario.executor.held(),
                OnEnd::Repeat => scenario.executor.clone(),
            };
            tracing::info!(scenario = %scenario.name, executor = %scenario.executor.describe(), "scenario started");
            let stop = stop.clone();
            let name = scenario.name.clone();
            let counters = handles.executor.clone();
            tasks.spawn(async move {
                loop {
                    let started = tokio::time::Instant::now();
                    run_pass(&executor, runner.clone(), &counters, &stop).await;
                    if stop.is_cancelled() {
                        break;
                    }
                    tracing::debug!(scenario = %name, "schedule finished; starting it again");
                    tokio::select! {
                        _ = tokio::time::sleep_until(started + MIN_PASS) => {}
                        _ = stop.cancelled() => break,
                    }
                }
            });
        }
        let live = LiveSlos {
            plan: Arc::new(plan.clone()),
            window,
            executors: handles.iter().map(|h| h.executor.clone()).collect(),
            metrics: metrics.clone(),
        };
        tasks.spawn(live.run(stop.clone()));
        Ok(Generation { stop, tasks })
    }

    /// Stops starting iterations, waits up to `grace` for running ones, then aborts the rest.
    async fn stop(mut self, grace: Duration) {
        self.stop.cancel();
        let drained = tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(?grace, "iterations still running after the shutdown grace; interrupting them");
            self.tasks.abort_all();
        }
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod trim_tests {
    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn heap_pages_freed_after_a_burst_go_back_to_the_os() {
        // 100 MiB in small blocks, all freed but the last, which pins the heap's top.
        let mut blocks: Vec<Box<[u8; 1024]>> = (0..100 * 1024).map(|_| Box::new([1u8; 1024])).collect();
        let last = blocks.pop();
        drop(blocks);
        let before = rss_kib();
        super::release_freed_memory();
        let after = rss_kib();
        drop(last);
        assert!(before - after.min(before) > 50 * 1024, "RSS {before} KiB before the trim, {after} KiB after");
    }
}
