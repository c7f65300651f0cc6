//! The end-of-run summary, laid out like k6's: every metric with its
//! figures, then each threshold with a pass/fail mark.

use super::format::{format_ms, format_observed};
use super::RunOutcome;
use crate::model::duration;
use crate::model::metric::{Builtin, Metric, Tag, Tags};
use crate::slo::{figures, Figures};
use std::fmt::Write;
use std::time::Duration;

fn format_bytes(bytes: f64) -> String {
    match bytes {
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        b => format!("{b:.0} B"),
    }
}

fn format_figures(name: &str, figures: &Figures) -> String {
    match figures {
        Figures::Trend { figures: None, .. } => "no samples".to_string(),
        Figures::Trend { figures: Some(t), .. } => format!(
            "avg={} min={} med={} max={} p(90)={} p(95)={} p(99)={}",
            format_ms(t.avg),
            format_ms(t.min),
            format_ms(t.med),
            format_ms(t.max),
            format_ms(t.p90),
            format_ms(t.p95),
            format_ms(t.p99)
        ),
        Figures::Rate { rate, trues, total } => {
            let percent = rate.map_or("-".to_string(), |r| format!("{:.2}%", r * 100.0));
            format!("{percent:<9} ✓ {trues:<7} ✗ {}", total - trues)
        }
        Figures::Counter { count, rate } if name.starts_with("data_") => {
            format!("{:<9} {}/s", format_bytes(*count), format_bytes(*rate))
        }
        Figures::Counter { count, rate } => format!("{count:<9} {rate:.2}/s"),
        Figures::Gauge { value } => value.map_or("-".to_string(), |v| format!("{v}")),
    }
}

pub fn render_summary(outcome: &RunOutcome) -> String {
    let plan = &outcome.plan;
    let snapshot = &outcome.snapshot;
    let mut out = String::new();
    let scenarios: Vec<&str> = plan.scenarios.iter().map(|s| s.name.as_str()).collect();
    let _ = writeln!(
        out,
        "\n  sloprober {} · profile {} · {} · {}",
        match outcome.shards {
            1 => "run".to_string(),
            n => format!("merge of {n} shards"),
        },
        plan.profile,
        scenarios.join(", "),
        duration::format(Duration::from_millis(snapshot.elapsed.as_millis() as u64 / 100 * 100))
    );
    let mut metrics: Vec<Metric> = Builtin::reported().map(Metric::Builtin).collect();
    metrics.extend(plan.custom.iter().map(|(name, kind)| Metric::Custom { name: name.clone(), kind: *kind }));
    metrics.sort_by(|a, b| a.name().cmp(b.name()));
    // k6 lists latency over expected answers under each Trend, as the thresholds judge it.
    let mut groups: Vec<&String> = plan.scenarios.iter().flat_map(|s| &s.groups).collect();
    groups.sort();
    groups.dedup();
    let mut lines: Vec<(Metric, Tags)> = Vec::new();
    for metric in metrics {
        if metric == Metric::Builtin(Builtin::GroupDuration) {
            // One line per group, as k6 reports each group on its own.
            for group in &groups {
                lines.push((metric.clone(), Tags::from([(Tag::Group, group.to_string())])));
            }
            continue;
        }
        let expected = metric.tags().contains(&Tag::ExpectedResponse);
        lines.push((metric.clone(), Tags::new()));
        if expected {
            lines.push((metric, Tags::from([(Tag::ExpectedResponse, "true".to_string())])));
        }
    }
    let _ = writeln!(out);
    let label_of = |metric: &Metric, tags: &Tags| match tags.iter().next() {
        None => metric.name().to_string(),
        Some((Tag::Group, group)) => format!("{}{{group:{group}}}", metric.name()),
        Some((tag, value)) => format!("  {{ {}:{value} }}", tag.key()),
    };
    // Dots up to one column for every value, however long the longest name.
    let width = lines.iter().map(|(m, t)| label_of(m, t).chars().count() + 3).max().unwrap_or(0).max(32);
    for (metric, tags) in lines {
        let name = metric.name();
        let marks: Vec<bool> = plan
            .thresholds
            .iter()
            .zip(&outcome.verdicts)
            .filter(|(t, _)| t.metric == metric && t.selection() == tags)
            .map(|(_, v)| v.passed)
            .collect();
        let mark = if marks.is_empty() {
            " "
        } else if marks.iter().all(|p| *p) {
            "✓"
        } else {
            "✗"
        };
        let label = label_of(&metric, &tags);
        let dots = ".".repeat(width.saturating_sub(label.chars().count()));
        let _ = writeln!(out, "  {mark} {label}{dots}: {}", format_figures(name, &figures(&metric, &tags, snapshot)));
    }
    let _ = writeln!(out, "\n  scenarios");
    for scenario in &plan.scenarios {
        let only = snapshot.only_scenario(&scenario.name);
        let none = Tags::new();
        let latency = match figures(&Metric::Builtin(Builtin::HttpReqDuration), &none, &only) {
            Figures::Trend { figures: Some(t), .. } => {
                format!("{} requests, p(95)={} p(99)={}", t.count, format_ms(t.p95), format_ms(t.p99))
            }
            _ => "no requests".to_string(),
        };
        let failed = match figures(&Metric::Builtin(Builtin::HttpReqFailed), &none, &only) {
            Figures::Rate { rate: Some(r), .. } => format!(", failed {:.2}%", r * 100.0),
            _ => String::new(),
        };
        let lag = only
            .merged(|_| true)
            .and_then(|s| s.schedule_lag())
            .map(|l| format!(", start lag p99={} ({:.1}% within 1ms)", format_ms(l.p99_ms), l.within_1ms_ratio * 100.0))
            .unwrap_or_default();
        let _ = writeln!(out, "    {:<14} {latency}{failed}{lag}  ({})", scenario.name, scenario.executor.name());
    }
    if !plan.thresholds.is_empty() {
        let _ = writeln!(out, "\n  thresholds");
        for (t, v) in plan.thresholds.iter().zip(&outcome.verdicts) {
            let mark = match (v.has_data(), v.passed) {
                (false, _) => "-",
                (true, true) => "✓",
                (true, false) => "✗",
            };
            let label = format!("{} {}", t.selector(), t.expression);
            let dots = ".".repeat(44usize.saturating_sub(label.len()));
            let _ = writeln!(out, "    {mark} {label} {dots} {}", format_observed(t, v));
        }
    }
    let failed: Vec<&str> =
        plan.thresholds.iter().zip(&outcome.verdicts).filter(|(_, v)| !v.passed).map(|(t, _)| t.slo.as_str()).collect();
    let _ = writeln!(out);
    match (&outcome.aborted_by, failed.is_empty()) {
        (Some(slo), _) => {
            let _ = writeln!(out, "  result: FAILED: aborted early by {slo} (abort_on_fail)");
        }
        (None, true) => {
            let _ = writeln!(out, "  result: PASSED: every threshold holds");
        }
        (None, false) => {
            let _ = writeln!(
                out,
                "  result: FAILED: {} of {} thresholds failed: {}",
                failed.len(),
                plan.thresholds.len(),
                failed.join(", ")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_ms(0.85), "850µs");
        assert_eq!(format_ms(12.345), "12.35ms");
        assert_eq!(format_ms(1250.0), "1.25s");
        assert_eq!(format_bytes(1_234_567.0), "1.2 MB");
    }
}
