//! The plan: a validated config resolved for one profile, ready to run.
//!
//! Building the plan is where semantic validation happens: every scenario,
//! every profile's executor settings and every threshold is checked, and all
//! problems are reported together with their paths.

mod checks;
mod describe;
pub(crate) mod journey;
pub(crate) mod objective;
pub mod proxy;
pub mod remote_write;
pub(crate) mod request;
pub mod secrets;
pub(crate) mod shard;
mod thresholds;
pub mod tls;

pub use journey::{JourneyPlan, Op};
pub use objective::{GoodEvents, Objective};
pub use request::{MetricFeed, RequestBody, RequestPlan, RequestUrl};
pub use thresholds::PlannedThreshold;

use crate::config::{AlertsConfig, Config, DaemonConfig, ThinkTime};
use crate::executor::ExecutorPlan;
use crate::model::defaults;
use crate::model::env::{interpolate, EnvVars};
use crate::model::metric::{Builtin, CustomKind, Metric, Tag};
use crate::model::problems::{ConfigError, Problems};
use reqwest::header::{HeaderMap, HeaderName};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

/// Everything one run (or one daemon generation) needs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: String,
    pub profile: String,
    pub listen: SocketAddr,
    pub scenarios: Vec<ScenarioPlan>,
    pub thresholds: Vec<PlannedThreshold>,
    pub custom: BTreeMap<String, CustomKind>,
    /// Latency bucket boundaries (seconds), including every latency threshold.
    pub buckets: Vec<f64>,
    pub daemon: DaemonConfig,
    pub alerts: AlertsConfig,
    /// Target headers as written (`Bearer ${API_KEY}`), for display only.
    pub header_templates: BTreeMap<String, String>,
    /// Set when this process makes only its shard of the load.
    pub shard: Option<shard::Shard>,
    /// Where the metrics are pushed, if anywhere.
    pub remote_write: Option<std::sync::Arc<remote_write::RemoteWritePlan>>,
}

impl Plan {
    /// The most VUs the plan's scenarios can have at once, together.
    pub fn peak_vus(&self) -> u64 {
        self.scenarios.iter().map(|s| s.executor.peak_vus()).sum()
    }

    /// Whether a threshold reads a request phase (`http_req_waiting`, ...).
    pub fn reads_phases(&self) -> bool {
        self.thresholds.iter().any(|t| matches!(t.metric, Metric::Builtin(Builtin::Phase(_))))
    }
}

#[derive(Debug, Clone)]
pub struct ScenarioPlan {
    pub name: String,
    pub description: Option<String>,
    pub base_url: String,
    pub executor: ExecutorPlan,
    /// Every request the scenario sends: its setup's steps, those picked by
    /// weight, every step of its journeys, its teardown's.
    pub requests: Vec<RequestPlan>,
    /// Where the requests picked by weight are in `requests` (empty with journeys).
    pub weighted: std::ops::Range<usize>,
    /// When not empty, an iteration is one of these, picked by weight.
    pub journeys: Vec<JourneyPlan>,
    /// k6 group paths of the journeys' groups (`::record answers`).
    pub groups: Vec<String>,
    /// Variable slots an iteration keeps.
    pub variables: usize,
    /// Run once before the load; its captures are every iteration's.
    pub setup: Option<journey::SetupPlan>,
    /// Run once after a run's load.
    pub teardown: Option<Vec<Op>>,
    /// Each VU keeps a cookie jar.
    pub cookies: bool,
    pub sleep: Option<ThinkTime>,
    /// Resolved target headers, marked sensitive; sent with every request.
    pub headers: HeaderMap,
    pub timeout: Duration,
    /// The scenario's `tls` block, else the target's.
    pub tls: tls::TlsPlan,
    /// The target's proxy, if it has one.
    pub proxy: Option<std::sync::Arc<proxy::ProxyPlan>>,
    /// What the plan sends that must not be shown (the same for every scenario).
    pub secrets: std::sync::Arc<secrets::Secrets>,
}

/// Label values come from the config; keep them plain so they are safe in PromQL and file names.
pub(crate) fn is_label_safe(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub(crate) const LABEL_HINT: &str = "\"{}\" is not a valid name; use letters, digits, \"_\" and \"-\" (at most 64)";

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every profile named anywhere in the config.
pub fn profile_names(config: &Config) -> BTreeSet<String> {
    config.scenarios.values().flat_map(|s| s.profiles.keys().cloned()).chain(config.profiles.keys().cloned()).collect()
}

/// Loads `source` and resolves it for `profile`; without one, the config's
/// `daemon.profile` when defined, else the first profile by name.
pub fn resolve(
    source: &crate::config::ConfigSource,
    profile: Option<&str>,
    env: &EnvVars,
) -> Result<Plan, ConfigError> {
    let config = crate::config::load(source, env)?;
    let profile = match profile {
        Some(p) => p.to_string(),
        None => {
            let names = profile_names(&config);
            if names.contains(&config.daemon.profile) {
                config.daemon.profile.clone()
            } else {
                names.into_iter().next().unwrap_or_else(|| config.daemon.profile.clone())
            }
        }
    };
    let mut plan = build(&config, &profile, env, &source.name())?;
    let text = source.text().unwrap_or_default();
    let secrets = std::sync::Arc::new(secrets::Secrets::of(&text, env, &plan.scenarios));
    for scenario in &mut plan.scenarios {
        scenario.secrets = secrets.clone();
    }
    Ok(plan)
}

/// Which part of a config a process plays.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// None: the config's `daemon.profile`.
    pub profile: Option<String>,
    /// Scenario names; empty or `all` means every scenario.
    pub scenarios: Vec<String>,
}

/// The plan this process plays: the config resolved for the selected
/// profile, only the selected scenarios (and the thresholds that can still
/// see one), this replica's shard (`SLOPROBER_SHARD_*`) applied.
pub fn load(source: &crate::config::ConfigSource, selection: &Selection, env: &EnvVars) -> Result<Plan, ConfigError> {
    let mut plan = resolve(source, selection.profile.as_deref(), env)?;
    let wanted: Vec<&String> = selection.scenarios.iter().filter(|s| s.as_str() != "all").collect();
    if let Some(unknown) = wanted.iter().find(|w| !plan.scenarios.iter().any(|s| &&s.name == *w)) {
        let known: Vec<&str> = plan.scenarios.iter().map(|s| s.name.as_str()).collect();
        let mut problems = Problems::default();
        problems
            .add("--scenario", format!("no scenario is named \"{unknown}\"; defined: {}, or all", known.join(", ")));
        return Err(problems.into_error(&plan.source));
    }
    if !wanted.is_empty() {
        plan.scenarios.retain(|s| wanted.contains(&&s.name));
        plan.thresholds
            .retain(|t| t.tags.get(&Tag::Scenario).is_none_or(|v| plan.scenarios.iter().any(|s| &s.name == v)));
    }
    apply_shard(&mut plan, env)?;
    Ok(plan)
}

/// Applies `SLOPROBER_SHARD_*` from `env`: this process makes its shard of every scenario.
fn apply_shard(plan: &mut Plan, env: &EnvVars) -> Result<(), ConfigError> {
    let shard = shard::Shard::from_env(env).map_err(|message| {
        let mut problems = Problems::default();
        problems.add("", message);
        problems.into_error("the environment")
    })?;
    if let Some(shard) = shard {
        for scenario in &mut plan.scenarios {
            scenario.executor = shard.apply(&scenario.executor);
        }
        plan.shard = Some(shard);
    }
    Ok(())
}

/// Validates the whole config and resolves it for `profile`.
pub fn build(config: &Config, profile: &str, env: &EnvVars, source: &str) -> Result<Plan, ConfigError> {
    let mut problems = Problems::default();
    let listen = config.metrics.listen.parse::<SocketAddr>().map_err(|_| {
        problems.add("metrics.listen", format!("\"{}\" is not an address like 0.0.0.0:9469", config.metrics.listen))
    });
    let vars: BTreeMap<String, String> = config
        .vars
        .iter()
        .filter_map(|(k, v)| {
            let path = format!("vars.{k}");
            if template_not_allowed(v, &path, "vars (they are fixed values)", &mut problems) {
                return None;
            }
            match interpolate(v, env) {
                Ok(value) => Some((k.clone(), value)),
                Err(e) => {
                    problems.add(path, e);
                    None
                }
            }
        })
        .collect();
    let (headers, header_templates) = target_headers(config, &vars, env, &mut problems);
    let base_url = resolve_base_url(&config.target.base_url, "target.base_url", env, &mut problems);
    let target_tls = config.target.tls.as_ref().map(|t| tls::TlsPlan::read(t, "target.tls", env, &mut problems));
    let target_proxy =
        config.target.proxy.as_ref().and_then(|p| proxy::ProxyPlan::read(p, "target.proxy", env, &mut problems));
    let remote_write = config
        .metrics
        .remote_write
        .as_ref()
        .and_then(|c| remote_write::RemoteWritePlan::read(c, "metrics.remote_write", env, &mut problems));
    for (name, _) in config.metrics.custom.iter() {
        if !is_metric_name(name) {
            problems.add(
                format!("metrics.custom.{name}"),
                "a metric name has letters, digits and \"_\", and does not start with a digit",
            );
        } else if Builtin::from_name(name).is_some() {
            problems
                .add(format!("metrics.custom.{name}"), format!("\"{name}\" is a built-in metric; pick another name"));
        }
    }
    if let Some(bad) = config.metrics.buckets.iter().find(|b| !(b.is_finite() && **b > 0.0)) {
        problems.add("metrics.buckets", format!("bucket boundaries are seconds greater than 0, got {bad}"));
    }
    for (i, burn) in config.alerts.burn_rates.iter().enumerate() {
        let path = format!("alerts.burn_rates[{i}]");
        if !(burn.factor.is_finite() && burn.factor > 0.0) {
            problems.add(format!("{path}.factor"), "must be greater than 0");
        }
        if burn.short >= burn.long {
            problems.add(&path, "short must be shorter than long");
        }
        if !is_label_safe(&burn.severity) {
            problems.add(format!("{path}.severity"), LABEL_HINT.replace("{}", &burn.severity));
        }
    }
    if config.alerts.cert_expires_within < Duration::from_secs(24 * 3600) {
        problems.add("alerts.cert_expires_within", "must be at least 1d (renewals take days)");
    }
    if config.alerts.fast_window < Duration::from_secs(2) {
        problems.add("alerts.fast_window", "must be at least 2s (two scrapes)");
    }
    if config.daemon.slo_window < Duration::from_secs(1) {
        problems.add("daemon.slo_window", "must be at least 1s");
    }
    let known_profiles = profile_names(config);
    if !known_profiles.contains(profile) {
        let list: Vec<&str> = known_profiles.iter().map(String::as_str).collect();
        problems.add("", format!("profile \"{profile}\" is not defined; defined profiles: {}", list.join(", ")));
    }
    let mut scenarios = Vec::new();
    let mut requests_by_scenario = Vec::new();
    for (name, scenario) in &config.scenarios {
        let path = format!("scenarios.{name}");
        if !is_label_safe(name) {
            problems.add(&path, LABEL_HINT.replace("{}", name));
        }
        let base = match &scenario.base_url {
            Some(url) => resolve_base_url(url, &format!("{path}.base_url"), env, &mut problems),
            None => base_url.clone(),
        };
        let cx = request::RequestContext {
            base_url: base.as_deref().unwrap_or("http://invalid"),
            vars: &vars,
            custom: &config.metrics.custom,
            default_headers: &headers,
            default_templates: &header_templates,
            env,
            timeout: config.target.timeout,
            max_body: config.target.max_body,
            max_redirects: config.target.max_redirects,
            variables: crate::template::Variables::none(),
        };
        if scenario.requests.is_empty() && scenario.journeys.is_empty() {
            problems.add(format!("{path}.requests"), "no requests; list at least one");
        }
        let compiled = journey::compile(scenario, &cx, &path, &mut problems);
        let tls = match &scenario.tls {
            Some(own) => tls::TlsPlan::read(own, &format!("{path}.tls"), env, &mut problems),
            None => target_tls.clone().unwrap_or_default(),
        };
        let requests = compiled.requests.clone();
        if let Some(sleep) = scenario.sleep.filter(|s| s.min > s.max) {
            problems.add(format!("{path}.sleep"), format!("min {:?} is more than max {:?}", sleep.min, sleep.max));
        }
        let mut selected = None;
        for (profile_name, settings) in &scenario.profiles {
            let plan = ExecutorPlan::from_settings(settings, &format!("{path}.profiles.{profile_name}"), &mut problems);
            if profile_name == profile {
                selected = plan;
            }
        }
        if !scenario.profiles.contains_key(profile) && known_profiles.contains(profile) {
            let list: Vec<&str> = scenario.profiles.keys().map(String::as_str).collect();
            problems.add(
                format!("{path}.profiles"),
                format!("no settings for profile \"{profile}\"; defined: {}", list.join(", ")),
            );
        }
        requests_by_scenario.push((name.as_str(), requests.clone(), compiled.groups.clone()));
        if let (Some(executor), Some(base)) = (selected, base.clone()) {
            scenarios.push(ScenarioPlan {
                name: name.clone(),
                description: scenario.description.clone(),
                base_url: base,
                executor,
                requests,
                weighted: compiled.weighted.clone(),
                journeys: compiled.journeys,
                groups: compiled.groups.clone(),
                variables: compiled.variables,
                setup: compiled.setup,
                teardown: compiled.teardown,
                cookies: scenario.cookies,
                sleep: scenario.sleep,
                headers: headers.clone(),
                timeout: config.target.timeout,
                tls,
                proxy: target_proxy.clone(),
                secrets: Default::default(),
            });
        }
    }
    let catalog: Vec<thresholds::ScenarioRequests<'_>> = requests_by_scenario
        .iter()
        .map(|(scenario, requests, groups)| thresholds::ScenarioRequests { scenario, requests, groups })
        .collect();
    let thresholds = thresholds::plan(config, profile, &catalog, &mut problems);
    let mut buckets: Vec<f64> = defaults::LATENCY_BUCKETS.iter().chain(&config.metrics.buckets).copied().collect();
    buckets.extend(thresholds.iter().filter(|t| t.metric.kind() == CustomKind::Trend).map(PlannedThreshold::limit));
    buckets.sort_by(f64::total_cmp);
    buckets.dedup();
    let Ok(listen) = listen else { return Err(problems.into_error(source)) };
    problems.finish(
        source,
        Plan {
            source: source.to_string(),
            profile: profile.to_string(),
            listen,
            scenarios,
            thresholds,
            custom: config.metrics.custom.clone(),
            buckets,
            daemon: config.daemon.clone(),
            alerts: config.alerts.clone(),
            header_templates: config.target.headers.clone(),
            shard: None,
            remote_write,
        },
    )
}

/// Records a problem when `text`, a field that is sent or compared as
/// written, holds a `{{ }}` template. Returns whether it did.
pub(crate) fn template_not_allowed(text: &str, path: &str, what: &str, problems: &mut Problems) -> bool {
    let found = text.contains("{{");
    if found {
        problems.add(
            path,
            format!("templates are not rendered in {what}; {{{{ }}}} works in a request's path, headers and body"),
        );
    }
    found
}

fn resolve_base_url(template: &str, path: &str, env: &EnvVars, problems: &mut Problems) -> Option<String> {
    if template_not_allowed(template, path, "base_url", problems) {
        return None;
    }
    let url = interpolate(template, env).map_err(|e| problems.add(path, e)).ok()?;
    match reqwest::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Some(url.trim_end_matches('/').to_string()),
        _ => {
            problems.add(path, format!("\"{url}\" is not an http(s) URL like http://127.0.0.1:8080"));
            None
        }
    }
}

/// The target's headers: fixed ones (resolved, sensitive), and those with a
/// `{{ }}` template, rendered per request.
fn target_headers(
    config: &Config,
    vars: &BTreeMap<String, String>,
    env: &EnvVars,
    problems: &mut Problems,
) -> (HeaderMap, Vec<(HeaderName, crate::template::Template)>) {
    let mut headers = HeaderMap::new();
    let mut templates = Vec::new();
    for (name, written) in &config.target.headers {
        let path = format!("target.headers.{name}");
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            problems.add(path, "invalid header name");
            continue;
        };
        match request::header_value(written, vars, crate::template::Variables::none(), env) {
            Err(e) => problems.add(path, e),
            Ok(request::HeaderValueTemplate::Fixed(mut value)) => {
                value.set_sensitive(true);
                headers.insert(header, value);
            }
            Ok(request::HeaderValueTemplate::PerRequest(template)) => templates.push((header, template)),
        }
    }
    (headers, templates)
}

/// For unit tests: the plan of one scenario `s` (profile `p`, one VU for 1 s
/// against 127.0.0.1:1) sending `requests`, a YAML list.
#[cfg(test)]
pub(crate) fn of_requests(requests: &str) -> Plan {
    let text = format!(
        "target: {{base_url: \"http://127.0.0.1:1\"}}\nscenarios:\n  s:\n    requests: {requests}\n    profiles: {{p: {{executor: constant-vus, vus: 1, duration: 1s}}}}\n"
    );
    let source = crate::config::ConfigSource::Text { name: "test".into(), text };
    resolve(&source, Some("p"), &EnvVars::new()).unwrap()
}
