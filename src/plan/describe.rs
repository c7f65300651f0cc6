//! The resolved plan as `sloprober check` prints it. Header values are shown
//! as written (`Bearer ${API_KEY}`), never resolved.

use super::{Plan, RequestBody};
use crate::config::duration;
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
        for (name, template) in &self.header_templates {
            writeln!(f, "header:  {name}: {template}")?;
        }
        for scenario in &self.scenarios {
            writeln!(f, "\nscenario {}  ({})", scenario.name, scenario.base_url)?;
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
            let total: u32 = scenario.requests.iter().map(|r| r.weight).sum();
            for request in &scenario.requests {
                let share = 100.0 * request.weight as f64 / total.max(1) as f64;
                let body = match request.body {
                    RequestBody::None => "",
                    RequestBody::Static(_) => " +body",
                    RequestBody::Json(_) | RequestBody::Text(_) => " +templated body",
                };
                writeln!(
                    f,
                    "  request {:<12} {:>5.1}%  {} {}{body}  timeout {}",
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
            }
        }
        Ok(())
    }
}
