//! The always-on prober: loads the config, keeps every scenario's load
//! going, serves metrics, reloads on SIGHUP or `POST /-/reload`, and shuts
//! down gracefully.

mod live;

use crate::config::ConfigSource;
use crate::engine::{self, Load, Passes, StartError};
use crate::executor::VuThreads;
use crate::metrics::ProberMetrics;
use crate::model::env::EnvVars;
use crate::model::problems::ConfigError;
use crate::plan::{self, Plan, Selection};
use crate::server::{self, ReloadRequest};
use crate::stats::SlidingWindow;
use crate::status::{Mode, RecentFailures, StatusBoard};
use live::LiveSlos;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How to start the daemon.
#[derive(Clone)]
pub struct DaemonOptions {
    pub source: ConfigSource,
    /// None: the config's `daemon.profile`.
    pub profile: Option<String>,
    /// Overrides `metrics.listen`.
    pub listen: Option<SocketAddr>,
    pub env: EnvVars,
    pub vu_threads: VuThreads,
    /// `POST /-/reload` reloads the config (`--web.enable-lifecycle`); SIGHUP always does.
    pub http_reload: bool,
    /// TLS, basic auth and the connection limit of the endpoints.
    pub web: server::Web,
    /// The `testid` label of pushed metrics, if any.
    pub run_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Listen(#[from] server::ListenError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
}

/// Why a reload was refused; the previous config keeps running.
#[derive(Debug, thiserror::Error)]
enum ReloadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Start(#[from] StartError),
}

impl DaemonOptions {
    /// Reads the config and resolves the plan; called at start and on every reload.
    pub fn plan(&self) -> Result<Plan, ConfigError> {
        let selection = Selection { profile: self.profile.clone(), ..Default::default() };
        let mut plan = plan::load(&self.source.load()?, &selection, &self.env)?;
        if let Some(listen) = self.listen {
            plan.listen = listen;
        }
        Ok(plan)
    }
}

/// Binds the metrics address; separate so tests and `demo` can bind port 0 and learn the port.
pub async fn bind(plan: &Plan) -> Result<TcpListener, DaemonError> {
    Ok(server::bind(plan.listen).await?)
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
    let listen = listener.local_addr().unwrap_or(plan.listen);
    // Every series exists before the first scrape can happen.
    let board = StatusBoard::new(Mode::Daemon);
    let mut generation = Generation::start(&plan, &metrics, &board, &options.vu_threads)?;
    metrics.record_reload(true);
    let http_reload =
        if options.http_reload { server::HttpReload::Enabled(reload_tx.clone()) } else { server::HttpReload::Disabled };
    // Kept so the reload channel stays open whether or not HTTP may use it.
    let _reload_tx = reload_tx;
    let server =
        server::start(listener, metrics.clone(), board.clone(), http_reload, Duration::from_secs(5), &options.web);
    server.set_ready(true);
    let trimming = tokio::spawn(crate::sys::memory::release_freed_memory_periodically());
    tracing::info!(
        config = %plan.source,
        profile = %plan.profile,
        scenarios = plan.scenarios.len(),
        %listen,
        "sloprober daemon started"
    );
    let mut writer = start_remote_write(&plan, &options, &metrics);
    let mut current = plan;
    let mut hangups = hangup_signals();
    tokio::pin!(shutdown);
    loop {
        let reply = tokio::select! {
            _ = &mut shutdown => break,
            Some(reply) = reload_rx.recv() => Some(reply),
            Some(()) = hangups.recv() => None,
        };
        let outcome = reload(&options, &current, &metrics, &board).map(|(plan, next)| {
            let previous = std::mem::replace(&mut generation, next);
            tokio::spawn(previous.stop(current.daemon.shutdown_grace));
            if plan.remote_write != current.remote_write || plan.profile != current.profile {
                if let Some(old) = writer.take() {
                    tokio::spawn(async move { old.finish(REMOTE_WRITE_FLUSH).await.log() });
                }
                writer = start_remote_write(&plan, &options, &metrics);
            }
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
            let _ = reply.send(outcome.map_err(|e| e.to_string()));
        }
    }
    server.set_ready(false);
    tracing::info!(grace = ?current.daemon.shutdown_grace, "shutting down: no new iterations, waiting for running ones");
    generation.stop(current.daemon.shutdown_grace).await;
    if let Some(writer) = writer {
        writer.finish(REMOTE_WRITE_FLUSH).await.log();
    }
    server.stop().await;
    trimming.abort();
    tracing::info!("sloprober daemon stopped");
    Ok(())
}

/// How long a stopping daemon waits for the remote-write receiver to take the last values.
const REMOTE_WRITE_FLUSH: Duration = Duration::from_secs(10);

/// Pushes the metrics where the plan says, labelled with the profile, the
/// instance, the shard and `--run-id`'s `testid` when given.
fn start_remote_write(
    plan: &Plan,
    options: &DaemonOptions,
    metrics: &Arc<ProberMetrics>,
) -> Option<crate::remote_write::RemoteWriter> {
    let rw = plan.remote_write.as_ref()?;
    let mut labels = crate::result::run_labels(plan, options.run_id.as_deref().unwrap_or_default(), &options.env);
    if options.run_id.is_none() {
        labels.retain(|(name, _)| name != "testid");
    }
    tracing::info!(receiver = %rw.receiver(), every = ?rw.interval, "pushing metrics by remote write");
    Some(crate::remote_write::RemoteWriter::start(rw.clone(), metrics.clone(), labels))
}

fn reload(
    options: &DaemonOptions,
    current: &Plan,
    metrics: &Arc<ProberMetrics>,
    board: &Arc<StatusBoard>,
) -> Result<(Plan, Generation), ReloadError> {
    let plan = options.plan()?;
    if plan.listen != current.listen {
        tracing::warn!(new = %plan.listen, current = %current.listen, "metrics.listen changed; it takes effect at the next restart");
    }
    let generation = Generation::start(&plan, metrics, board, &options.vu_threads)?;
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

/// The load of one config, its live SLO verdicts and what the status page
/// shows of it, stopped together.
struct Generation {
    load: Load,
    live: JoinHandle<()>,
    stop_live: CancellationToken,
}

impl Generation {
    fn start(
        plan: &Plan,
        metrics: &Arc<ProberMetrics>,
        board: &Arc<StatusBoard>,
        threads: &VuThreads,
    ) -> Result<Generation, StartError> {
        let window = SlidingWindow::new(plan, plan.daemon.slo_window);
        let failures = RecentFailures::new(plan);
        let load = engine::prepare(plan, metrics, threads, |s| vec![window.sink(s), failures.sink(s)])?
            .start(Passes::Forever(plan.daemon.on_end));
        let plan = Arc::new(plan.clone());
        board.begin(plan.clone(), failures, LiveSlos::step(&window));
        let live =
            LiveSlos { plan, window, executors: load.counters(), metrics: metrics.clone(), board: board.clone() };
        let stop_live = CancellationToken::new();
        let live = tokio::spawn(live.run(stop_live.clone()));
        Ok(Generation { load, live, stop_live })
    }

    /// Stops starting iterations, waits up to `grace` for running ones, then aborts the rest.
    async fn stop(mut self, grace: Duration) {
        self.stop_live.cancel();
        self.load.stop(grace).await;
        let _ = self.live.await;
    }
}
