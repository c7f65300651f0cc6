//! The resolved plan as `sloprober check` prints it. Header values are shown
//! as written (`Bearer ${API_KEY}`), never resolved.

use super::journey::{Op, Passes};
use super::{Plan, RequestBody, ScenarioPlan};
use crate::model::duration;
use std::fmt;

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "config:  {}", self.source)?;
        writeln!(f, "profile: {}", self.profile)?;
        if let Some(shard) = self.shard {
            writeln!(
                f,
                "shard:   {} of {} (this process makes 1/{} of the load)",
                shard.index, shard.count, shard.count
            )?;
        }
        writeln!(f, "metrics: http://{}/metrics", self.listen)?;
        if let Some(rw) = &self.remote_write {
            // The receiver and the names of the headers sent, never their values.
            let headers: Vec<&str> = rw.headers.keys().map(|h| h.as_str()).collect();
            let headers = if headers.is_empty() { String::new() } else { format!(", headers {}", headers.join(", ")) };
            writeln!(f, "remote write: {} every {}{headers}", rw.receiver(), duration::format(rw.interval))?;
        }
        for (name, template) in &self.header_templates {
            writeln!(f, "header:  {name}: {template}")?;
        }
        for scenario in &self.scenarios {
            writeln!(f, "\nscenario {}  ({})", scenario.name, scenario.base_url)?;
            if let Some(proxy) = &scenario.proxy {
                // Where it is, never its credentials.
                let login = if proxy.authorization.is_some() { ", with credentials" } else { "" };
                writeln!(f, "  proxy:    {}:{}{login}", proxy.host, proxy.port)?;
            }
            if let Some(description) = &scenario.description {
                writeln!(f, "  {description}")?;
            }
            writeln!(f, "  executor: {}", scenario.executor.describe())?;
            if let Some(sleep) = scenario.sleep {
                if sleep.min == sleep.max {
                    writeln!(f, "  sleep:    {}", duration::format(sleep.min))?;
                } else {
                    writeln!(f, "  sleep:    {}..{}", duration::format(sleep.min), duration::format(sleep.max))?;
                }
            }
            describe_journeys(f, scenario)?;
            let total: u32 = scenario.requests[scenario.weighted.clone()].iter().map(|r| r.weight).sum();
            for (i, request) in scenario.requests.iter().enumerate() {
                let share = if scenario.weighted.contains(&i) {
                    format!("{:>5.1}%", 100.0 * request.weight as f64 / total.max(1) as f64)
                } else {
                    "  step".to_string()
                };
                let body = match request.body {
                    RequestBody::None => "",
                    RequestBody::Static(_) => " +body",
                    RequestBody::Json(_) | RequestBody::Text(_) | RequestBody::Form(_) => " +templated body",
                    RequestBody::Multipart(_) => " +multipart body",
                };
                writeln!(
                    f,
                    "  request {:<12} {}  {} {}{body}  timeout {}",
                    request.name,
                    share,
                    request.method,
                    request.path_template,
                    duration::format(request.timeout)
                )?;
                for check in &request.checks {
                    writeln!(f, "    check: {}", check.name)?;
                }
                let feeds: Vec<String> = [
                    request.trend.as_ref().map(|t| format!("trend {t}")),
                    request.rate.as_ref().map(|r| format!("rate {r}")),
                    request.counter.as_ref().map(|c| format!("counter {}", c.name)),
                    request.gauge.as_ref().map(|g| format!("gauge {}", g.name)),
                ]
                .into_iter()
                .flatten()
                .collect();
                if !feeds.is_empty() {
                    writeln!(f, "    feeds: {}", feeds.join(", "))?;
                }
            }
        }
        if !self.thresholds.is_empty() {
            writeln!(f, "\nthresholds:")?;
            for t in &self.thresholds {
                let abort = if t.abort_on_fail { "  (abort_on_fail)" } else { "" };
                let owner = t.service.as_ref().map(|s| format!(", service {s}")).unwrap_or_default();
                writeln!(f, "  {:<36} {:<14} slo {}{owner}{abort}", t.selector(), t.expression, t.slo)?;
                if let Some(objective) = t.objective {
                    writeln!(f, "    counts as good: {}", objective.describe_good(&t.metric))?;
                }
            }
        }
        Ok(())
    }
}

/// The setup, each journey's share and its steps, and the teardown, indented by block.
fn describe_journeys(f: &mut fmt::Formatter<'_>, scenario: &ScenarioPlan) -> fmt::Result {
    if let Some(setup) = &scenario.setup {
        let every = setup.every.map(|e| format!(", again every {} (daemon)", duration::format(e))).unwrap_or_default();
        writeln!(f, "  setup (once before the load{every})")?;
        describe_program(f, scenario, &setup.program)?;
    }
    let total: u32 = scenario.journeys.iter().map(|j| j.weight).sum();
    for journey in &scenario.journeys {
        let share = 100.0 * journey.weight as f64 / total.max(1) as f64;
        writeln!(f, "  journey {} {share:.1}%", journey.name)?;
        describe_program(f, scenario, &journey.program)?;
    }
    if let Some(teardown) = &scenario.teardown {
        writeln!(f, "  teardown (once after a run)")?;
        describe_program(f, scenario, teardown)?;
    }
    Ok(())
}

fn describe_program(f: &mut fmt::Formatter<'_>, scenario: &ScenarioPlan, program: &[Op]) -> fmt::Result {
    let mut depth = 2;
    for op in program {
        let always = if op.always() && !matches!(op, Op::Leave { .. }) { "  (always)" } else { "" };
        let pad = "  ".repeat(depth);
        match op {
            Op::Request(step) => describe_request(f, scenario, step, &pad, always)?,
            Op::Sleep { think, .. } if think.min == think.max => {
                writeln!(f, "{pad}sleep {}{always}", duration::format(think.min))?
            }
            Op::Sleep { think, .. } => {
                writeln!(f, "{pad}sleep {}..{}{always}", duration::format(think.min), duration::format(think.max))?
            }
            Op::Set { values, .. } => writeln!(f, "{pad}set {} value(s){always}", values.len())?,
            Op::Enter(block) => {
                let name = block.group.map(|g| format!("group {}", scenario.groups[g])).unwrap_or("block".into());
                let passes = match &block.passes {
                    Passes::Once => String::new(),
                    Passes::Times { count, .. } => format!(" x{count}"),
                    Passes::Each { items, .. } => format!(" for each of {} items", items.len()),
                };
                writeln!(f, "{pad}{name}{passes}{}{always}", when_text(block.when.as_ref()))?;
                depth += 1;
            }
            Op::Leave { .. } => depth -= 1,
            Op::Parallel(parallel) => {
                let name = parallel.group.map(|g| format!("group {}, ", scenario.groups[g])).unwrap_or_default();
                let (count, at_once) = (parallel.branches.len(), parallel.per_host);
                let when = when_text(parallel.when.as_ref());
                writeln!(f, "{pad}{name}{count} requests in parallel, at most {at_once} at once{when}{always}")?;
                let inner = "  ".repeat(depth + 1);
                for branch in &parallel.branches {
                    describe_request(
                        f,
                        scenario,
                        &branch.step,
                        &inner,
                        if branch.step.always { "  (always)" } else { "" },
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn describe_request(
    f: &mut fmt::Formatter<'_>,
    scenario: &ScenarioPlan,
    step: &crate::plan::journey::RequestStep,
    pad: &str,
    always: &str,
) -> fmt::Result {
    let request = &scenario.requests[step.request];
    let captures = if step.captures.is_empty() { String::new() } else { format!("  captures {}", step.captures.len()) };
    let when = when_text(step.when.as_ref());
    writeln!(f, "{pad}{} {} {}{captures}{when}{always}", request.name, request.method, request.path_template)
}

/// When a step or block runs, if only sometimes.
fn when_text(when: Option<&crate::plan::journey::When>) -> String {
    use crate::plan::journey::When;
    match when {
        None => String::new(),
        Some(When::Every(n)) => format!("  when every {n}th iteration of its VU"),
        Some(When::Chance(p)) => format!("  when chance {p}"),
        Some(When::Expr(expr)) => format!("  when {}", expr.source()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Loaded;
    use crate::model::env::EnvVars;

    #[test]
    fn check_shows_when_a_step_runs() {
        let text =
            "target: {base_url: \"http://127.0.0.1:1\"}\nscenarios:\n  s:\n    journeys:\n      j:\n        steps:\n\
                    \x20         - {name: a, path: /}\n\
                    \x20         - {name: health, path: /health, when: {every: 10}}\n\
                    \x20         - {name: maybe, path: /maybe, when: {chance: 0.5}}\n\
                    \x20   profiles: {p: {executor: constant-vus, vus: 1, duration: 1s}}\n";
        let shown = crate::plan::resolve(&Loaded::new("t", text), Some("p"), &EnvVars::new()).unwrap().to_string();
        assert!(shown.contains("health GET /health  when every 10th iteration of its VU"), "{shown}");
        assert!(shown.contains("maybe GET /maybe  when chance 0.5"), "{shown}");
    }

    #[test]
    fn check_says_which_events_each_slo_counts_as_good() {
        let text = "target: {base_url: \"http://127.0.0.1:1\"}\nmetrics: {custom: {errors: rate}}\n\
                    scenarios:\n  s:\n    requests: [{name: r, path: /, rate: errors}]\n\
                    \x20   profiles: {p: {executor: constant-vus, vus: 1, duration: 1s}}\n\
                    thresholds:\n  http_req_failed: [\"rate<0.01\"]\n  http_req_duration: [\"p(95)<300\"]\n  errors: [\"rate<0.05\"]\n";
        let shown = crate::plan::resolve(&Loaded::new("t", text), Some("p"), &EnvVars::new()).unwrap().to_string();
        for good in [
            "counts as good: a request answered with an expected status (a failed check does not make it failed)",
            "counts as good: an answer with an expected status (its checks aside) within 300 ms",
            "counts as good: errors is false: the request's status was expected and its checks passed",
        ] {
            assert!(shown.contains(good), "{shown}");
        }
    }
}
