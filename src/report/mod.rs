//! What a run leaves behind, made from its [`RunOutcome`]: the k6-style
//! terminal summary, per scenario a summary, an SLO report and a time series
//! (JSON, versioned), the Markdown report (a pull-request comment), the HTML
//! report, JUnit and GitHub Actions outputs. `run`, `merge` and the status
//! page read from here; nothing here runs load.

mod chart;
pub mod format;
pub mod github;
pub mod html;
mod json;
mod k6;
mod junit;
mod markdown;
mod summary;
pub mod timeline;

pub use chart::threshold_lines;
pub use html::html;
pub use json::{slo_entry, summary_export, REPORT_VERSION};
pub use junit::junit;
pub use markdown::markdown;
pub use summary::render_summary;
pub use timeline::{ScenarioTimeline, Timeline, TimelinePoint};

use crate::plan::Plan;
use crate::slo::Verdict;
use crate::stats::Snapshot;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

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
    /// How many shards' results it adds up (1 for a run).
    pub shards: u32,
    /// The run's identifier: `testid` on pushed metrics, in reports.
    pub run_id: String,
}

impl RunOutcome {
    pub fn passed(&self) -> bool {
        self.aborted_by.is_none() && self.verdicts.iter().all(|v| v.passed)
    }
}

/// A report that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct ReportError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Writes every report into `dir` (created); returns the files written.
pub fn write_reports(outcome: &RunOutcome, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError { path: dir.to_path_buf(), source })?;
    let mut written = Vec::new();
    let mut write = |name: String, text: String| -> Result<(), ReportError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| ReportError { path: path.clone(), source })?;
        written.push(path);
        Ok(())
    };
    for (index, scenario) in outcome.plan.scenarios.iter().enumerate() {
        let name = &scenario.name;
        write(format!("{name}-summary.json"), pretty(&json::summary_json(outcome, index)))?;
        write(format!("{name}-slo-report.json"), pretty(&json::slo_report_json(outcome, scenario)))?;
        let timeline = &outcome.timeline.scenarios[index];
        let mut results = json::header(outcome, "sloprober.results", scenario);
        results.insert("interval_seconds".into(), timeline::INTERVAL.as_secs_f64().into());
        results.insert("points".into(), serde_json::json!(timeline.points));
        write(format!("{name}-results.json"), serde_json::to_string(&results).unwrap_or_default())?;
    }
    write("load-test-report.md".to_string(), markdown::markdown(outcome))?;
    write("load-test-report.html".to_string(), html::html(outcome))?;
    Ok(written)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// Where reports go: `<out>/<YYYYmmdd_HHMMSS>`, as the k6 suite laid them out.
pub fn report_dir(out: &Path, started_at: SystemTime) -> PathBuf {
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
