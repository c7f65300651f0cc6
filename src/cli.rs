//! Command-line interface: one binary, one subcommand per run mode.

use crate::config::env::{process_env, vu_thread_count, EnvVars};
use crate::config::{defaults, ConfigError, ConfigSource};
use crate::daemon::{self, DaemonError, DaemonOptions};
use crate::demo_target::{DemoTarget, FaultPatch, Faults};
use crate::executor::VuThreads;
use crate::metrics::ProberMetrics;
use crate::run;
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Exit codes a script can rely on.
pub mod exit {
    pub const OK: u8 = 0;
    /// Something failed at run time (port in use, ...).
    pub const RUNTIME: u8 = 1;
    /// The config (or a flag) is invalid: sysexits' EX_USAGE.
    pub const CONFIG: u8 = 64;
    /// A threshold failed (k6's code).
    pub const THRESHOLDS_FAILED: u8 = 99;
}

/// The AIVO config, compiled in for `sloprober demo`.
pub const AIVO_CONFIG: &str = include_str!("../config/aivo.yaml");

#[derive(Debug, Parser)]
#[command(
    name = "sloprober",
    version,
    about = "Synthetic load and SLO prober for HTTP services, with exact Prometheus SLIs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `sloprober=debug`.
    #[arg(long, global = true, env = "SLOPROBER_LOG", default_value = "info")]
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Keep the configured load going and serve /metrics (reload: SIGHUP or POST /-/reload).
    Daemon(DaemonArgs),
    /// Play a profile once (CI gate): summary, reports, exit 99 when a threshold fails.
    Run(RunArgs),
    /// Validate a config and print the resolved plan.
    Check(CheckArgs),
    /// Write Prometheus rules, promtool tests and Grafana dashboards for a config.
    Render(RenderArgs),
    /// Start the demo target and the daemon against it with the embedded config/aivo.yaml.
    Demo(DemoArgs),
    /// Serve stand-ins for the AIVO gateway, assessment and search services.
    DemoTarget(DemoTargetArgs),
}

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Config file (YAML).
    #[arg(long, env = "SLOPROBER_CONFIG")]
    pub config: PathBuf,
    /// Profile to play (default: the config's daemon.profile, "continuous").
    #[arg(long, env = "TEST_TYPE")]
    pub profile: Option<String>,
    /// Metrics address; overrides metrics.listen (default 0.0.0.0:9469).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[arg(long, env = "SLOPROBER_CONFIG")]
    pub config: PathBuf,
    /// Profile to play (default smoke).
    #[arg(long, env = "TEST_TYPE")]
    pub profile: Option<String>,
    /// Only these scenarios (repeatable); `all` (the default) runs every one.
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// Write reports into a timestamped directory under DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Serve /metrics while the run plays (and until it is scraped once after the end).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// With --listen: hold the load until the first scrape (at most this long),
    /// so Prometheus sees every counter from 0, e.g. `5s`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, requires = "listen")]
    pub await_first_scrape: Option<std::time::Duration>,
    /// No live progress on stderr.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    #[arg(long, env = "SLOPROBER_CONFIG")]
    pub config: PathBuf,
    /// Profile whose thresholds become alerts (default: the config's daemon.profile).
    #[arg(long)]
    pub profile: Option<String>,
    /// Root the files go under (prometheus/, grafana/).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Write nothing; fail when the files under --out differ from what render would write.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[arg(long, env = "SLOPROBER_CONFIG")]
    pub config: PathBuf,
    /// Profile whose plan is printed (every profile is validated either way).
    #[arg(long, env = "TEST_TYPE")]
    pub profile: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Metrics address.
    #[arg(long, default_value = defaults::METRICS_LISTEN)]
    pub listen: SocketAddr,
    /// Demo target address.
    #[arg(long, default_value = defaults::DEMO_TARGET_LISTEN)]
    pub target_listen: SocketAddr,
    #[arg(long, env = "TEST_TYPE", default_value = defaults::DAEMON_PROFILE)]
    pub profile: String,
}

#[derive(Debug, clap::Args)]
pub struct DemoTargetArgs {
    #[arg(long, default_value = defaults::DEMO_TARGET_LISTEN)]
    pub listen: SocketAddr,
    /// Bearer token the endpoints require.
    #[arg(long, env = "API_KEY", default_value = "demo-key", hide_env_values = true)]
    pub api_key: String,
    /// Initial faults as JSON, e.g. '{"generate": {"delay_ms": 200, "error_rate": 0.1}}'.
    #[arg(long)]
    pub faults: Option<String>,
    /// Latency-exact mode: answer every request (any path, no auth) after exactly this delay.
    #[arg(long, value_parser = crate::config::duration::parse, conflicts_with = "faults")]
    pub fixed_delay: Option<std::time::Duration>,
}

/// An error with the exit code it maps to.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        Failure { code: exit::CONFIG, message: e.to_string() }
    }
}

impl From<DaemonError> for Failure {
    fn from(e: DaemonError) -> Failure {
        let code = if matches!(e, DaemonError::Config(_)) { exit::CONFIG } else { exit::RUNTIME };
        Failure { code, message: e.to_string() }
    }
}

pub async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Daemon(args) => {
            let env = process_env();
            let options = DaemonOptions {
                source: ConfigSource::File(args.config),
                profile: args.profile,
                listen: args.listen,
                vu_threads: VuThreads::start(vu_thread_count(&env)?),
                env,
            };
            start_daemon(options).await
        }
        Command::Run(args) => one_shot(args).await,
        Command::Check(args) => check(args),
        Command::Render(args) => render(args),
        Command::Demo(args) => demo(args).await,
        Command::DemoTarget(args) if args.fixed_delay.is_some() => {
            let delay = args.fixed_delay.unwrap_or_default();
            let listener = std::net::TcpListener::bind(args.listen).map_err(|e| Failure {
                code: exit::RUNTIME,
                message: format!("cannot listen on {}: {e}", args.listen),
            })?;
            tracing::info!(listen = %args.listen, ?delay, "fixed-delay target serving");
            // A thread of its own, not tokio's blocking pool: the runtime's
            // shutdown would wait for it, and it never ends.
            crate::demo_target::fixed_delay::spawn(listener, delay).map_err(|e| Failure {
                code: exit::RUNTIME,
                message: format!("cannot serve on {}: {e}", args.listen),
            })?;
            shutdown_signal().await;
            Ok(())
        }
        Command::DemoTarget(args) => {
            let mut faults = Faults::default();
            if let Some(text) = &args.faults {
                let patch: BTreeMap<String, FaultPatch> = serde_json::from_str(text)
                    .map_err(|e| Failure { code: exit::CONFIG, message: format!("--faults: {e}") })?;
                faults.apply(&patch).map_err(|e| Failure { code: exit::CONFIG, message: format!("--faults: {e}") })?;
            }
            let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| Failure {
                code: exit::RUNTIME,
                message: format!("cannot listen on {}: {e}", args.listen),
            })?;
            tracing::info!(listen = %args.listen, "demo target serving");
            crate::demo_target::serve(listener, DemoTarget::new(args.api_key, faults), shutdown_signal()).await;
            Ok(())
        }
    }
}

async fn start_daemon(options: DaemonOptions) -> Result<(), Failure> {
    let plan = options.plan()?;
    let listener = daemon::bind(&plan).await?;
    daemon::run(options, listener, plan, ProberMetrics::shared().map_err(DaemonError::from)?, shutdown_signal())
        .await?;
    Ok(())
}

async fn one_shot(args: RunArgs) -> Result<(), Failure> {
    let env = process_env();
    let options = run::RunOptions {
        vu_threads: VuThreads::start(vu_thread_count(&env)?),
        source: ConfigSource::File(args.config),
        profile: args.profile,
        scenarios: args.scenarios,
        listen: args.listen,
        await_first_scrape: args.await_first_scrape,
        progress: if args.no_progress { run::ProgressMode::Off } else { run::ProgressMode::Auto },
        env,
    };
    let plan = run::plan_for(&options)?;
    let metrics = ProberMetrics::shared().map_err(DaemonError::from)?;
    let outcome = run::execute(plan, &options, metrics).await.map_err(|e| match e {
        run::RunError::Config(e) => Failure::from(e),
        other => Failure { code: exit::RUNTIME, message: other.to_string() },
    })?;
    println!("{}", run::render_summary(&outcome));
    if let Some(out) = &args.out {
        let dir = run::report_dir(out, outcome.started_at);
        let files = run::write_reports(&outcome, &dir).map_err(|message| Failure { code: exit::RUNTIME, message })?;
        eprintln!("reports: {} ({} files)", dir.display(), files.len());
    }
    if outcome.passed() {
        Ok(())
    } else {
        let failed = outcome.verdicts.iter().filter(|v| !v.passed).count();
        let message = match &outcome.aborted_by {
            Some(slo) => format!("run aborted: threshold {slo} failed (abort_on_fail)"),
            None => format!("{failed} threshold(s) failed"),
        };
        Err(Failure { code: exit::THRESHOLDS_FAILED, message })
    }
}

/// Rules and dashboards never contain header values or URLs, so `render` must
/// not need secrets: every `${VAR}` the config names and the environment lacks
/// gets a marker value.
fn render_env(config: &std::path::Path) -> EnvVars {
    let mut env = process_env();
    let text = std::fs::read_to_string(config).unwrap_or_default();
    for piece in text.split("${").skip(1) {
        let name: String = piece.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        env.entry(name).or_insert_with(|| "unset-at-render".to_string());
    }
    env
}

fn render(args: RenderArgs) -> Result<(), Failure> {
    let env = render_env(&args.config);
    let text = std::fs::read_to_string(&args.config).map_err(|e| Failure {
        code: exit::CONFIG,
        message: format!("cannot read config {}: {e}", args.config.display()),
    })?;
    let plan = crate::plan::resolve(&ConfigSource::File(args.config), args.profile.as_deref(), &env)?;
    if args.check {
        let drift = crate::render::drift(&plan, &text, &args.out);
        if drift.is_empty() {
            println!("rendered files are up to date");
            return Ok(());
        }
        let list: Vec<String> = drift.iter().map(|p| format!("  {}", p.display())).collect();
        return Err(Failure {
            code: exit::RUNTIME,
            message: format!(
                "these files differ from `sloprober render` output; render again and commit:\n{}",
                list.join("\n")
            ),
        });
    }
    let written =
        crate::render::write(&plan, &text, &args.out).map_err(|message| Failure { code: exit::RUNTIME, message })?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}

fn check(args: CheckArgs) -> Result<(), Failure> {
    let env = process_env();
    let selection = crate::plan::Selection { profile: args.profile, scenarios: Vec::new() };
    let plan = crate::plan::load(&ConfigSource::File(args.config), &selection, &env)?;
    println!("{plan}");
    println!("\nOK: {} scenario(s), {} threshold(s), every profile valid", plan.scenarios.len(), plan.thresholds.len());
    Ok(())
}

/// The environment the demo runs in: the user's, with demo defaults for what is unset.
fn demo_env(target: SocketAddr) -> EnvVars {
    let mut env = process_env();
    env.insert("BASE_URL".into(), format!("http://{target}"));
    for (key, value) in [("API_KEY", "demo-key"), ("TENANT_ID", "test-tenant"), ("LEARNER_ID", "test-learner")] {
        env.entry(key.to_string()).or_insert_with(|| value.to_string());
    }
    env
}

async fn demo(args: DemoArgs) -> Result<(), Failure> {
    let env = demo_env(args.target_listen);
    let target_listener = tokio::net::TcpListener::bind(args.target_listen).await.map_err(|e| Failure {
        code: exit::RUNTIME,
        message: format!("cannot listen on {}: {e}", args.target_listen),
    })?;
    let target = DemoTarget::new(env["API_KEY"].clone(), Faults::default());
    let target_stop = tokio_util::sync::CancellationToken::new();
    let stop = target_stop.clone();
    let target_task =
        tokio::spawn(crate::demo_target::serve(target_listener, target, async move { stop.cancelled().await }));
    tracing::info!(target = %args.target_listen, "demo target serving");
    let options = DaemonOptions {
        source: ConfigSource::Embedded { name: "config/aivo.yaml", text: AIVO_CONFIG },
        profile: Some(args.profile),
        listen: Some(args.listen),
        vu_threads: VuThreads::start(vu_thread_count(&env)?),
        env,
    };
    let result = start_daemon(options).await;
    target_stop.cancel();
    let _ = target_task.await;
    result
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// `5s`, `1m`: durations as the config writes them.
fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::config::duration::parse(text)
}
