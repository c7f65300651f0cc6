//! How the reports write numbers, verdicts and text: one home for what the
//! summary, Markdown, HTML, JUnit and GitHub outputs show alike.

use crate::model::units::Unit;
use crate::plan::{Plan, PlannedThreshold};
use crate::slo::Verdict;

/// `850µs`, `12.34ms`, `1.25s`.
pub fn format_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{:.0}µs", ms * 1000.0)
    } else if ms < 1000.0 {
        format!("{ms:.2}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

/// The observed value of a threshold, in its unit.
pub fn format_observed(threshold: &PlannedThreshold, verdict: &Verdict) -> String {
    match (verdict.observed, threshold.metric.unit()) {
        (None, _) => "no data".to_string(),
        (Some(seconds), Unit::Milliseconds) => format_ms(Unit::Milliseconds.to_written(seconds)),
        (Some(v), _) => format!("{v:.4}"),
    }
}

/// What the SLO tables of the reports show of a threshold's SLI (good / objective)
/// and of its error budget used; `-` where it has none.
pub fn sli_and_budget(threshold: &PlannedThreshold, verdict: &Verdict) -> (String, String) {
    let sli = match (verdict.good_ratio, threshold.objective) {
        (Some(good), Some(objective)) => format!("{} / {}", percent(good), percent(objective.ratio)),
        _ => "-".to_string(),
    };
    (sli, verdict.budget_used(threshold).map_or("-".to_string(), percent))
}

pub fn percent(ratio: f64) -> String {
    format!("{:.2}%", ratio * 100.0)
}

/// The base URLs a plan's scenarios run against, each once, in scenario order.
pub fn targets(plan: &Plan) -> Vec<&str> {
    let mut targets: Vec<&str> = Vec::new();
    for scenario in &plan.scenarios {
        if !targets.contains(&scenario.base_url.as_str()) {
            targets.push(&scenario.base_url);
        }
    }
    targets
}

/// Text and attribute values in XML and HTML; characters XML 1.0 cannot hold are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_special_characters_are_escaped() {
        assert_eq!(escape("p(95)<300 & \"x\"\u{1}"), "p(95)&lt;300 &amp; &quot;x&quot;");
    }

    #[test]
    fn targets_are_listed_once_each_in_scenario_order() {
        let mut plan = crate::plan::of_requests("[{name: r, path: /}]");
        let scenario = plan.scenarios[0].clone();
        for url in ["http://b", "http://a", "http://b"] {
            plan.scenarios.push(crate::plan::ScenarioPlan { base_url: url.into(), ..scenario.clone() });
        }
        assert_eq!(targets(&plan), ["http://127.0.0.1:1", "http://b", "http://a"]);
    }
}
