//! What each subcommand does, one module per subcommand; `cli` only maps
//! flags to their options. Every failure is a [`CommandError`], whose type
//! decides the exit code.

pub mod check;
pub mod daemon;
pub mod demo;
pub mod demo_target;
pub mod merge;
pub mod render;
pub mod run;

use crate::daemon::DaemonError;
use crate::model::problems::ConfigError;
use crate::report::ReportError;
use crate::result::MergeError;
use crate::run::RunError;
use crate::server::ListenError;
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
    /// A run's setup failed, so no load was made (k6's code for a failed `setup()`).
    pub const SETUP_FAILED: u8 = 107;
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A flag's value is invalid.
    #[error("{flag}: {problem}")]
    Flag { flag: &'static str, problem: String },
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Reports(#[from] ReportError),
    #[error(transparent)]
    Merge(#[from] crate::result::MergeError),
    #[error(transparent)]
    Render(#[from] crate::render::WriteError),
    #[error("{}", drift_message(.out, .files))]
    Drift { out: PathBuf, files: Vec<(PathBuf, crate::render::Drift)> },
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(transparent)]
    WebConfig(#[from] crate::server::web_config::WebConfigError),
    #[error("cannot serve on {addr}: {source}")]
    Serve { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("run aborted: threshold {slo} failed (abort_on_fail)")]
    Aborted { slo: String },
    #[error("{failed} threshold(s) failed")]
    ThresholdsFailed { failed: usize },
}

impl CommandError {
    /// The process's exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_)
            | CommandError::Flag { .. }
            | CommandError::WebConfig(_)
            | CommandError::Daemon(DaemonError::Config(_))
            | CommandError::Run(RunError::Config(_))
            | CommandError::Merge(MergeError::Config(_) | MergeError::Invalid { .. } | MergeError::Mismatch(_)) => {
                exit::CONFIG
            }
            CommandError::Aborted { .. } | CommandError::ThresholdsFailed { .. } => exit::THRESHOLDS_FAILED,
            CommandError::Run(RunError::Setup(_)) => exit::SETUP_FAILED,
            CommandError::Daemon(_)
            | CommandError::Run(_)
            | CommandError::Reports(_)
            | CommandError::Merge(MergeError::Read { .. })
            | CommandError::Render(_)
            | CommandError::Drift { .. }
            | CommandError::Listen(_)
            | CommandError::Serve { .. } => exit::RUNTIME,
        }
    }
}

/// What `render --check` found, file by file; a hint when none of the files is there at all.
fn drift_message(out: &std::path::Path, files: &[(PathBuf, crate::render::Drift)]) -> String {
    let all_missing = files.iter().all(|(_, d)| *d == crate::render::Drift::Missing);
    let mut message = if all_missing {
        format!(
            "no rendered file is under {}: run `sloprober render --check` from the repository's root, or give it --out",
            out.display()
        )
    } else {
        "these files are not what `sloprober render` writes; render again and commit:".to_string()
    };
    if !all_missing {
        for (path, drift) in files {
            let how = match drift {
                crate::render::Drift::Missing => "missing",
                crate::render::Drift::Differs => "differs",
            };
            message.push_str(&format!("\n  {} ({how})", path.display()));
        }
    }
    message
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
