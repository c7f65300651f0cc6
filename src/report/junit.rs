//! The verdict as JUnit XML, which every CI system reads: one test case per
//! threshold, a failed threshold a `<failure>` with its observed value.
//! The layout is the Ant / Jenkins one (`testsuites` > `testsuite` > `testcase`).

use super::format::{escape, format_observed};
use super::RunOutcome;
use std::fmt::Write;

/// The JUnit report of an outcome.
pub fn junit(outcome: &RunOutcome) -> String {
    let plan = &outcome.plan;
    let seconds = outcome.snapshot.elapsed.as_secs_f64();
    let failures = outcome.verdicts.iter().filter(|v| !v.passed).count();
    let skipped = outcome.verdicts.iter().filter(|v| v.passed && !v.has_data()).count();
    let tests = outcome.verdicts.len();
    let suite = format!("sloprober {}", plan.profile);
    let timestamp = humantime::format_rfc3339_seconds(outcome.started_at).to_string();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"sloprober\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{seconds:.3}\">"
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{seconds:.3}\" timestamp=\"{}\">",
        escape(&suite),
        escape(timestamp.trim_end_matches('Z'))
    );
    let _ = writeln!(xml, "    <properties>");
    let _ = writeln!(xml, "      <property name=\"profile\" value=\"{}\"/>", escape(&plan.profile));
    let _ = writeln!(xml, "      <property name=\"run_id\" value=\"{}\"/>", escape(&outcome.run_id));
    for scenario in &plan.scenarios {
        let _ = writeln!(
            xml,
            "      <property name=\"target.{}\" value=\"{}\"/>",
            escape(&scenario.name),
            escape(&scenario.base_url)
        );
    }
    if outcome.shards > 1 {
        let _ = writeln!(xml, "      <property name=\"shards\" value=\"{}\"/>", outcome.shards);
    }
    let _ = writeln!(xml, "    </properties>");
    for (threshold, verdict) in plan.thresholds.iter().zip(&outcome.verdicts) {
        let name = format!("{}: {} {}", threshold.slo, threshold.selector(), threshold.expression);
        let classname =
            format!("sloprober.{}.{}", plan.profile, threshold.service.as_deref().unwrap_or(&threshold.slo));
        let _ = write!(xml, "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"", escape(&name), escape(&classname));
        let observed = format_observed(threshold, verdict);
        if !verdict.passed {
            let mut message =
                format!("observed {observed}, threshold {} {}", threshold.selector(), threshold.expression);
            if outcome.aborted_by.as_deref() == Some(threshold.slo.as_str()) && threshold.abort_on_fail {
                message.push_str("; it stopped the run (abort_on_fail)");
            }
            let _ = writeln!(xml, ">");
            let _ = writeln!(
                xml,
                "      <failure message=\"{}\" type=\"threshold\">{}</failure>",
                escape(&message),
                escape(&message)
            );
            let _ = writeln!(xml, "    </testcase>");
        } else if !verdict.has_data() {
            let _ = writeln!(xml, ">");
            let _ =
                writeln!(xml, "      <skipped message=\"no data: nothing fed {}\"/>", escape(&threshold.selector()));
            let _ = writeln!(xml, "    </testcase>");
        } else {
            let _ = writeln!(xml, ">");
            let _ = writeln!(xml, "      <system-out>observed {}</system-out>", escape(&observed));
            let _ = writeln!(xml, "    </testcase>");
        }
    }
    let _ = writeln!(xml, "  </testsuite>");
    let _ = writeln!(xml, "</testsuites>");
    xml
}
