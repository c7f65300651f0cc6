//! `sloprober run`: one pass of a profile as a CI gate.

use super::CommandError;
use crate::metrics::ProberMetrics;
use crate::run::{self, RunError, RunOptions};
use std::path::Path;

/// Plays the run, prints the summary, writes reports under `out`; fails when a threshold did.
pub async fn run(options: RunOptions, out: Option<&Path>) -> Result<(), CommandError> {
    let plan = run::plan_for(&options).map_err(RunError::from)?;
    let metrics = ProberMetrics::shared().map_err(|e| RunError::Start(e.into()))?;
    let outcome = run::execute(plan, &options, metrics).await?;
    println!("{}", run::render_summary(&outcome));
    if let Some(out) = out {
        let dir = run::report_dir(out, outcome.started_at);
        let files = run::write_reports(&outcome, &dir)?;
        eprintln!("reports: {} ({} files)", dir.display(), files.len());
    }
    if let Some(slo) = &outcome.aborted_by {
        return Err(CommandError::Aborted { slo: slo.clone() });
    }
    match outcome.verdicts.iter().filter(|v| !v.passed).count() {
        0 => Ok(()),
        failed => Err(CommandError::ThresholdsFailed { failed }),
    }
}
