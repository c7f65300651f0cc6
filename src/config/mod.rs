//! The config file as the user writes it: serde types, loading, validation.
//!
//! `load` merges the YAML file with the environment, `validate` checks the
//! whole tree and reports every problem with its path. The result is a
//! [`Config`] that `plan` turns into what the executors run.

mod alerts;
mod daemon;
mod journey;
mod load;
mod remote_write;
mod target;

pub use alerts::{AlertsConfig, BurnRateAlert};
pub use daemon::DaemonConfig;
pub use journey::{
    BlockConfig, CaptureConfig, JourneyConfig, OnFailure, RequestStep, SetupConfig, StepConfig, WhenConfig,
};
pub use load::{parse, sha256_hex, ConfigSource, Loaded};
pub use remote_write::{BasicAuth, RemoteWriteConfig};
pub use target::{Target, TlsConfig};

use crate::executor::ExecutorSettings;
use crate::model::metric::{is_metric_name, Builtin, CustomKind};
use crate::model::problems::Problems;
use crate::model::size;
use crate::model::threshold::{parse_trend_stat, Aggregation};
use crate::model::{defaults, duration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// A whole, validated config file.
#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    pub metrics: MetricsConfig,
    /// Fixed values templates and expressions read: text, numbers, booleans.
    pub vars: BTreeMap<String, serde_json::Value>,
    pub scenarios: BTreeMap<String, Scenario>,
    pub thresholds: BTreeMap<String, Vec<ThresholdEntry>>,
    pub profiles: BTreeMap<String, ProfileOverrides>,
    pub daemon: DaemonConfig,
    pub alerts: AlertsConfig,
}

/// The metrics server and the custom metrics (k6's Trend, Rate, Counter, Gauge).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub custom: BTreeMap<String, CustomKind>,
    /// Extra latency bucket boundaries in seconds.
    #[serde(default)]
    pub buckets: Vec<f64>,
    /// Push the metrics to a Prometheus remote-write receiver.
    #[serde(default)]
    pub remote_write: Option<RemoteWriteConfig>,
    /// The columns of every Trend in the k6-shaped summaries (k6's `summaryTrendStats`).
    #[serde(default = "default_trend_stats")]
    pub summary_trend_stats: Vec<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: default_listen(),
            custom: BTreeMap::new(),
            buckets: Vec::new(),
            remote_write: None,
            summary_trend_stats: default_trend_stats(),
        }
    }
}

/// k6's default `summaryTrendStats`.
fn default_trend_stats() -> Vec<String> {
    ["avg", "min", "med", "max", "p(90)", "p(95)"].map(String::from).to_vec()
}

fn default_listen() -> String {
    defaults::METRICS_LISTEN.to_string()
}

impl MetricsConfig {
    /// `listen` as an address; a problem at `metrics.listen` when it is not one.
    pub fn listen_address(&self, problems: &mut Problems) -> Option<SocketAddr> {
        let parsed = self.listen.parse::<SocketAddr>().ok();
        if parsed.is_none() {
            problems.add("metrics.listen", format!("\"{}\" is not an address like 0.0.0.0:9469", self.listen));
        }
        parsed
    }

    /// The summary's Trend columns, each with what it computes; a problem per one that is not a column.
    pub fn trend_stats(&self, problems: &mut Problems) -> Vec<(String, Aggregation)> {
        if self.summary_trend_stats.is_empty() {
            problems.add("metrics.summary_trend_stats", "no columns; list at least one, as avg or p(95)");
        }
        self.summary_trend_stats
            .iter()
            .enumerate()
            .filter_map(|(i, stat)| match parse_trend_stat(stat) {
                Ok(aggregation) => Some((stat.clone(), aggregation)),
                Err(problem) => {
                    problems.add(format!("metrics.summary_trend_stats[{i}]"), problem);
                    None
                }
            })
            .collect()
    }

    /// Custom metric names and bucket boundaries.
    pub fn check(&self, problems: &mut Problems) {
        for name in self.custom.keys() {
            if !is_metric_name(name) {
                problems.add(
                    format!("metrics.custom.{name}"),
                    "a metric name has letters, digits and \"_\", and does not start with a digit",
                );
            } else if Builtin::from_name(name).is_some() {
                problems.add(
                    format!("metrics.custom.{name}"),
                    format!("\"{name}\" is a built-in metric; pick another name"),
                );
            }
        }
        if let Some(bad) = self.buckets.iter().find(|b| !(b.is_finite() && **b > 0.0)) {
            problems.add("metrics.buckets", format!("bucket boundaries are seconds greater than 0, got {bad}"));
        }
    }
}

/// One scenario: its iteration (one request picked by weight, or one
/// journey picked by weight), think time, and executor settings per profile.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub description: Option<String>,
    pub base_url: Option<String>,
    pub requests: Vec<RequestConfig>,
    pub journeys: BTreeMap<String, JourneyConfig>,
    /// Steps run once before the load; what they capture every VU reads.
    pub setup: Option<SetupConfig>,
    /// Steps run once after a run's load.
    pub teardown: Option<Vec<StepConfig>>,
    /// Each VU keeps the cookies its answers set and sends them back (as k6).
    pub cookies: bool,
    /// Whose idle connections a request reuses.
    pub connections: Connections,
    pub sleep: Option<ThinkTime>,
    /// Replaces the target's `tls` block for this scenario.
    pub tls: Option<TlsConfig>,
    pub profiles: BTreeMap<String, ExecutorSettings>,
}

/// The scenario keys other than requests and profiles, which are read one by one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub sleep: Option<ThinkTime>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub requests: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub journeys: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub setup: Option<serde_json::Value>,
    #[serde(default)]
    pub teardown: Option<serde_json::Value>,
    #[serde(default = "default_cookies")]
    pub cookies: bool,
    #[serde(default)]
    pub connections: Connections,
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    pub profiles: BTreeMap<String, serde_json::Value>,
}

fn default_cookies() -> bool {
    true
}

/// Whose idle connections a request reuses (a scenario's `connections`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connections {
    /// The VU's own, as a k6 VU: the service sees one client per VU.
    #[default]
    PerVu,
    /// Those of every VU on the same thread: as many connections as
    /// requests ever in flight at once, where a VU would mostly hold an idle one.
    PerThread,
}

/// Think time after each iteration: fixed (`1s`) or uniform (`{min: 0.5s, max: 1.5s}`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThinkTime {
    pub min: Duration,
    pub max: Duration,
}

impl<'de> Deserialize<'de> for ThinkTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Range {
            #[serde(deserialize_with = "duration::required")]
            min: Duration,
            #[serde(deserialize_with = "duration::required")]
            max: Duration,
        }
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a duration like 1s, or {min: 0.5s, max: 1.5s}")]
        enum Form {
            Fixed(String),
            Range(Range),
        }
        match Form::deserialize(deserializer)? {
            Form::Fixed(text) => {
                let d = duration::parse(&text).map_err(serde::de::Error::custom)?;
                Ok(ThinkTime { min: d, max: d })
            }
            Form::Range(r) => Ok(ThinkTime { min: r.min, max: r.max }),
        }
    }
}

/// One request of a scenario.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestConfig {
    pub name: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default = "default_method")]
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body; string values may hold templates such as `{{ tenant_id }}`.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// A raw body (template allowed); exclusive with `json`.
    #[serde(default)]
    pub body: Option<String>,
    /// `application/x-www-form-urlencoded` fields (values are templates).
    #[serde(default)]
    pub form: Option<BTreeMap<String, String>>,
    /// `multipart/form-data` fields: text (a template) or a file.
    #[serde(default)]
    pub multipart: Option<BTreeMap<String, MultipartField>>,
    /// The body is this file, read once at start.
    #[serde(default)]
    pub body_file: Option<String>,
    #[serde(default, deserialize_with = "duration::optional")]
    pub timeout: Option<Duration>,
    /// Replaces `target.max_body` for this request.
    #[serde(default, deserialize_with = "size::optional")]
    pub max_body: Option<usize>,
    /// Replaces `target.max_redirects` for this request.
    #[serde(default)]
    pub max_redirects: Option<u32>,
    #[serde(default)]
    pub checks: Vec<CheckConfig>,
    /// A Trend fed with this request's latency.
    #[serde(default)]
    pub trend: Option<String>,
    /// A Rate fed by each request: by default true when it failed.
    #[serde(default)]
    pub rate: Option<RateFeed>,
    #[serde(default)]
    pub counter: Option<CounterFeed>,
    #[serde(default)]
    pub gauge: Option<GaugeFeed>,
}

fn default_weight() -> u32 {
    1
}

fn default_method() -> String {
    "GET".to_string()
}

/// A Counter fed by a request: +1 per request, or a number read from the JSON response.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterFeed {
    pub name: String,
    pub json_path: Option<String>,
    /// Which requests add to it.
    pub when: CountWhen,
}

/// Which of a request's outcomes a Counter counts, as a k6 script that adds
/// only after its `check()`s passed (or failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountWhen {
    /// Every request (k6's `counter.add(1)` after every call).
    #[default]
    Always,
    /// A request whose status was expected and whose checks and captures passed.
    Passed,
    /// A request that failed, its checks included.
    Failed,
}

impl<'de> Deserialize<'de> for CounterFeed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            name: String,
            json_path: Option<String>,
            #[serde(default)]
            when: CountWhen,
        }
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a counter name, or {name, json_path, when: always|passed|failed}")]
        enum Form {
            Name(String),
            Full(Full),
        }
        Ok(match Form::deserialize(deserializer)? {
            Form::Name(name) => CounterFeed { name, json_path: None, when: CountWhen::Always },
            Form::Full(f) => CounterFeed { name: f.name, json_path: f.json_path, when: f.when },
        })
    }
}

/// A Rate fed by a request, one sample per request: true when it failed
/// (the default), when one of its checks failed, when its status is in a
/// list or class, or when an expression yields true.
#[derive(Debug, Clone, PartialEq)]
pub struct RateFeed {
    pub name: String,
    /// The name of one of the request's checks.
    pub check: Option<String>,
    /// Codes and classes: `5xx`, `[429, 503]`, `[4xx, 5xx]`.
    pub status: Option<Vec<String>>,
    /// A CEL expression over the answer (docs/configuration.md, "Expressions").
    pub expr: Option<String>,
}

impl<'de> Deserialize<'de> for RateFeed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Statuses {
            One(serde_yaml_value::Scalar),
            Many(Vec<serde_yaml_value::Scalar>),
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            name: String,
            check: Option<String>,
            status: Option<Statuses>,
            expr: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a rate name, or {name, check | status | expr}")]
        enum Form {
            Name(String),
            Full(Full),
        }
        Ok(match Form::deserialize(deserializer)? {
            Form::Name(name) => RateFeed { name, check: None, status: None, expr: None },
            Form::Full(f) => RateFeed {
                name: f.name,
                check: f.check,
                status: f.status.map(|s| match s {
                    Statuses::One(one) => vec![one.0],
                    Statuses::Many(many) => many.into_iter().map(|s| s.0).collect(),
                }),
                expr: f.expr,
            },
        })
    }
}

/// A YAML scalar as text: `503` and `5xx` alike.
mod serde_yaml_value {
    #[derive(Debug)]
    pub struct Scalar(pub String);

    impl<'de> serde::Deserialize<'de> for Scalar {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            #[derive(serde::Deserialize)]
            #[serde(untagged)]
            enum Any {
                Number(u64),
                Text(String),
            }
            Ok(Scalar(match Any::deserialize(deserializer)? {
                Any::Number(n) => n.to_string(),
                Any::Text(t) => t,
            }))
        }
    }
}

/// A field of a multipart body: text, or a file read once at start, or a
/// file whose content is written here.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged, expecting = "a text value, {file, filename, content_type} or {content, filename, content_type}")]
pub enum MultipartField {
    Text(String),
    Inline {
        content: String,
        filename: String,
        #[serde(default)]
        content_type: Option<String>,
    },
    File {
        file: String,
        #[serde(default)]
        filename: Option<String>,
        #[serde(default)]
        content_type: Option<String>,
    },
}

/// A Gauge set to a number read from the JSON response.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaugeFeed {
    pub name: String,
    pub json_path: String,
}

/// One check as written; exactly one of `status`, `json_path`, `body_regex`, `header` is set.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<StatusList>,
    #[serde(default)]
    pub json_path: Option<String>,
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    #[serde(default)]
    pub body_regex: Option<String>,
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub matches: Option<String>,
    /// A CEL expression that must yield true.
    #[serde(default)]
    pub expr: Option<String>,
}

/// `200` or `[200, 201]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged, expecting = "a status code like 200, or a list like [200, 201]")]
pub enum StatusList {
    One(u16),
    Many(Vec<u16>),
}

impl StatusList {
    pub fn codes(&self) -> Vec<u16> {
        match self {
            StatusList::One(code) => vec![*code],
            StatusList::Many(codes) => codes.clone(),
        }
    }
}

/// A threshold as written: `"p(95)<300"` or `{threshold, abort_on_fail, delay_abort_eval, service}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdEntry {
    pub expression: String,
    pub abort_on_fail: bool,
    pub delay_abort_eval: Option<Duration>,
    /// The service that owns the SLO when several scenarios feed it; without
    /// it such a threshold is judged per scenario.
    pub service: Option<String>,
}

impl<'de> Deserialize<'de> for ThresholdEntry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            threshold: String,
            #[serde(default)]
            abort_on_fail: bool,
            #[serde(default, deserialize_with = "duration::optional")]
            delay_abort_eval: Option<Duration>,
            #[serde(default)]
            service: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "a threshold like \"p(95)<300\", or {threshold, abort_on_fail, delay_abort_eval, service}"
        )]
        enum Form {
            Plain(String),
            Full(Full),
        }
        Ok(match Form::deserialize(deserializer)? {
            Form::Plain(expression) => {
                ThresholdEntry { expression, abort_on_fail: false, delay_abort_eval: None, service: None }
            }
            Form::Full(f) => ThresholdEntry {
                expression: f.threshold,
                abort_on_fail: f.abort_on_fail,
                delay_abort_eval: f.delay_abort_eval,
                service: f.service,
            },
        })
    }
}

/// What a profile changes besides executor settings: it may tighten thresholds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileOverrides {
    #[serde(default)]
    pub thresholds: BTreeMap<String, Vec<ThresholdEntry>>,
}
