//! The metric catalog: every metric a threshold can name (k6's built-ins and
//! the config's custom ones), with its kind, unit, tags and the Prometheus
//! series behind it. Validation, evaluation, summaries, reports, rules and
//! dashboards all read a metric's meaning from here.

use super::families::{self, label};
use super::sample::{FailReason, Phase};
use super::units::Unit;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// The four k6 metric types; custom metrics are declared with one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomKind {
    Trend,
    Rate,
    Counter,
    Gauge,
}

impl CustomKind {
    pub fn name(self) -> &'static str {
        match self {
            CustomKind::Trend => "trend",
            CustomKind::Rate => "rate",
            CustomKind::Counter => "counter",
            CustomKind::Gauge => "gauge",
        }
    }
}

/// k6's built-in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Builtin {
    HttpReqs,
    HttpReqDuration,
    HttpReqFailed,
    Checks,
    Iterations,
    DroppedIterations,
    DataSent,
    DataReceived,
    Vus,
    VusMax,
    IterationDuration,
    GroupDuration,
    /// k6's `http_req_blocked` ... `http_req_receiving`, per scenario.
    Phase(Phase),
}

impl Builtin {
    /// Every built-in, in the order reports list them.
    const ALL: [Builtin; 18] = [
        Builtin::HttpReqs,
        Builtin::HttpReqDuration,
        Builtin::HttpReqFailed,
        Builtin::Checks,
        Builtin::Iterations,
        Builtin::DroppedIterations,
        Builtin::DataSent,
        Builtin::DataReceived,
        Builtin::Vus,
        Builtin::VusMax,
        Builtin::IterationDuration,
        Builtin::GroupDuration,
        Builtin::Phase(Phase::Blocked),
        Builtin::Phase(Phase::Connecting),
        Builtin::Phase(Phase::TlsHandshaking),
        Builtin::Phase(Phase::Sending),
        Builtin::Phase(Phase::Waiting),
        Builtin::Phase(Phase::Receiving),
    ];

    /// The built-ins reports list (`vus` is a live gauge, listed in none).
    pub fn reported() -> impl Iterator<Item = Builtin> {
        Builtin::ALL.into_iter().filter(|b| *b != Builtin::Vus)
    }

    /// The k6 name thresholds and summaries use.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::HttpReqs => "http_reqs",
            Builtin::HttpReqDuration => "http_req_duration",
            Builtin::HttpReqFailed => "http_req_failed",
            Builtin::Checks => "checks",
            Builtin::Iterations => "iterations",
            Builtin::DroppedIterations => "dropped_iterations",
            Builtin::DataSent => "data_sent",
            Builtin::DataReceived => "data_received",
            Builtin::Vus => "vus",
            Builtin::VusMax => "vus_max",
            Builtin::IterationDuration => "iteration_duration",
            Builtin::GroupDuration => "group_duration",
            Builtin::Phase(phase) => phase.metric_name(),
        }
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    pub fn kind(self) -> CustomKind {
        match self {
            Builtin::HttpReqDuration | Builtin::IterationDuration | Builtin::GroupDuration | Builtin::Phase(_) => {
                CustomKind::Trend
            }
            Builtin::HttpReqFailed | Builtin::Checks => CustomKind::Rate,
            Builtin::HttpReqs
            | Builtin::Iterations
            | Builtin::DroppedIterations
            | Builtin::DataSent
            | Builtin::DataReceived => CustomKind::Counter,
            Builtin::Vus | Builtin::VusMax => CustomKind::Gauge,
        }
    }
}

/// A tag a threshold can filter on; each is a label of the series the metric's SLI reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tag {
    Scenario,
    Request,
    Check,
    /// k6's `expected_response`: the answer's status was expected and no check failed.
    ExpectedResponse,
    /// k6's group path (`::record answers`), of `group_duration`.
    Group,
}

impl Tag {
    const ALL: [Tag; 5] = [Tag::Scenario, Tag::Request, Tag::Check, Tag::ExpectedResponse, Tag::Group];

    /// The tag's key in a threshold, and its Prometheus label name.
    pub fn key(self) -> &'static str {
        match self {
            Tag::Scenario => label::SCENARIO,
            Tag::Request => label::REQUEST,
            Tag::Check => label::CHECK,
            Tag::ExpectedResponse => label::EXPECTED_RESPONSE,
            Tag::Group => label::GROUP,
        }
    }

    pub fn from_key(key: &str) -> Option<Tag> {
        Tag::ALL.into_iter().find(|t| t.key() == key)
    }
}

/// Tag filters of a threshold, in one canonical order whatever order they were written in.
pub type Tags = BTreeMap<Tag, String>;

/// A metric a threshold, summary or rule can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    Builtin(Builtin),
    /// Declared in `metrics.custom`; fed by the requests that name it.
    Custom {
        name: String,
        kind: CustomKind,
    },
}

/// A label matcher the true samples of a Rate carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matcher {
    /// `label="value"`: `result="pass"` of the checks.
    Is(&'static str, &'static str),
    /// `label!~"a|b"`: the failed requests whose reason is none of these.
    IsNone(&'static str, &'static [&'static str]),
}

impl Matcher {
    pub fn label(&self) -> &'static str {
        match self {
            Matcher::Is(label, _) | Matcher::IsNone(label, _) => label,
        }
    }

    /// As PromQL writes it.
    pub fn promql(&self) -> String {
        match self {
            Matcher::Is(label, value) => format!("{label}=\"{value}\""),
            Matcher::IsNone(label, values) => format!("{label}!~\"{}\"", values.join("|")),
        }
    }
}

/// The reasons of `sloprober_http_req_failed_total` that judge content, not the exchange.
const CONTENT_REASONS: [&str; 2] = [FailReason::CONTENT[0].as_str(), FailReason::CONTENT[1].as_str()];

/// The Prometheus series an SLI or statistic reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Series {
    /// `<family>_bucket`, `_count`, `_sum`.
    Histogram {
        family: Cow<'static, str>,
    },
    /// True samples (with extra matchers) and all samples of a Rate.
    Rate {
        trues: Cow<'static, str>,
        trues_matchers: Vec<Matcher>,
        total: Cow<'static, str>,
    },
    Counter {
        family: Cow<'static, str>,
    },
    Gauge {
        family: Cow<'static, str>,
    },
}

impl Metric {
    /// Looks a name up among the built-ins, then the declared custom metrics.
    pub fn find(name: &str, custom: &BTreeMap<String, CustomKind>) -> Option<Metric> {
        Builtin::from_name(name)
            .map(Metric::Builtin)
            .or_else(|| custom.get(name).map(|kind| Metric::Custom { name: name.to_string(), kind: *kind }))
    }

    pub fn name(&self) -> &str {
        match self {
            Metric::Builtin(b) => b.name(),
            Metric::Custom { name, .. } => name,
        }
    }

    pub fn kind(&self) -> CustomKind {
        match self {
            Metric::Builtin(b) => b.kind(),
            Metric::Custom { kind, .. } => *kind,
        }
    }

    pub fn unit(&self) -> Unit {
        match self {
            Metric::Builtin(Builtin::DataSent | Builtin::DataReceived) => Unit::Bytes,
            m if m.kind() == CustomKind::Trend => Unit::Milliseconds,
            _ => Unit::None,
        }
    }

    /// The tags a threshold on this metric may filter on: the labels of its series.
    pub fn tags(&self) -> &'static [Tag] {
        use Builtin::*;
        match self {
            Metric::Builtin(HttpReqDuration) => &[Tag::Scenario, Tag::Request, Tag::ExpectedResponse],
            Metric::Builtin(HttpReqs | HttpReqFailed) => &[Tag::Scenario, Tag::Request],
            Metric::Builtin(Checks) => &[Tag::Scenario, Tag::Request, Tag::Check],
            Metric::Builtin(
                Iterations | DroppedIterations | DataSent | DataReceived | Vus | VusMax | IterationDuration | Phase(_),
            ) => &[Tag::Scenario],
            Metric::Builtin(GroupDuration) => &[Tag::Scenario, Tag::Group],
            // One series per scenario: a request's own latency or failures are
            // http_req_duration{request:...} and http_req_failed{request:...}.
            Metric::Custom { kind: CustomKind::Trend, .. } => &[Tag::Scenario, Tag::ExpectedResponse],
            Metric::Custom { .. } => &[Tag::Scenario],
        }
    }

    /// Whether requests feed this metric (the executors feed the rest).
    pub fn is_fed_by_requests(&self) -> bool {
        matches!(self, Metric::Custom { .. }) || self.tags().contains(&Tag::Request)
    }

    /// The Prometheus series behind the metric.
    pub fn series(&self) -> Series {
        use Builtin::*;
        let fixed = |family: families::Family| Cow::Borrowed(family.name);
        match self {
            Metric::Builtin(HttpReqDuration) => Series::Histogram { family: fixed(families::HTTP_REQ_DURATION) },
            Metric::Builtin(IterationDuration) => Series::Histogram { family: fixed(families::ITERATION_DURATION) },
            Metric::Builtin(GroupDuration) => Series::Histogram { family: fixed(families::GROUP_DURATION) },
            Metric::Builtin(Phase(phase)) => Series::Histogram { family: fixed(families::phase(*phase)) },
            // k6's http_req_failed: no expected answer; a failed check or capture is not one.
            Metric::Builtin(HttpReqFailed) => Series::Rate {
                trues: fixed(families::HTTP_REQ_FAILED),
                trues_matchers: vec![Matcher::IsNone(label::REASON, &CONTENT_REASONS)],
                total: fixed(families::HTTP_REQS),
            },
            Metric::Builtin(Checks) => Series::Rate {
                trues: fixed(families::CHECKS),
                trues_matchers: vec![Matcher::Is(label::RESULT, "pass")],
                total: fixed(families::CHECKS),
            },
            Metric::Builtin(HttpReqs) => Series::Counter { family: fixed(families::HTTP_REQS) },
            Metric::Builtin(Iterations) => Series::Counter { family: fixed(families::ITERATIONS) },
            Metric::Builtin(DroppedIterations) => Series::Counter { family: fixed(families::DROPPED_ITERATIONS) },
            Metric::Builtin(DataSent) => Series::Counter { family: fixed(families::DATA_SENT) },
            Metric::Builtin(DataReceived) => Series::Counter { family: fixed(families::DATA_RECEIVED) },
            Metric::Builtin(Vus) => Series::Gauge { family: fixed(families::VUS) },
            Metric::Builtin(VusMax) => Series::Gauge { family: fixed(families::VUS_MAX) },
            Metric::Custom { name, kind } => {
                let owned = |s: String| Cow::Owned(s);
                match kind {
                    CustomKind::Trend => Series::Histogram { family: owned(families::custom_trend_family(name)) },
                    CustomKind::Rate => {
                        let (trues, total) = families::custom_rate_families(name);
                        Series::Rate { trues: owned(trues), trues_matchers: Vec::new(), total: owned(total) }
                    }
                    CustomKind::Counter => Series::Counter { family: owned(families::custom_counter_family(name)) },
                    CustomKind::Gauge => Series::Gauge { family: owned(name.clone()) },
                }
            }
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `name`, or `name{tag:value,tag:value}` with the tags in canonical order, as k6 writes a submetric.
pub fn selector(metric: &Metric, tags: &Tags) -> String {
    if tags.is_empty() {
        return metric.name().to_string();
    }
    let tags: Vec<String> = tags.iter().map(|(tag, value)| format!("{}:{value}", tag.key())).collect();
    format!("{}{{{}}}", metric.name(), tags.join(","))
}

/// Label values come from the config; keep them plain so they are safe in PromQL and file names.
pub fn is_label_safe(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// What a name that is not [`is_label_safe`] is told; `{}` is the name.
pub const LABEL_HINT: &str = "\"{}\" is not a valid name; use letters, digits, \"_\" and \"-\" (at most 64)";

/// A Prometheus metric name: letters, digits and `_`, not starting with a digit.
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_found_by_its_name() {
        for b in Builtin::ALL {
            assert_eq!(Builtin::from_name(b.name()), Some(b));
        }
        assert_eq!(Builtin::from_name("nope"), None);
    }

    #[test]
    fn trends_are_written_in_milliseconds_and_exported_in_seconds() {
        let custom = BTreeMap::from([("t".to_string(), CustomKind::Trend)]);
        for m in [Metric::Builtin(Builtin::HttpReqDuration), Metric::find("t", &custom).unwrap()] {
            assert_eq!(m.unit().to_base(300.0), 0.3);
            assert_eq!(m.unit().to_written(0.3), 300.0);
            assert!(m.tags().contains(&Tag::ExpectedResponse));
        }
    }
}
