//! Thresholds resolved for a profile: parsed, checked against the metric
//! catalog, split per owning service where several feed one, and named as
//! SLOs from what they say (never from where they stand in the file).

use super::objective::Objective;
use super::RequestPlan;
use crate::config::{Config, ThresholdEntry};
use crate::model::metric::CustomKind;
use crate::model::metric::{Builtin, Metric, Tag, Tags};
use crate::model::problems::Problems;
use crate::model::threshold::{parse_condition, parse_selector, Aggregation, Condition, Operator};
use std::collections::BTreeMap;
use std::time::Duration;

/// A threshold ready to evaluate, with the SLO it is exported as.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedThreshold {
    pub slo: String,
    pub metric: Metric,
    /// The tag filters, as written (plus `scenario` for a threshold split per scenario).
    pub tags: Tags,
    pub condition: Condition,
    pub expression: String,
    pub abort_on_fail: bool,
    pub delay_abort_eval: Option<Duration>,
    /// The service that owns the SLO (the `service` label of its alerts); None
    /// for thresholds that get no alert (counters, gauges).
    pub service: Option<String>,
    /// For SLO-shaped thresholds (latency percentiles, rates): what is good and how much must be.
    pub objective: Option<Objective>,
}

impl PlannedThreshold {
    /// The threshold's limit in base units (seconds for latency).
    pub fn limit(&self) -> f64 {
        self.metric.unit().to_base(self.condition.value)
    }

    /// The samples the threshold judges: its tags, and for latency only
    /// requests with an expected answer (a failed request is never a good
    /// latency event). The rendered SLI selects the same labels.
    pub fn selection(&self) -> Tags {
        let mut tags = self.tags.clone();
        if self.metric.tags().contains(&Tag::ExpectedResponse) {
            tags.insert(Tag::ExpectedResponse, "true".to_string());
        }
        tags
    }

    /// `http_req_duration{scenario:search}`, as k6 writes it.
    pub fn selector(&self) -> String {
        crate::model::metric::selector(&self.metric, &self.tags)
    }
}

/// A scenario's requests, for checking tags and finding who feeds a metric.
pub struct ScenarioRequests<'a> {
    pub scenario: &'a str,
    pub requests: &'a [RequestPlan],
    /// Its journeys' group paths.
    pub groups: &'a [String],
}

/// The thresholds in force for `profile`: the top level, with each metric the profile lists replaced.
pub fn plan(
    config: &Config,
    profile: &str,
    scenarios: &[ScenarioRequests<'_>],
    problems: &mut Problems,
) -> Vec<PlannedThreshold> {
    for (name, overrides) in &config.profiles {
        if name == profile {
            continue;
        }
        for (metric, entries) in &overrides.thresholds {
            let path = format!("profiles.{name}.thresholds.{metric}");
            for (i, entry) in entries.iter().enumerate() {
                check_one(config, scenarios, metric, entry, &format!("{path}[{i}]"), problems);
            }
        }
    }
    let mut merged: BTreeMap<&String, (String, &Vec<ThresholdEntry>)> =
        config.thresholds.iter().map(|(m, e)| (m, (format!("thresholds.{m}"), e))).collect();
    if let Some(overrides) = config.profiles.get(profile) {
        for (m, e) in &overrides.thresholds {
            if let Some((path, entries)) = merged.get(m) {
                // Replaced for this profile, still checked: another profile may use it.
                for (i, entry) in entries.iter().enumerate() {
                    check_one(config, scenarios, m, entry, &format!("{path}[{i}]"), problems);
                }
            }
            merged.insert(m, (format!("profiles.{profile}.thresholds.{m}"), e));
        }
    }
    let mut planned: Vec<(String, PlannedThreshold)> = Vec::new();
    for (metric, (path, entries)) in merged {
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("{path}[{i}]");
            for threshold in check_one(config, scenarios, metric, entry, &at, problems) {
                planned.push((at.clone(), threshold));
            }
        }
    }
    name_slos(&mut planned, problems);
    planned.into_iter().map(|(_, t)| t).collect()
}

/// One entry checked; several thresholds when it is split per scenario.
fn check_one(
    config: &Config,
    scenarios: &[ScenarioRequests<'_>],
    written: &str,
    entry: &ThresholdEntry,
    path: &str,
    problems: &mut Problems,
) -> Vec<PlannedThreshold> {
    let selector = parse_selector(written).map_err(|e| problems.add(path, e)).ok();
    let condition = parse_condition(&entry.expression).map_err(|e| problems.add(path, e)).ok();
    let (Some(selector), Some(condition)) = (selector, condition) else { return Vec::new() };
    let Some(metric) = Metric::find(&selector.name, &config.metrics.custom) else {
        problems.add(
            path,
            format!("unknown metric \"{}\"; use a built-in (http_req_duration, http_req_failed, checks, ...) or one declared in metrics.custom", selector.name),
        );
        return Vec::new();
    };
    let kind = metric.kind();
    if !condition.aggregation.fits(kind) {
        problems.add(
            path,
            format!(
                "{} does not apply to {} (a {}); use {}",
                condition.aggregation,
                metric,
                kind.name(),
                Aggregation::allowed_for(kind)
            ),
        );
        return Vec::new();
    }
    let Some(tags) = check_tags(&metric, &selector.tags, scenarios, path, problems) else { return Vec::new() };
    if let Some(service) = &entry.service {
        if !crate::model::metric::is_label_safe(service) {
            problems.add(format!("{path}.service"), crate::model::metric::LABEL_HINT.replace("{}", service));
            return Vec::new();
        }
    }
    let objective = Objective::of(&metric, &condition);
    let alerted = matches!(kind, CustomKind::Trend | CustomKind::Rate);
    let feeding = feeding_scenarios(&metric, &tags, scenarios);
    if metric.is_fed_by_requests() && feeding.is_empty() {
        if config_feeds(config, metric.name()) {
            // A request that feeds it failed to compile; its own problem says why.
            return Vec::new();
        }
        problems.add(
            path,
            format!("no request feeds {metric}; name it as a request's trend, rate, counter or gauge, or drop the threshold"),
        );
        return Vec::new();
    }
    let one = |tags: Tags, service: Option<String>| PlannedThreshold {
        slo: String::new(),
        metric: metric.clone(),
        tags,
        condition,
        expression: entry.expression.clone(),
        abort_on_fail: entry.abort_on_fail,
        delay_abort_eval: entry.delay_abort_eval,
        service,
        objective,
    };
    if !alerted {
        return vec![one(tags, None)];
    }
    match (&entry.service, feeding.as_slice()) {
        (Some(service), _) => vec![one(tags, Some(service.clone()))],
        (None, [only]) => vec![one(tags, Some(only.to_string()))],
        // Several services feed it: one SLO per scenario, each owned by its own.
        (None, many) => many
            .iter()
            .map(|scenario| {
                let mut split = tags.clone();
                split.insert(Tag::Scenario, scenario.to_string());
                one(split, Some(scenario.to_string()))
            })
            .collect(),
    }
}

/// Parses and checks each `key:value` against the metric's labels and the config.
fn check_tags(
    metric: &Metric,
    written: &[(String, String)],
    scenarios: &[ScenarioRequests<'_>],
    path: &str,
    problems: &mut Problems,
) -> Option<Tags> {
    let allowed = metric.tags();
    let allowed_list = allowed.iter().map(|t| t.key()).collect::<Vec<_>>().join(", ");
    let mut tags = Tags::new();
    for (key, value) in written {
        let Some(tag) = Tag::from_key(key).filter(|t| allowed.contains(t)) else {
            let hint = match (metric, key.as_str()) {
                (Metric::Custom { .. }, "request") => {
                    "; one request's own latency or failures are http_req_duration{request:...} and http_req_failed{request:...}"
                }
                _ => "",
            };
            problems.add(
                path,
                format!("{metric} has no tag \"{key}\"; its series are labelled {allowed_list}, so a threshold on it filters on those{hint}"),
            );
            return None;
        };
        if tags.insert(tag, value.clone()).is_some() {
            problems.add(path, format!("the tag \"{key}\" is given twice"));
            return None;
        }
    }
    let in_scope = |s: &&ScenarioRequests<'_>| tags.get(&Tag::Scenario).is_none_or(|name| name == s.scenario);
    for (tag, value) in &tags {
        let known = match tag {
            Tag::Scenario => scenarios.iter().any(|s| s.scenario == value),
            Tag::Request => scenarios.iter().filter(in_scope).any(|s| s.requests.iter().any(|r| &r.name == value)),
            Tag::Check => scenarios
                .iter()
                .filter(in_scope)
                .flat_map(|s| s.requests.iter())
                .filter(|r| tags.get(&Tag::Request).is_none_or(|name| name == &r.name))
                .any(|r| r.checks.iter().any(|c| &c.name == value)),
            Tag::Group => scenarios.iter().filter(in_scope).any(|s| s.groups.contains(value)),
            Tag::ExpectedResponse => match value.as_str() {
                "true" => true,
                "false" => {
                    problems.add(path, "expected_response:false selects failed requests, and a failed request is never a good latency event; judge failures with http_req_failed or a Rate");
                    return None;
                }
                _ => {
                    problems.add(path, format!("expected_response is true or false, got \"{value}\""));
                    return None;
                }
            },
        };
        if !known {
            let within = match (tag, tags.get(&Tag::Scenario)) {
                (Tag::Request | Tag::Check, Some(scenario)) => format!(" in scenario \"{scenario}\""),
                _ => String::new(),
            };
            problems.add(path, format!("no {} is named \"{value}\"{within}", tag.key()));
            return None;
        }
    }
    Some(tags)
}

/// Whether any request as written names `name` as its trend, rate, counter or gauge.
fn config_feeds(config: &Config, name: &str) -> bool {
    config.scenarios.values().flat_map(|s| s.every_request()).any(|r| {
        [
            r.trend.as_deref(),
            r.rate.as_ref().map(|r| r.name.as_str()),
            r.counter.as_ref().map(|c| c.name.as_str()),
            r.gauge.as_ref().map(|g| g.name.as_str()),
        ]
        .contains(&Some(name))
    })
}

/// Whether any of `scenarios` makes samples `threshold` judges.
pub fn concerns(threshold: &PlannedThreshold, scenarios: &[ScenarioRequests<'_>]) -> bool {
    let metric = &threshold.metric;
    let by_requests = metric.is_fed_by_requests() || *metric == Metric::Builtin(Builtin::GroupDuration);
    if by_requests {
        !feeding_scenarios(metric, &threshold.tags, scenarios).is_empty()
    } else {
        threshold.tags.get(&Tag::Scenario).is_none_or(|name| scenarios.iter().any(|s| s.scenario == name))
    }
}

/// The scenarios whose requests feed `metric` and match `tags`, in config order.
fn feeding_scenarios<'a>(metric: &Metric, tags: &Tags, scenarios: &[ScenarioRequests<'a>]) -> Vec<&'a str> {
    scenarios
        .iter()
        .filter(|s| tags.get(&Tag::Scenario).is_none_or(|name| name == s.scenario))
        .filter(|s| tags.get(&Tag::Group).is_none_or(|group| s.groups.contains(group)))
        .filter(|s| metric != &Metric::Builtin(Builtin::GroupDuration) || !s.groups.is_empty())
        .filter(|s| {
            s.requests.iter().any(|r| {
                let named = tags.get(&Tag::Request).is_none_or(|name| name == &r.name);
                let feeds = match metric {
                    Metric::Builtin(_) => true,
                    Metric::Custom { name, .. } => r.feeds(name),
                };
                named && feeds
            })
        })
        .map(|s| s.scenario)
        .collect()
}

/// Names each SLO from its metric, tags and aggregation (`generate_duration_p95`,
/// `errors_gateway_rate`). Where two share that name, both add their tag keys
/// and condition (`..._p95_lt300`). The same threshold twice is a problem.
fn name_slos(planned: &mut Vec<(String, PlannedThreshold)>, problems: &mut Problems) {
    let mut kept: Vec<(String, PlannedThreshold)> = Vec::new();
    for (path, t) in planned.drain(..) {
        let same =
            |k: &PlannedThreshold| k.metric == t.metric && k.selection() == t.selection() && k.condition == t.condition;
        match kept.iter().find(|(_, k)| same(k)) {
            Some((first, _)) if first != &path => problems.add(&path, format!("the same threshold as {first}")),
            Some(_) => {}
            None => kept.push((path, t)),
        }
    }
    let short: Vec<String> = kept.iter().map(|(_, t)| short_name(t)).collect();
    for i in 0..kept.len() {
        let clash = short.iter().enumerate().any(|(j, name)| j != i && name == &short[i]);
        kept[i].1.slo = if clash { long_name(&kept[i].1) } else { short[i].clone() };
    }
    *planned = kept;
}

fn aggregation_word(aggregation: Aggregation) -> String {
    match aggregation {
        Aggregation::Percentile(p) => format!("p{}", p.to_string().replace('.', "_")),
        other => other.to_string(),
    }
}

/// Letters, digits and `_`: each run of other characters (`-`, `.`, a
/// group's spaces and `::`) becomes one `_`.
fn sanitize(name: String) -> String {
    let mut out = String::with_capacity(name.len());
    let mut replaced = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            replaced = false;
        } else if !replaced {
            out.push('_');
            replaced = true;
        }
    }
    out
}

/// A tag's value as it goes into an SLO name: a group path without its leading `::`.
fn name_part(tag: Tag, value: &str) -> &str {
    match tag {
        Tag::Group => value.trim_start_matches("::"),
        _ => value,
    }
}

fn short_name(t: &PlannedThreshold) -> String {
    let mut name = t.metric.name().to_string();
    for (tag, value) in &t.tags {
        if *tag != Tag::ExpectedResponse {
            name.push('_');
            name.push_str(name_part(*tag, value));
        }
    }
    sanitize(format!("{name}_{}", aggregation_word(t.condition.aggregation)))
}

fn long_name(t: &PlannedThreshold) -> String {
    let mut name = t.metric.name().to_string();
    for (tag, value) in t.tags.iter().filter(|(tag, _)| **tag != Tag::ExpectedResponse) {
        name.push_str(&format!("_{}_{}", tag.key(), name_part(*tag, value)));
    }
    let operator = match t.condition.operator {
        Operator::Lt => "lt",
        Operator::Le => "le",
        Operator::Gt => "gt",
        Operator::Ge => "ge",
        Operator::Eq => "eq",
        Operator::Ne => "ne",
    };
    sanitize(format!("{name}_{}_{operator}{}", aggregation_word(t.condition.aggregation), t.condition.value))
}

#[cfg(test)]
mod tests {
    use crate::config::Loaded;
    use crate::model::env::EnvVars;
    use crate::plan::{resolve, Plan};

    /// Two scenarios that both feed the Rate `errors`; only gateway feeds the Trend `generate`.
    fn config(thresholds: &str) -> String {
        format!(
            "target: {{base_url: \"http://127.0.0.1:1\"}}\nmetrics: {{custom: {{errors: rate, generate: trend}}}}\n\
             scenarios:\n  gateway:\n    requests: [{{name: gen, path: /g, rate: errors, trend: generate}}]\n\
             \x20   profiles: {{p: {{executor: constant-vus, vus: 1, duration: 1s}}, q: {{executor: constant-vus, vus: 1, duration: 1s}}}}\n\
             \x20 search:\n    requests: [{{name: find, path: /s, rate: errors}}]\n\
             \x20   profiles: {{p: {{executor: constant-vus, vus: 1, duration: 1s}}, q: {{executor: constant-vus, vus: 1, duration: 1s}}}}\n\
             thresholds:\n{thresholds}"
        )
    }

    fn plan(thresholds: &str, profile: &str) -> Result<Plan, Vec<String>> {
        resolve(&Loaded::new("t", config(thresholds)), Some(profile), &EnvVars::new()).map_err(|e| match e {
            crate::model::problems::ConfigError::Invalid { problems, .. } => {
                problems.iter().map(|p| p.to_string()).collect()
            }
            other => vec![other.to_string()],
        })
    }

    /// (SLO name, owning service, selector) of each planned threshold.
    fn slos(thresholds: &str) -> Vec<(String, Option<String>, String)> {
        let plan = plan(thresholds, "p").unwrap_or_else(|problems| panic!("{problems:?}"));
        plan.thresholds.iter().map(|t| (t.slo.clone(), t.service.clone(), t.selector())).collect()
    }

    fn owned(slo: &str, service: &str, selector: &str) -> (String, Option<String>, String) {
        (slo.into(), Some(service.into()), selector.into())
    }

    #[test]
    fn a_threshold_fed_by_several_scenarios_is_one_slo_per_scenario_unless_it_names_its_owner() {
        assert_eq!(
            slos("  errors: [\"rate<0.01\"]\n"),
            [
                owned("errors_gateway_rate", "gateway", "errors{scenario:gateway}"),
                owned("errors_search_rate", "search", "errors{scenario:search}")
            ]
        );
        assert_eq!(
            slos("  errors: [{threshold: \"rate<0.01\", service: platform}]\n"),
            [owned("errors_rate", "platform", "errors")]
        );
        assert_eq!(slos("  generate: [\"p(95)<300\"]\n"), [owned("generate_p95", "gateway", "generate")]);
    }

    #[test]
    fn names_come_from_what_a_threshold_says_and_grow_only_where_two_would_clash() {
        let names: Vec<String> = slos(
            "  \"http_req_duration{scenario:search}\": [\"p(95)<300\", \"p(95)<500\"]\n  generate: [\"med<200\"]\n",
        )
        .into_iter()
        .map(|(slo, _, _)| slo)
        .collect();
        assert_eq!(
            names,
            [
                "generate_med",
                "http_req_duration_scenario_search_p95_lt300",
                "http_req_duration_scenario_search_p95_lt500"
            ]
        );
    }

    #[test]
    fn a_profile_replaces_the_thresholds_of_the_metrics_it_lists() {
        let text = "  errors: [{threshold: \"rate<0.01\", service: s}]\n  generate: [\"p(95)<300\"]\n\
                    profiles:\n  q: {thresholds: {errors: [{threshold: \"rate<0.005\", service: s}]}}\n";
        let expressions = |profile| -> Vec<String> {
            plan(text, profile)
                .unwrap()
                .thresholds
                .iter()
                .map(|t| format!("{} {}", t.selector(), t.expression))
                .collect()
        };
        assert_eq!(expressions("p"), ["errors rate<0.01", "generate p(95)<300"]);
        assert_eq!(expressions("q"), ["errors rate<0.005", "generate p(95)<300"]);
    }

    #[test]
    fn a_threshold_that_cannot_be_judged_is_a_problem_at_its_path() {
        for (thresholds, problem) in [
            (
                "  \"generate{request:gen}\": [\"p(95)<300\"]\n",
                "thresholds.generate{request:gen}[0]: generate has no tag \"request\"; its series are labelled scenario, expected_response",
            ),
            (
                "  \"http_req_duration{expected_response:false}\": [\"p(95)<300\"]\n",
                "thresholds.http_req_duration{expected_response:false}[0]: expected_response:false selects failed requests",
            ),
            ("  errors: [\"p(95)<300\"]\n", "thresholds.errors[0]: p(95) does not apply to errors (a rate); use rate"),
            ("  errors: [\"rate<0.1\", \"rate<0.1\"]\n", "thresholds.errors[1]: the same threshold as thresholds.errors[0]"),
            ("  \"http_req_duration{scenario:nope}\": [\"p(95)<300\"]\n", "no scenario is named \"nope\""),
        ] {
            let problems = plan(thresholds, "p").unwrap_err();
            assert!(problems.iter().any(|p| p.contains(problem)), "{thresholds}: {problems:?}");
        }
    }

    #[test]
    fn a_run_of_some_scenarios_keeps_only_the_thresholds_they_feed() {
        let plan =
            plan("  errors: [\"rate<0.01\"]\n  generate: [\"p(95)<300\"]\n  iterations: [\"count>0\"]\n", "p").unwrap();
        let search: Vec<super::ScenarioRequests<'_>> = plan
            .scenarios
            .iter()
            .filter(|s| s.name == "search")
            .map(|s| super::ScenarioRequests { scenario: &s.name, requests: &s.requests, groups: &s.groups })
            .collect();
        let kept: Vec<&str> =
            plan.thresholds.iter().filter(|t| super::concerns(t, &search)).map(|t| t.slo.as_str()).collect();
        assert_eq!(kept, ["errors_search_rate", "iterations_count"]);
    }
}
