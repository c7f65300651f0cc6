//! The Markdown report's pictures: per request, a Mermaid `xychart-beta` of
//! its p95 latency second by second with its latency threshold drawn as a
//! flat line. GitHub, GitLab and Gitea render Mermaid in comments and step
//! summaries; elsewhere the block reads as plain numbers.

use super::RunOutcome;
use crate::model::metric::{Builtin, Metric, Tag};
use crate::model::threshold::Aggregation;
use crate::model::units::Unit;
use crate::plan::{PlannedThreshold, RequestPlan, ScenarioPlan};
use std::fmt::Write;

/// Most points a chart shows; longer runs are shown as the slowest second of each stretch.
const MAX_POINTS: usize = 60;

/// One chart per request that has latency over the run (empty when none has).
pub fn latency_charts(outcome: &RunOutcome) -> String {
    let mut md = String::new();
    for (scenario, timeline) in outcome.plan.scenarios.iter().zip(&outcome.timeline.scenarios) {
        for request in &scenario.requests {
            let series: Vec<(f64, Option<f64>)> =
                timeline.points.iter().map(|p| (p.t, p.request_ms.get(&request.name).map(|ms| ms[1]))).collect();
            if series.iter().all(|(_, v)| v.is_none()) {
                continue;
            }
            let threshold = latency_threshold(&outcome.plan.thresholds, scenario, request);
            md.push_str(&chart(&scenario.name, &request.name, &series, threshold));
        }
    }
    md
}

/// The latency threshold that judges `request`: a p(95) one first, else any in milliseconds.
fn latency_threshold<'a>(
    thresholds: &'a [PlannedThreshold],
    scenario: &ScenarioPlan,
    request: &RequestPlan,
) -> Option<&'a PlannedThreshold> {
    let candidates = latency_thresholds(thresholds, scenario, request);
    let p95 = |t: &&&PlannedThreshold| matches!(t.condition.aggregation, Aggregation::Percentile(p) if p == 95.0);
    candidates.iter().find(p95).or(candidates.first()).copied()
}

/// Every latency threshold (in milliseconds) that judges `request` of `scenario`.
fn latency_thresholds<'a>(
    thresholds: &'a [PlannedThreshold],
    scenario: &ScenarioPlan,
    request: &RequestPlan,
) -> Vec<&'a PlannedThreshold> {
    let judges = |t: &&PlannedThreshold| {
        let metric = match &t.metric {
            Metric::Builtin(Builtin::HttpReqDuration) => true,
            Metric::Custom { name, .. } => request.trend.as_ref() == Some(name),
            Metric::Builtin(_) => false,
        };
        let tags = t.tags.iter().all(|(tag, value)| match tag {
            Tag::Scenario => value == &scenario.name,
            Tag::Request => value == &request.name,
            Tag::ExpectedResponse => true,
            Tag::Check | Tag::Group => false,
        });
        metric && tags && t.metric.unit() == Unit::Milliseconds
    };
    thresholds.iter().filter(judges).collect()
}

/// The latency thresholds that judge `request` of `scenario`, as the HTML
/// charts draw them: `{label, ms}`.
pub fn threshold_lines(
    thresholds: &[PlannedThreshold],
    scenario: &ScenarioPlan,
    request: &RequestPlan,
) -> Vec<serde_json::Value> {
    latency_thresholds(thresholds, scenario, request)
        .into_iter()
        .map(|t| serde_json::json!({"label": format!("{} {}", t.selector(), t.expression), "ms": Unit::Milliseconds.to_written(t.limit())}))
        .collect()
}

/// `series` as (seconds since the start, p95 in ms) points, at most [`MAX_POINTS`].
fn chart(scenario: &str, request: &str, series: &[(f64, Option<f64>)], threshold: Option<&PlannedThreshold>) -> String {
    let stretch = series.len().div_ceil(MAX_POINTS).max(1);
    let mut points: Vec<(u64, f64)> = Vec::new();
    for chunk in series.chunks(stretch) {
        // A second without a request has no p95 and no point; the slowest second with one stands for the stretch.
        let Some(slowest) = chunk.iter().filter_map(|(_, v)| *v).reduce(f64::max) else { continue };
        let t = chunk.last().map_or(0, |(t, _)| t.round() as u64);
        match points.last_mut() {
            // The run's last, partial second shares its label with the one before: one point.
            Some((last, value)) if *last == t => *value = value.max(slowest),
            _ => points.push((t, slowest)),
        }
    }
    let limit_ms = threshold.map(|t| Unit::Milliseconds.to_written(t.limit()));
    let top = points.iter().map(|(_, v)| *v).chain(limit_ms).fold(0.0, f64::max);
    let top = nice_ceiling(top * 1.1);
    let xs: Vec<String> = points.iter().map(|(t, _)| t.to_string()).collect();
    let ys: Vec<String> = points.iter().map(|(_, v)| format!("{v:.1}")).collect();
    let mut md = String::new();
    let _ = writeln!(md, "\n```mermaid\nxychart-beta");
    let _ = writeln!(md, "    title \"{scenario}/{request}: p95 latency (ms) over the run\"");
    let _ = writeln!(md, "    x-axis \"seconds\" [{}]", xs.join(", "));
    let _ = writeln!(md, "    y-axis \"ms\" 0 --> {top}");
    let _ = writeln!(md, "    line [{}]", ys.join(", "));
    if let Some(limit) = limit_ms {
        let _ = writeln!(md, "    line [{}]", vec![format!("{limit:.1}"); points.len()].join(", "));
    }
    let _ = writeln!(md, "```");
    let per = if stretch > 1 { format!("the slowest second of every {stretch}") } else { "each second".to_string() };
    match threshold {
        Some(t) => {
            let _ = writeln!(md, "<sub>p95 of {per}; the flat line is `{} {}`.</sub>", t.selector(), t.expression);
        }
        None => {
            let _ = writeln!(md, "<sub>p95 of {per}; no latency threshold judges this request.</sub>");
        }
    }
    md
}

/// The next of 1, 2, 5 × 10^n at or above `value` (an axis top people read easily).
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|v| *v >= value).unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.3), 5.0);
        assert_eq!(nice_ceiling(330.0), 500.0);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
        assert_eq!(nice_ceiling(1001.0), 2000.0);
    }

    #[test]
    fn long_runs_show_the_slowest_second_of_each_stretch() {
        let series: Vec<(f64, Option<f64>)> = (1..=150)
            .map(|s| {
                (
                    s as f64,
                    if s == 77 {
                        Some(900.0)
                    } else if s % 10 == 0 {
                        None
                    } else {
                        Some(5.0)
                    },
                )
            })
            .collect();
        let md = chart("s", "r", &series, None);
        let line = md.lines().find(|l| l.trim_start().starts_with("line")).unwrap();
        let values: Vec<&str> = line.trim().trim_start_matches("line [").trim_end_matches(']').split(", ").collect();
        assert_eq!(values.len(), 50, "150 seconds in stretches of 3");
        let gaps: Vec<(f64, Option<f64>)> = vec![(1.0, Some(5.0)), (2.0, None), (3.0, Some(7.0)), (3.02, Some(9.0))];
        let md_gaps = chart("s", "r", &gaps, None);
        assert!(md_gaps.contains("x-axis \"seconds\" [1, 3]") && md_gaps.contains("line [5.0, 9.0]"), "{md_gaps}");
        assert_eq!(values.iter().filter(|v| **v == "900.0").count(), 1, "the slow second is kept: {line}");
        assert!(md.contains("x-axis \"seconds\" [3, 6, 9"), "{md}");
        assert!(md.contains("y-axis \"ms\" 0 --> 1000"), "{md}");
        assert!(md.contains("the slowest second of every 3"), "{md}");
    }
}
