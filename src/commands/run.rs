//! `sloprober run`: one pass of a profile as a CI gate.

use super::CommandError;
use crate::metrics::ProberMetrics;
use crate::model::env::EnvVars;
use crate::report::{self, RunOutcome};
use crate::result::{RunIdentity, RunResult};
use crate::run::{self, RunError, RunOptions};
use std::path::{Path, PathBuf};

/// Where a run's (or a merge's) verdict goes besides stdout.
#[derive(Debug, Default, Clone)]
pub struct Outputs {
    /// Reports into a timestamped directory under this one.
    pub out: Option<PathBuf>,
    /// JUnit XML at this path.
    pub junit: Option<PathBuf>,
    /// The HTML report at this path.
    pub html: Option<PathBuf>,
    /// k6's legacy summary export at this path.
    pub summary_export: Option<PathBuf>,
    /// The mergeable result at this path (a file, or a directory).
    pub result: Option<PathBuf>,
}

/// Plays the run, prints the summary, writes reports; fails when a threshold did.
pub async fn run(options: RunOptions, outputs: &Outputs) -> Result<(), CommandError> {
    let plan = run::plan_for(&options).map_err(RunError::from)?;
    let identity = RunIdentity::of(&options.config, &options.env, &plan);
    let metrics = ProberMetrics::shared().map_err(|e| RunError::Start(e.into()))?;
    let outcome = run::execute(plan, &options, metrics).await?;
    let result = RunResult::of(&outcome, identity);
    finish(&outcome, Some(&result), outputs, &options.env)
}

/// Prints the summary, writes every output asked for, and turns the verdict into the exit code.
pub fn finish(
    outcome: &RunOutcome,
    result: Option<&RunResult>,
    outputs: &Outputs,
    env: &EnvVars,
) -> Result<(), CommandError> {
    println!("{}", report::render_summary(outcome));
    // A shard's verdict is not the run's: GitHub hears from `merge` only.
    let judged = outcome.plan.shard.is_none();
    if judged {
        for line in report::github::annotations(env, outcome) {
            println!("{line}");
        }
    }
    if let Some(out) = &outputs.out {
        let dir = report::report_dir(out, outcome.started_at);
        let mut files = report::write_reports(outcome, &dir)?;
        if let Some(result) = result {
            files.push(result.write(&dir.join("result.json"))?);
        }
        eprintln!("reports: {} ({} files)", dir.display(), files.len());
    }
    if let (Some(result), Some(path)) = (result, &outputs.result) {
        eprintln!("result: {}", result.write(path)?.display());
    }
    if let Some(path) = &outputs.html {
        write_file(path, &report::html(outcome))?;
        eprintln!("html: {}", path.display());
    }
    if let Some(path) = &outputs.summary_export {
        write_file(path, &report::summary_export(outcome))?;
        eprintln!("summary export: {}", path.display());
    }
    if let Some(path) = &outputs.junit {
        write_file(path, &report::junit(outcome))?;
        eprintln!("junit: {}", path.display());
    }
    if judged {
        report::github::append_step_summary(env, &report::markdown(outcome))?;
    }
    let failed = outcome.verdicts.iter().filter(|v| !v.passed).count();
    if let (Some(shard), true) = (outcome.plan.shard, outcome.aborted_by.is_some() || failed > 0) {
        // A shard made part of the load: rates divided, counts split. `merge` judges every shard together.
        eprintln!(
            "shard {} of {}: its own thresholds are not the run's verdict; `sloprober merge` gives it (exit 0 here)",
            shard.index, shard.count
        );
        return Ok(());
    }
    if let Some(slo) = &outcome.aborted_by {
        return Err(CommandError::Aborted { slo: slo.clone() });
    }
    match failed {
        0 => Ok(()),
        failed => Err(CommandError::ThresholdsFailed { failed }),
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), report::ReportError> {
    let error = |source| report::ReportError { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(error)?;
    }
    std::fs::write(path, text).map_err(error)
}
