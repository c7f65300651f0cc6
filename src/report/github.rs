//! GitHub Actions: the Markdown report appended to the job's step summary
//! (`GITHUB_STEP_SUMMARY`), and each failed threshold an `::error`
//! annotation when `GITHUB_ACTIONS` is `true`.

use super::format::format_observed;
use super::RunOutcome;
use crate::model::env::EnvVars;
use std::io::Write;
use std::path::PathBuf;

/// Appends `markdown` to the step summary file when the environment names one.
pub fn append_step_summary(env: &EnvVars, markdown: &str) -> Result<Option<PathBuf>, super::ReportError> {
    let Some(path) = env.get("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()).map(PathBuf::from) else {
        return Ok(None);
    };
    let error = |source| super::ReportError { path: path.clone(), source };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(error)?;
    file.write_all(markdown.as_bytes()).and_then(|_| file.write_all(b"\n")).map_err(error)?;
    Ok(Some(path))
}

/// The workflow commands for the failed thresholds, when running in GitHub Actions.
pub fn annotations(env: &EnvVars, outcome: &RunOutcome) -> Vec<String> {
    if env.get("GITHUB_ACTIONS").map(String::as_str) != Some("true") {
        return Vec::new();
    }
    let mut lines = Vec::new();
    for (threshold, verdict) in outcome.plan.thresholds.iter().zip(&outcome.verdicts).filter(|(_, v)| !v.passed) {
        let title = format!("SLO {} failed", threshold.slo);
        let message = format!(
            "{} {}: observed {} ({} profile)",
            threshold.selector(),
            threshold.expression,
            format_observed(threshold, verdict),
            outcome.plan.profile
        );
        lines.push(format!("::error title={}::{}", escape_property(&title), escape_data(&message)));
    }
    if let Some(slo) = &outcome.aborted_by {
        lines.push(format!(
            "::error title=Run aborted::{}",
            escape_data(&format!("threshold {slo} failed and has abort_on_fail"))
        ));
    }
    lines
}

/// A command's message, as the Actions runner unescapes it.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A command's property value (`title=`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    #[test]
    fn workflow_command_values_are_escaped_as_the_runner_reads_them() {
        assert_eq!(super::escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(super::escape_property("a: b, c"), "a%3A b%2C c");
    }
}
