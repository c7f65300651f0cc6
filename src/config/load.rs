//! Reading a config: the YAML file, then `SLOPROBER__SECTION__KEY` and
//! `BASE_URL` from the environment, merged by the `config` crate.
//!
//! Each section (and each scenario's requests and profiles) is read on its
//! own, so one mistake does not hide the next: every structural problem is
//! reported with its path.

use super::{
    AlertsConfig, Config, DaemonConfig, MetricsConfig, ProfileOverrides, RequestConfig, Scenario, ScenarioFile, Target,
    ThresholdEntry,
};
use crate::executor::ExecutorSettings;
use crate::model::env::EnvVars;
use crate::model::problems::{ConfigError, Problem, Problems};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a config's text comes from: a file (read again at each reload), or
/// a config compiled into the binary (the demo's `config/aivo.yaml`).
#[derive(Debug, Clone)]
pub enum ConfigSource {
    File(PathBuf),
    Embedded { name: &'static str, text: &'static str },
}

impl ConfigSource {
    /// Reads the config's text, once: the plan, the secrets it must hide and
    /// a run's identity are all made from what this returns.
    pub fn load(&self) -> Result<Loaded, ConfigError> {
        match self {
            ConfigSource::File(path) => std::fs::read_to_string(path)
                .map(|text| Loaded::new(path.display().to_string(), text))
                .map_err(|source| ConfigError::Read { path: path.display().to_string(), source }),
            ConfigSource::Embedded { name, text } => Ok(Loaded::new(format!("{name} (embedded)"), *text)),
        }
    }
}

/// A config's text as read, with where it came from and its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// Where it was read from, for messages: a path, or `config/aivo.yaml (embedded)`.
    pub name: String,
    pub text: String,
    /// SHA-256 of the text, hex: results of the same config merge.
    pub sha256: String,
}

impl Loaded {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Loaded {
        let text = text.into();
        let sha256 = sha256_hex(text.as_bytes());
        Loaded { name: name.into(), text, sha256 }
    }
}

/// SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The top level as written: each section is read separately afterwards.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sections {
    target: Value,
    #[serde(default)]
    metrics: Option<Value>,
    #[serde(default)]
    vars: Option<Value>,
    scenarios: BTreeMap<String, Value>,
    #[serde(default)]
    thresholds: Option<Value>,
    #[serde(default)]
    profiles: Option<Value>,
    #[serde(default)]
    daemon: Option<Value>,
    #[serde(default)]
    alerts: Option<Value>,
}

/// Parses and structurally checks a config read with the environment
/// layered on top. Semantic checks happen when the plan is built.
pub fn parse(loaded: &Loaded, env: &EnvVars) -> Result<Config, ConfigError> {
    let name = loaded.name.clone();
    let text = &loaded.text;
    let tree = merged_tree(text, env).map_err(|message| {
        let message = match yaml_error_path(text, &message) {
            near if near.is_empty() => message,
            near => format!("{message} (the last key before it is {near}: check the indentation from there)"),
        };
        ConfigError::Invalid { config: name.clone(), problems: vec![Problem { path: String::new(), message }] }
    })?;
    let mut problems = Problems::default();
    let _env = ParseEnv::set(env);
    let Some(sections) = read::<Sections>(tree, "", &mut problems) else {
        return Err(problems.into_error(&name));
    };
    let target = read::<Target>(sections.target, "target", &mut problems);
    let metrics = optional::<MetricsConfig>(sections.metrics, "metrics", &mut problems);
    let vars = optional::<BTreeMap<String, Value>>(sections.vars, "vars", &mut problems);
    let thresholds =
        optional::<BTreeMap<String, Vec<ThresholdEntry>>>(sections.thresholds, "thresholds", &mut problems);
    let profiles = optional::<BTreeMap<String, ProfileOverrides>>(sections.profiles, "profiles", &mut problems);
    let daemon = optional::<DaemonConfig>(sections.daemon, "daemon", &mut problems);
    let alerts = optional::<AlertsConfig>(sections.alerts, "alerts", &mut problems);
    if sections.scenarios.is_empty() {
        problems.add("scenarios", "no scenarios; define at least one");
    }
    let scenarios: BTreeMap<String, Scenario> = sections
        .scenarios
        .into_iter()
        .filter_map(|(key, value)| {
            let scenario = read_scenario(value, &format!("scenarios.{key}"), &mut problems)?;
            Some((key, scenario))
        })
        .collect();
    let (Some(target), Some(metrics), Some(vars), Some(thresholds), Some(profiles), Some(daemon), Some(alerts)) =
        (target, metrics, vars, thresholds, profiles, daemon, alerts)
    else {
        return Err(problems.into_error(&name));
    };
    problems.finish(&name, Config { target, metrics, vars, scenarios, thresholds, profiles, daemon, alerts })
}

fn read_scenario(value: Value, path: &str, problems: &mut Problems) -> Option<Scenario> {
    let file = read::<ScenarioFile>(value, path, problems)?;
    let before = problems.len();
    match (&file.requests, &file.journeys) {
        (Some(_), Some(_)) => problems.add(
            path,
            "requests and journeys are exclusive: an iteration is one request picked by weight, or one journey",
        ),
        (None, None) => problems.add(path, "no requests and no journeys; give one of them"),
        _ => {}
    }
    let journeys =
        super::journey::read_journeys(file.journeys.unwrap_or_default(), &format!("{path}.journeys"), problems);
    let setup = file.setup.and_then(|v| super::journey::read_setup(v, &format!("{path}.setup"), problems));
    let teardown = file.teardown.and_then(|v| super::journey::read_teardown(v, &format!("{path}.teardown"), problems));
    let requests: Vec<RequestConfig> = file
        .requests
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| read(v, &format!("{path}.requests[{i}]"), problems))
        .collect();
    let profiles: BTreeMap<String, ExecutorSettings> = file
        .profiles
        .into_iter()
        .filter_map(|(key, v)| {
            read::<ExecutorSettings>(v, &format!("{path}.profiles.{key}"), problems).map(|s| (key, s))
        })
        .collect();
    (problems.len() == before).then_some(Scenario {
        description: file.description,
        base_url: file.base_url,
        requests,
        journeys,
        setup,
        teardown,
        cookies: file.cookies,
        connections: file.connections,
        sleep: file.sleep,
        tls: file.tls,
        profiles,
    })
}

/// The YAML text with the environment layered on top, as one JSON tree.
fn merged_tree(text: &str, env: &EnvVars) -> Result<Value, String> {
    let overrides: std::collections::HashMap<String, String> =
        env.iter().filter(|(k, _)| k.starts_with("SLOPROBER__")).map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut builder =
        config::Config::builder().add_source(config::File::from_str(text, config::FileFormat::Yaml)).add_source(
            config::Environment::with_prefix("SLOPROBER")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(overrides)),
        );
    if let Some(base_url) = env.get("BASE_URL").filter(|v| !v.is_empty()) {
        builder = builder.set_override("target.base_url", base_url.as_str()).map_err(|e| e.to_string())?;
    }
    let merged = builder.build().map_err(|e| e.to_string())?;
    merged.try_deserialize::<Value>().map_err(|e| e.to_string())
}

/// For a YAML syntax error at "line N": the key path that line is under,
/// found from the indentation of the lines before it (e.g.
/// `scenarios.health.requests[0]`), so the user knows where to look.
fn yaml_error_path(text: &str, message: &str) -> String {
    let Some(line) = message
        .split("line ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return String::new();
    };
    // (indent, key or list index) of each open level.
    let mut open: Vec<(usize, String)> = Vec::new();
    let mut items: Vec<(usize, usize)> = Vec::new();
    for raw in text.lines().take(line.saturating_sub(1)) {
        let content = raw.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let mut indent = raw.len() - content.len();
        let mut content = content;
        while open.last().is_some_and(|(at, _)| *at >= indent) {
            open.pop();
        }
        if let Some(item) = content.strip_prefix("- ") {
            items.retain(|(at, _)| *at <= indent);
            let index = match items.last_mut() {
                Some((at, n)) if *at == indent => {
                    *n += 1;
                    *n
                }
                _ => {
                    items.push((indent, 0));
                    0
                }
            };
            open.push((indent, format!("[{index}]")));
            indent += 2;
            content = item.trim_start();
        }
        if let Some((key, _)) = content.split_once(':').filter(|(key, _)| !key.contains(['{', '[', '"', ' '])) {
            open.push((indent, key.to_string()));
        }
    }
    let mut path = String::new();
    for (_, part) in &open {
        if !path.is_empty() && !part.starts_with('[') {
            path.push('.');
        }
        path.push_str(part);
    }
    path
}

thread_local! {
    /// The environment of the config being parsed, for [`read`] on this thread.
    static PARSE_ENV: std::cell::RefCell<EnvVars> = std::cell::RefCell::new(EnvVars::new());
}

/// Sets the environment [`read`] takes `${VAR}` values from until dropped.
struct ParseEnv;

impl ParseEnv {
    fn set(env: &EnvVars) -> ParseEnv {
        PARSE_ENV.with_borrow_mut(|e| e.clone_from(env));
        ParseEnv
    }
}

impl Drop for ParseEnv {
    fn drop(&mut self) {
        PARSE_ENV.with_borrow_mut(EnvVars::clear);
    }
}

/// Reads `value` as a `T`. A setting that is not text (a number, a
/// boolean, a duration) written wholly as `${VAR}` or `${VAR:-default}`
/// takes the variable's value, typed as YAML reads it (`3`, `true`, `1.5s`):
/// k6 scripts read their numbers from `__ENV` the same way.
pub(super) fn read<T: DeserializeOwned>(value: Value, path: &str, problems: &mut Problems) -> Option<T> {
    let mut value = value;
    loop {
        let err = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(parsed) => return Some(parsed),
            Err(err) => err,
        };
        match PARSE_ENV.with_borrow(|env| typed_from_env(&mut value, err.path(), env)) {
            Some(Ok(())) => continue,
            Some(Err(message)) => {
                problems.add(full_path(path, &err.path().to_string()), message);
                return None;
            }
            None => {}
        }
        problems.add(full_path(path, &err.path().to_string()), err.into_inner().to_string());
        return None;
    }
}

/// `inner` (a serde path, `.` for the value itself) under `path`.
fn full_path(path: &str, inner: &str) -> String {
    match (path.is_empty(), inner) {
        (_, ".") => path.to_string(),
        (true, _) => inner.to_string(),
        (false, _) if inner.starts_with('[') => format!("{path}{inner}"),
        (false, _) => format!("{path}.{inner}"),
    }
}

/// Where `at` in `value` is text that is wholly `${VAR}`: replaces it with
/// the variable's value as YAML types it. None when there is no such text,
/// an error when the variable is not set.
fn typed_from_env(value: &mut Value, at: &serde_path_to_error::Path, env: &EnvVars) -> Option<Result<(), String>> {
    use serde_path_to_error::Segment;
    let mut node = value;
    for segment in at.iter() {
        node = match segment {
            Segment::Seq { index } => node.get_mut(*index)?,
            Segment::Map { key } => node.get_mut(key.as_str())?,
            Segment::Enum { .. } | Segment::Unknown => return None,
        };
    }
    let Value::String(text) = node else { return None };
    let whole = text.starts_with("${") && text.ends_with('}') && text[2..].find('}') == Some(text.len() - 3);
    if !whole {
        return None;
    }
    let resolved = match crate::model::env::interpolate(text, env) {
        Ok(resolved) => resolved,
        Err(message) => return Some(Err(message)),
    };
    let typed = match resolved.as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        number => match (number.parse::<u64>(), number.parse::<i64>(), number.parse::<f64>()) {
            (Ok(n), _, _) => Value::from(n),
            (_, Ok(n), _) => Value::from(n),
            (_, _, Ok(n)) if n.is_finite() => Value::from(n),
            _ => Value::String(resolved),
        },
    };
    if *node == typed {
        return None;
    }
    *node = typed;
    Some(Ok(()))
}

fn optional<T: DeserializeOwned + Default>(value: Option<Value>, path: &str, problems: &mut Problems) -> Option<T> {
    match value {
        None | Some(Value::Null) => Some(T::default()),
        Some(value) => read(value, path, problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StepConfig;

    const TYPED: &str = "target: {base_url: \"http://127.0.0.1:1\"}\nscenarios:\n  s:\n    cookies: ${COOKIES}\n    \
        sleep: ${THINK}\n    journeys:\n      j:\n        steps:\n          - repeat: ${QUESTIONS}\n            \
        steps: [{name: a, path: \"/${QUESTIONS}\"}]\n    profiles:\n      p:\n        executor: constant-vus\n        \
        vus: ${VUS:-4}\n        duration: ${DURATION}\n";

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_setting_written_wholly_as_an_env_var_takes_its_typed_value() {
        let env = env(&[("COOKIES", "false"), ("THINK", "1.5s"), ("QUESTIONS", "5"), ("DURATION", "30s")]);
        let config = parse(&Loaded::new("t", TYPED), &env).unwrap();
        let scenario = &config.scenarios["s"];
        assert!(!scenario.cookies);
        assert_eq!(scenario.sleep.map(|s| s.min), Some(std::time::Duration::from_millis(1500)));
        let StepConfig::Block(block) = &scenario.journeys["j"].steps[0] else { panic!("a block") };
        assert_eq!(block.repeat, Some(5));
        let StepConfig::Request(step) = &block.steps[0] else { panic!("a request") };
        assert_eq!(step.request.path, "/${QUESTIONS}", "text keeps its ${{VAR}} until the plan resolves it");
        let profile = &scenario.profiles["p"];
        assert_eq!((profile.vus, profile.duration), (Some(4), Some(std::time::Duration::from_secs(30))));
    }

    #[test]
    fn an_unset_env_var_in_a_typed_setting_is_named_where_it_is_used() {
        let env = env(&[("COOKIES", "false"), ("THINK", "1s"), ("DURATION", "30s")]);
        let ConfigError::Invalid { problems, .. } = parse(&Loaded::new("t", TYPED), &env).unwrap_err() else {
            panic!("invalid")
        };
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            shown,
            ["scenarios.s.journeys.j.steps[0].repeat: environment variable QUESTIONS is not set (write ${QUESTIONS:-default} to make it optional)"]
        );
    }
}
