//! The metric catalog: every metric a threshold can name (k6's built-ins and
//! the config's custom ones), with its kind, unit, tags and the Prometheus
//! series behind it. Validation, evaluation, summaries, reports, rules and
//! dashboards all read a metric's meaning from here.

use super::sample::Phase;
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
            Tag::Scenario => "scenario",
            Tag::Request => "request",
            Tag::Check => "check",
            Tag::ExpectedResponse => "expected_response",
            Tag::Group => "group",
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
        trues_matchers: Vec<(&'static str, &'static str)>,
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
        let fixed = Cow::Borrowed;
        match self {
            Metric::Builtin(HttpReqDuration) => Series::Histogram { family: fixed(HTTP_REQ_DURATION) },
            Metric::Builtin(IterationDuration) => Series::Histogram { family: fixed(ITERATION_DURATION) },
            Metric::Builtin(GroupDuration) => Series::Histogram { family: fixed(GROUP_DURATION) },
            Metric::Builtin(Phase(phase)) => Series::Histogram { family: fixed(phase_family(*phase)) },
            Metric::Builtin(HttpReqFailed) => {
                Series::Rate { trues: fixed(HTTP_REQ_FAILED), trues_matchers: Vec::new(), total: fixed(HTTP_REQS) }
            }
            Metric::Builtin(Checks) => {
                Series::Rate { trues: fixed(CHECKS), trues_matchers: vec![("result", "pass")], total: fixed(CHECKS) }
            }
            Metric::Builtin(HttpReqs) => Series::Counter { family: fixed(HTTP_REQS) },
            Metric::Builtin(Iterations) => Series::Counter { family: fixed(ITERATIONS) },
            Metric::Builtin(DroppedIterations) => Series::Counter { family: fixed(DROPPED_ITERATIONS) },
            Metric::Builtin(DataSent) => Series::Counter { family: fixed(DATA_SENT) },
            Metric::Builtin(DataReceived) => Series::Counter { family: fixed(DATA_RECEIVED) },
            Metric::Builtin(Vus) => Series::Gauge { family: fixed(VUS) },
            Metric::Builtin(VusMax) => Series::Gauge { family: fixed(VUS_MAX) },
            Metric::Custom { name, kind } => {
                let owned = |s: String| Cow::Owned(s);
                match kind {
                    CustomKind::Trend => Series::Histogram { family: owned(custom_trend_family(name)) },
                    CustomKind::Rate => {
                        let (trues, total) = custom_rate_families(name);
                        Series::Rate { trues: owned(trues), trues_matchers: Vec::new(), total: owned(total) }
                    }
                    CustomKind::Counter => Series::Counter { family: owned(custom_counter_family(name)) },
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

/// Prometheus family names of the built-in metrics, and of sloprober's own.
pub const HTTP_REQS: &str = "sloprober_http_reqs_total";
pub const HTTP_REQ_FAILED: &str = "sloprober_http_req_failed_total";
pub const HTTP_REQ_DURATION: &str = "sloprober_http_req_duration_seconds";
pub const CHECKS: &str = "sloprober_checks_total";
pub const ITERATIONS: &str = "sloprober_iterations_total";
pub const DROPPED_ITERATIONS: &str = "sloprober_dropped_iterations_total";
pub const DATA_SENT: &str = "sloprober_data_sent_bytes_total";
pub const DATA_RECEIVED: &str = "sloprober_data_received_bytes_total";
pub const VUS: &str = "sloprober_vus";
pub const VUS_MAX: &str = "sloprober_vus_max";
pub const HTTP_REQ_RETRIES: &str = "sloprober_http_req_retries_total";
pub const HTTP_REQ_REDIRECTS: &str = "sloprober_http_req_redirects_total";
pub const ITERATION_DURATION: &str = "sloprober_iteration_duration_seconds";
pub const GROUP_DURATION: &str = "sloprober_group_duration_seconds";
pub const ITERATIONS_INCOMPLETE: &str = "sloprober_iterations_incomplete_total";
/// Seconds since the epoch when the earliest certificate of a server's chain expires.
pub const TLS_CERT_EXPIRY: &str = "sloprober_tls_earliest_cert_expiry_timestamp_seconds";

/// The histogram of a phase: `sloprober_http_req_waiting_seconds`, by scenario only.
pub fn phase_family(phase: Phase) -> &'static str {
    match phase {
        Phase::Blocked => "sloprober_http_req_blocked_seconds",
        Phase::Connecting => "sloprober_http_req_connecting_seconds",
        Phase::TlsHandshaking => "sloprober_http_req_tls_handshaking_seconds",
        Phase::Sending => "sloprober_http_req_sending_seconds",
        Phase::Waiting => "sloprober_http_req_waiting_seconds",
        Phase::Receiving => "sloprober_http_req_receiving_seconds",
    }
}

/// Labels of `http_req_duration`'s histogram.
pub const TREND_LABELS: [&str; 3] = ["scenario", "request", "expected_response"];
/// Labels of custom families (Trends add `expected_response`): one series per
/// scenario, so a Trend fed by many requests stays one histogram.
pub const CUSTOM_LABELS: [&str; 1] = ["scenario"];
pub const CUSTOM_TREND_LABELS: [&str; 2] = ["scenario", "expected_response"];

/// `generate_duration` -> `generate_duration_seconds`.
pub fn custom_trend_family(name: &str) -> String {
    format!("{name}_seconds")
}

/// `errors` -> (`errors_total` counting true samples, `errors_samples_total` counting all).
pub fn custom_rate_families(name: &str) -> (String, String) {
    (format!("{name}_total"), format!("{name}_samples_total"))
}

pub fn custom_counter_family(name: &str) -> String {
    format!("{name}_total")
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

/// The `expected_response` label value of a request's outcome.
pub fn expected_response_label(failed: bool) -> &'static str {
    if failed {
        "false"
    } else {
        "true"
    }
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
