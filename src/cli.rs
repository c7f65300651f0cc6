//! Command-line interface: one binary, one subcommand per run mode.

use crate::commands::demo::DemoOptions;
use crate::commands::demo_target::DemoTargetOptions;
use crate::commands::render::RenderOptions;
use crate::commands::{self, CommandError};
use crate::config::ConfigSource;
use crate::daemon::DaemonOptions;
use crate::executor::{Shortcuts, VuThreads};
use crate::model::defaults;
use crate::model::env::process_env;
use crate::run::{ProgressMode, RunOptions};
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

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
    #[arg(long, global = true, env = "SLOPROBER_LOG", default_value = "info", value_parser = parse_log_level)]
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Keep the configured load going and serve /metrics (reload: SIGHUP, or POST /-/reload with --web.enable-lifecycle).
    Daemon(DaemonArgs),
    /// Play a profile once (CI gate): summary, reports, exit 99 when a threshold fails.
    Run(Box<RunArgs>),
    /// Validate a config and print the resolved plan.
    Check(CheckArgs),
    /// Write Prometheus rules, promtool tests and Grafana dashboards for a config.
    Render(RenderArgs),
    /// Combine the result files of a distributed run's shards into one verdict (exit 99 when a threshold fails).
    Merge(MergeArgs),
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
    /// Let `POST /-/reload` reload the config, as Prometheus' flag of the same name (SIGHUP always does).
    #[arg(long = "web.enable-lifecycle")]
    pub web_enable_lifecycle: bool,
    /// Push the metrics to this Prometheus remote-write URL too (metrics.remote_write.url).
    #[arg(long, value_name = "URL")]
    pub remote_write: Option<String>,
    /// A `testid` label for pushed metrics (none by default).
    #[arg(long, value_name = "ID", env = "SLOPROBER_RUN_ID")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub web: WebArgs,
}

/// How /metrics is served: the flags of Prometheus' exporters.
#[derive(Debug, clap::Args)]
pub struct WebArgs {
    /// TLS and basic auth for the endpoints: an exporter-toolkit web config
    /// (tls_server_config, basic_auth_users with bcrypt hashes).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
    /// Open connections to the endpoints at most; more wait to be accepted.
    #[arg(long = "web.max-connections", default_value_t = crate::server::http::MAX_CONNECTIONS)]
    pub web_max_connections: usize,
}

impl WebArgs {
    fn web(&self) -> Result<crate::server::Web, CommandError> {
        let config = match &self.web_config_file {
            Some(file) => Some(crate::server::LiveWebConfig::load(file)?),
            None => None,
        };
        Ok(crate::server::Web { config, max_connections: self.web_max_connections })
    }
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
    /// The run's identifier: the `testid` label of pushed metrics, in reports
    /// (default: the start time and 4 random hex digits). Shards of one run share it.
    #[arg(long, value_name = "ID", env = "SLOPROBER_RUN_ID")]
    pub run_id: Option<String>,
    /// Push the metrics to this Prometheus remote-write URL (metrics.remote_write.url).
    #[arg(long, value_name = "URL")]
    pub remote_write: Option<String>,
    /// Write the mergeable result (for `sloprober merge`) here: a file, or a
    /// directory (`result-shard-I-of-N.json` for a shard).
    #[arg(long, value_name = "PATH", env = "SLOPROBER_RESULT")]
    pub result: Option<PathBuf>,
    /// As k6's: with --duration or --iterations, this many VUs (default 1).
    #[arg(short = 'u', long, value_name = "N")]
    pub vus: Option<u32>,
    /// As k6's: every selected scenario becomes constant-vus for this long
    /// (with --iterations: their max_duration).
    #[arg(short = 'd', long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub duration: Option<std::time::Duration>,
    /// As k6's: every selected scenario becomes shared-iterations of this many.
    #[arg(short = 'i', long, value_name = "N")]
    pub iterations: Option<u64>,
    /// As k6's: a variable for `${VAR}` in the config, over the environment's (repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = parse_env_arg)]
    pub env_vars: Vec<(String, String)>,
    #[command(flatten)]
    pub verdict: VerdictArgs,
    #[command(flatten)]
    pub web: WebArgs,
}

/// Where a verdict goes besides stdout (run and merge).
#[derive(Debug, clap::Args)]
pub struct VerdictArgs {
    /// Write reports into a timestamped directory under DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write a JUnit XML report (one test case per threshold).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the HTML report (one self-contained page) here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write k6's summary export here: what `k6 run --summary-export FILE` writes.
    #[arg(long, value_name = "FILE", env = "K6_SUMMARY_EXPORT")]
    pub summary_export: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The config the shards ran.
    #[arg(long, env = "SLOPROBER_CONFIG")]
    pub config: PathBuf,
    /// Result files, or directories searched for them.
    #[arg(required = true, value_name = "PATH")]
    pub results: Vec<PathBuf>,
    /// Wait (at most this long, e.g. `30m`) until every shard has written its result.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub wait: Option<std::time::Duration>,
    #[command(flatten)]
    pub verdict: VerdictArgs,
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
    #[arg(long, value_parser = crate::model::duration::parse, conflicts_with = "faults")]
    pub fixed_delay: Option<std::time::Duration>,
}

/// Runs a subcommand: maps its flags to the options of its module in `commands`.
pub async fn run(command: Command) -> Result<(), CommandError> {
    let env = process_env();
    match command {
        Command::Daemon(args) => {
            let options = DaemonOptions {
                source: ConfigSource::File(args.config),
                profile: args.profile,
                listen: args.listen,
                vu_threads: VuThreads::start(VuThreads::count_from(&env)?),
                env: with_remote_write(env, args.remote_write),
                run_id: args.run_id,
                http_reload: args.web_enable_lifecycle,
                web: args.web.web()?,
            };
            commands::daemon::daemon(options).await
        }
        Command::Run(args) => {
            let args = *args;
            let options = RunOptions {
                config: ConfigSource::File(args.config).load()?,
                profile: args.profile,
                scenarios: args.scenarios,
                listen: args.listen,
                await_first_scrape: args.await_first_scrape,
                progress: if args.no_progress { ProgressMode::Off } else { ProgressMode::Auto },
                vu_threads: VuThreads::start(VuThreads::count_from(&env)?),
                env: with_remote_write(env.into_iter().chain(args.env_vars).collect(), args.remote_write),
                web: args.web.web()?,
                run_id: args.run_id,
                shortcuts: Shortcuts { vus: args.vus, duration: args.duration, iterations: args.iterations },
            };
            let outputs = commands::run::Outputs {
                out: args.verdict.out,
                junit: args.verdict.junit,
                html: args.verdict.html,
                summary_export: args.verdict.summary_export,
                result: args.result,
            };
            commands::run::run(options, &outputs).await
        }
        Command::Merge(args) => {
            let outputs = commands::run::Outputs {
                out: args.verdict.out,
                junit: args.verdict.junit,
                html: args.verdict.html,
                summary_export: args.verdict.summary_export,
                result: None,
            };
            commands::merge::merge(&ConfigSource::File(args.config).load()?, &args.results, args.wait, &outputs, &env)
                .await
        }
        Command::Check(args) => commands::check::check(&ConfigSource::File(args.config).load()?, args.profile, &env),
        Command::Render(args) => {
            let options = RenderOptions {
                config: &args.config,
                profile: args.profile.as_deref(),
                out: &args.out,
                check: args.check,
            };
            commands::render::render(&options, env)
        }
        Command::Demo(args) => {
            let options = DemoOptions {
                listen: args.listen,
                target_listen: args.target_listen,
                profile: args.profile,
                vu_threads: VuThreads::start(VuThreads::count_from(&env)?),
            };
            commands::demo::demo(options, env).await
        }
        Command::DemoTarget(args) => {
            let options = DemoTargetOptions {
                listen: args.listen,
                api_key: args.api_key,
                faults: args.faults,
                fixed_delay: args.fixed_delay,
            };
            commands::demo_target::demo_target(options).await
        }
    }
}

/// `--remote-write URL` is the environment's override of `metrics.remote_write.url`.
fn with_remote_write(mut env: crate::model::env::EnvVars, url: Option<String>) -> crate::model::env::EnvVars {
    if let Some(url) = url {
        env.insert(REMOTE_WRITE_URL_OVERRIDE.to_string(), url);
    }
    env
}

/// The environment variable that sets `metrics.remote_write.url`.
const REMOTE_WRITE_URL_OVERRIDE: &str = "SLOPROBER__METRICS__REMOTE_WRITE__URL";

/// `5s`, `1m`: durations as the config writes them.
fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::model::duration::parse(text)
}

/// `KEY=VALUE` of `-e`.
fn parse_env_arg(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("\"{text}\" is not KEY=VALUE")),
    }
}

/// A log filter: comma-separated `LEVEL` or `TARGET=LEVEL` directives.
fn parse_log_level(text: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    for directive in text.split(',').map(str::trim) {
        let level =
            directive.rsplit_once('=').map_or(directive, |(target, level)| if target.is_empty() { "" } else { level });
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "\"{directive}\" is not a log level; write one of {} or TARGET=LEVEL (e.g. sloprober=debug), comma-separated",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_log_level;

    #[test]
    fn log_levels_are_checked() {
        for good in ["info", "WARN", "sloprober=debug", "info,sloprober=trace,hyper=off"] {
            assert_eq!(parse_log_level(good).as_deref(), Ok(good));
        }
        for bad in ["loud", "", "sloprober=", "=debug", "info,sloprober=chatty"] {
            assert!(parse_log_level(bad).is_err(), "{bad}");
        }
    }
}
