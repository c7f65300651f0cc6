//! The plan: a validated config resolved for one profile, ready to run.
//!
//! Building the plan is where semantic validation happens: every scenario,
//! every profile's executor settings and every threshold is checked, and all
//! problems are reported together with their paths.

mod body;
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
pub use request::{MetricFeed, RateTruth, RequestBody, RequestPlan, RequestUrl};
pub use thresholds::PlannedThreshold;

use crate::config::{AlertsConfig, Config, DaemonConfig, Loaded, ThinkTime};
use crate::executor::{ExecutorPlan, Shortcuts};
use crate::model::defaults;
use crate::model::env::{interpolate, EnvVars};
use crate::model::metric::{is_label_safe, Builtin, CustomKind, Metric, LABEL_HINT};
use crate::model::problems::{ConfigError, Problems};
use crate::model::threshold::Aggregation;
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
    /// The columns of a Trend in the k6-shaped summaries, as written (`p(95)`) and computed.
    pub summary_trend_stats: Vec<(String, Aggregation)>,
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
    /// Whose idle connections a request reuses.
    pub connections: crate::config::Connections,
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

/// Every profile named anywhere in the config.
pub fn profile_names(config: &Config) -> BTreeSet<String> {
    config.scenarios.values().flat_map(|s| s.profiles.keys().cloned()).chain(config.profiles.keys().cloned()).collect()
}

/// Resolves a config read once for `profile`; without one, the config's
/// `daemon.profile` when defined, else the first profile by name.
pub fn resolve(loaded: &Loaded, profile: Option<&str>, env: &EnvVars) -> Result<Plan, ConfigError> {
    let config = crate::config::parse(loaded, env)?;
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
    let mut plan = build(&config, &profile, env, &loaded.name)?;
    let secrets = std::sync::Arc::new(secrets::Secrets::of(&loaded.text, env, &plan.scenarios));
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
    /// `--vus`, `--duration`, `--iterations`: every selected scenario's executor, when given.
    pub shortcuts: Shortcuts,
}

/// The plan this process plays: the config resolved for the selected
/// profile, only the selected scenarios (and the thresholds that can still
/// see one), this replica's shard (`SLOPROBER_SHARD_*`) applied.
pub fn load(loaded: &Loaded, selection: &Selection, env: &EnvVars) -> Result<Plan, ConfigError> {
    let mut plan = resolve(loaded, selection.profile.as_deref(), env)?;
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
        // What only the scenarios left out feed is left out too: no "no data" line for what did not run.
        let Plan { scenarios, thresholds: kept, custom, .. } = &mut plan;
        let selected: Vec<thresholds::ScenarioRequests<'_>> = scenarios
            .iter()
            .map(|s| thresholds::ScenarioRequests { scenario: &s.name, requests: &s.requests, groups: &s.groups })
            .collect();
        kept.retain(|t| thresholds::concerns(t, &selected));
        custom.retain(|name, _| scenarios.iter().any(|s| s.requests.iter().any(|r| r.feeds(name))));
    }
    apply_shortcuts(&mut plan, &selection.shortcuts)?;
    apply_shard(&mut plan, env)?;
    Ok(plan)
}

/// Replaces every scenario's executor with what k6's `--vus`, `--duration`
/// and `--iterations` stand for, when given.
fn apply_shortcuts(plan: &mut Plan, shortcuts: &Shortcuts) -> Result<(), ConfigError> {
    let Some(settings) = shortcuts.settings() else {
        if shortcuts.vus.is_some() {
            tracing::warn!("--vus alone changes nothing, as in k6: give --duration or --iterations with it");
        }
        return Ok(());
    };
    let mut problems = Problems::default();
    if let Some(executor) = ExecutorPlan::from_settings(&settings, "--vus/--duration/--iterations", &mut problems) {
        for scenario in &mut plan.scenarios {
            scenario.executor = executor.clone();
        }
    }
    problems.finish("the command line", ())
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

/// Validates the whole config and resolves it for `profile`, in named
/// passes that each add their problems (with paths) to one list: every
/// problem is reported, in the order of the file's sections.
pub fn build(config: &Config, profile: &str, env: &EnvVars, source: &str) -> Result<Plan, ConfigError> {
    let mut problems = Problems::default();
    let listen = config.metrics.listen_address(&mut problems);
    let target = ResolvedTarget::read(config, env, &mut problems);
    let remote_write = config
        .metrics
        .remote_write
        .as_ref()
        .and_then(|c| remote_write::RemoteWritePlan::read(c, "metrics.remote_write", env, &mut problems));
    config.metrics.check(&mut problems);
    let summary_trend_stats = config.metrics.trend_stats(&mut problems);
    config.alerts.check(&mut problems);
    config.daemon.check(&mut problems);
    let known_profiles = profile_names(config);
    if !known_profiles.contains(profile) {
        let list: Vec<&str> = known_profiles.iter().map(String::as_str).collect();
        problems.add("", format!("profile \"{profile}\" is not defined; defined profiles: {}", list.join(", ")));
    }
    // Files a request sends (body_file, multipart) are found beside the config file.
    let files = std::path::Path::new(source).parent().unwrap_or(std::path::Path::new(""));
    let compiled = scenarios(config, profile, &known_profiles, &target, env, files, &mut problems);
    let catalog: Vec<thresholds::ScenarioRequests<'_>> = compiled
        .catalog
        .iter()
        .map(|(scenario, requests, groups)| thresholds::ScenarioRequests { scenario, requests, groups })
        .collect();
    let thresholds = thresholds::plan(config, profile, &catalog, &mut problems);
    let buckets = latency_buckets(config, &thresholds);
    let Some(listen) = listen else { return Err(problems.into_error(source)) };
    problems.finish(
        source,
        Plan {
            source: source.to_string(),
            profile: profile.to_string(),
            listen,
            scenarios: compiled.scenarios,
            thresholds,
            custom: config.metrics.custom.clone(),
            buckets,
            summary_trend_stats,
            daemon: config.daemon.clone(),
            alerts: config.alerts.clone(),
            header_templates: config.target.headers.clone(),
            shard: None,
            remote_write,
        },
    )
}

/// The target section resolved: `vars` and headers with `${VAR}` filled,
/// the base URL, TLS and proxy every scenario starts from.
struct ResolvedTarget {
    vars: crate::template::Vars,
    /// Fixed headers (resolved, sensitive).
    headers: HeaderMap,
    /// Headers with a `{{ }}` template, rendered per request.
    header_templates: Vec<(HeaderName, crate::template::Template)>,
    base_url: Option<String>,
    tls: Option<tls::TlsPlan>,
    proxy: Option<std::sync::Arc<proxy::ProxyPlan>>,
}

impl ResolvedTarget {
    fn read(config: &Config, env: &EnvVars, problems: &mut Problems) -> ResolvedTarget {
        let vars: crate::template::Vars = config
            .vars
            .iter()
            .filter_map(|(k, v)| {
                let path = format!("vars.{k}");
                let text = match v {
                    serde_json::Value::String(text) => text,
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => return Some((k.clone(), v.clone())),
                    _ => {
                        problems.add(path, "a var is text, a number or a boolean");
                        return None;
                    }
                };
                if template_not_allowed(text, &path, "vars (they are fixed values)", problems) {
                    return None;
                }
                interpolate(text, env)
                    .map(|value| (k.clone(), serde_json::Value::String(value)))
                    .map_err(|e| problems.add(path, e))
                    .ok()
            })
            .collect();
        let (headers, header_templates) = target_headers(config, &vars, env, problems);
        let base_url = resolve_base_url(&config.target.base_url, "target.base_url", env, problems);
        let tls = config.target.tls.as_ref().map(|t| tls::TlsPlan::read(t, "target.tls", env, problems));
        let proxy = config.target.proxy.as_ref().and_then(|p| proxy::ProxyPlan::read(p, "target.proxy", env, problems));
        ResolvedTarget { vars, headers, header_templates, base_url, tls, proxy }
    }
}

/// The scenarios pass: every scenario's requests, journeys and executor
/// settings checked (for every profile); the plans of those the profile plays.
struct CompiledScenarios {
    scenarios: Vec<ScenarioPlan>,
    /// Every scenario's (name, requests, groups), also of those the profile does not play:
    /// thresholds are checked against all of them.
    catalog: Vec<(String, Vec<RequestPlan>, Vec<String>)>,
}

fn scenarios(
    config: &Config,
    profile: &str,
    known_profiles: &BTreeSet<String>,
    target: &ResolvedTarget,
    env: &EnvVars,
    files: &std::path::Path,
    problems: &mut Problems,
) -> CompiledScenarios {
    let mut scenarios = Vec::new();
    let mut catalog = Vec::new();
    for (name, scenario) in &config.scenarios {
        let path = format!("scenarios.{name}");
        if !is_label_safe(name) {
            problems.add(&path, LABEL_HINT.replace("{}", name));
        }
        let base = match &scenario.base_url {
            Some(url) => resolve_base_url(url, &format!("{path}.base_url"), env, problems),
            None => target.base_url.clone(),
        };
        let cx = request::RequestContext {
            base_url: base.as_deref().unwrap_or("http://invalid"),
            vars: &target.vars,
            custom: &config.metrics.custom,
            default_headers: &target.headers,
            default_templates: &target.header_templates,
            env,
            timeout: config.target.timeout,
            max_body: config.target.max_body,
            max_redirects: config.target.max_redirects,
            variables: crate::template::Variables::none(),
            files,
        };
        if scenario.requests.is_empty() && scenario.journeys.is_empty() {
            problems.add(format!("{path}.requests"), "no requests; list at least one");
        }
        let compiled = journey::compile(scenario, &cx, &path, problems);
        let tls = match &scenario.tls {
            Some(own) => tls::TlsPlan::read(own, &format!("{path}.tls"), env, problems),
            None => target.tls.clone().unwrap_or_default(),
        };
        if let Some(sleep) = scenario.sleep.filter(|s| s.min > s.max) {
            problems.add(format!("{path}.sleep"), format!("min {:?} is more than max {:?}", sleep.min, sleep.max));
        }
        let executor = executor_for(scenario, profile, known_profiles, &path, problems);
        catalog.push((name.clone(), compiled.requests.clone(), compiled.groups.clone()));
        if let (Some(executor), Some(base)) = (executor, base) {
            scenarios.push(ScenarioPlan {
                name: name.clone(),
                description: scenario.description.clone(),
                base_url: base,
                executor,
                requests: compiled.requests,
                weighted: compiled.weighted,
                journeys: compiled.journeys,
                groups: compiled.groups,
                variables: compiled.variables,
                setup: compiled.setup,
                teardown: compiled.teardown,
                cookies: scenario.cookies,
                connections: scenario.connections,
                sleep: scenario.sleep,
                headers: target.headers.clone(),
                timeout: config.target.timeout,
                tls,
                proxy: target.proxy.clone(),
                secrets: Default::default(),
            });
        }
    }
    CompiledScenarios { scenarios, catalog }
}

/// Every profile's executor settings of a scenario checked; the one `profile` plays.
fn executor_for(
    scenario: &crate::config::Scenario,
    profile: &str,
    known_profiles: &BTreeSet<String>,
    path: &str,
    problems: &mut Problems,
) -> Option<ExecutorPlan> {
    let mut selected = None;
    for (profile_name, settings) in &scenario.profiles {
        let plan = ExecutorPlan::from_settings(settings, &format!("{path}.profiles.{profile_name}"), problems);
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
    selected
}

/// Latency histogram boundaries: the defaults, the config's own, and every latency threshold.
fn latency_buckets(config: &Config, thresholds: &[PlannedThreshold]) -> Vec<f64> {
    let mut buckets: Vec<f64> = defaults::LATENCY_BUCKETS.iter().chain(&config.metrics.buckets).copied().collect();
    buckets.extend(thresholds.iter().filter(|t| t.metric.kind() == CustomKind::Trend).map(PlannedThreshold::limit));
    buckets.sort_by(f64::total_cmp);
    buckets.dedup();
    buckets
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
    vars: &crate::template::Vars,
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
    resolve(&Loaded::new("test", text), Some("p"), &EnvVars::new()).unwrap()
}
