//! The Prometheus families sloprober exports, each with its name, help and
//! label names: the one home of every exported name. The registry
//! (`metrics`), the rendered rules and dashboards (`render`) and the metric
//! catalog ([`super::metric`]) all read them from here.

use super::sample::Phase;

/// Label names of sloprober's series.
pub mod label {
    pub const SCENARIO: &str = "scenario";
    pub const REQUEST: &str = "request";
    /// The answer's status code, or `error` when none came.
    pub const STATUS: &str = "status";
    /// Why a request failed, or a journey iteration ended early.
    pub const REASON: &str = "reason";
    pub const CHECK: &str = "check";
    /// A check's `pass` or `fail`.
    pub const RESULT: &str = "result";
    /// k6's `expected_response`: `true` when the status was expected.
    pub const EXPECTED_RESPONSE: &str = "expected_response";
    /// k6's group path (`::record answers`).
    pub const GROUP: &str = "group";
    pub const JOURNEY: &str = "journey";
    pub const SERVER_NAME: &str = "server_name";
    pub const SLO: &str = "slo";
    pub const VERSION: &str = "version";
}

use label::*;

/// A family: its name, help text, and the names of its labels in the order
/// their values are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: &'static [&'static str],
}

const fn family(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Family {
    Family { name, help, labels }
}

const PER_SCENARIO: &[&str] = &[SCENARIO];
const PER_REQUEST: &[&str] = &[SCENARIO, REQUEST];

pub const HTTP_REQS: Family = family(
    "sloprober_http_reqs_total",
    "HTTP requests by response status (or \"error\" when no response arrived).",
    &[SCENARIO, REQUEST, STATUS],
);
pub const HTTP_REQ_FAILED: Family = family(
    "sloprober_http_req_failed_total",
    "Failed requests by reason: k6's http_req_failed are those without reason check or capture, which judge content.",
    &[SCENARIO, REQUEST, REASON],
);
pub const HTTP_REQ_DURATION: Family = family(
    "sloprober_http_req_duration_seconds",
    "HTTP request latency from the scheduled start to the last body byte; expected_response=\"false\" without an answer of an expected status.",
    &[SCENARIO, REQUEST, EXPECTED_RESPONSE],
);
pub const CHECKS: Family = family("sloprober_checks_total", "Check results.", &[SCENARIO, REQUEST, CHECK, RESULT]);
pub const HTTP_REQ_RETRIES: Family = family(
    "sloprober_http_req_retries_total",
    "Requests sent a second time on a fresh connection: the reused one closed before any byte of an answer.",
    PER_REQUEST,
);
pub const HTTP_REQ_REDIRECTS: Family =
    family("sloprober_http_req_redirects_total", "Redirects followed before the answer that was checked.", PER_REQUEST);
pub const DATA_SENT: Family =
    family("sloprober_data_sent_bytes_total", "Approximate bytes sent (HTTP/1.1 head and body).", PER_SCENARIO);
pub const DATA_RECEIVED: Family =
    family("sloprober_data_received_bytes_total", "Approximate bytes received (HTTP/1.1 head and body).", PER_SCENARIO);
pub const ITERATIONS: Family = family("sloprober_iterations_total", "Iterations completed.", PER_SCENARIO);
pub const DROPPED_ITERATIONS: Family = family(
    "sloprober_dropped_iterations_total",
    "Arrival-rate iterations not started because no VU was free.",
    PER_SCENARIO,
);
pub const VUS: Family =
    family("sloprober_vus", "VUs active (closed model) or busy (arrival-rate model).", PER_SCENARIO);
pub const VUS_MAX: Family = family("sloprober_vus_max", "VUs allocated.", PER_SCENARIO);
pub const SCHEDULE_LAG: Family = family(
    "sloprober_schedule_lag_seconds",
    "Arrival-rate executors: how late iterations started after their scheduled instant.",
    PER_SCENARIO,
);
pub const ITERATION_DURATION: Family = family(
    "sloprober_iteration_duration_seconds",
    "Whole iterations (every step and think time), as k6's iteration_duration.",
    PER_SCENARIO,
);
pub const GROUP_DURATION: Family = family(
    "sloprober_group_duration_seconds",
    "Journey groups run to their end (all passes), as k6's group_duration; group is k6's path (::name).",
    &[SCENARIO, GROUP],
);
pub const ITERATIONS_INCOMPLETE: Family = family(
    "sloprober_iterations_incomplete_total",
    "Journey iterations that did not run every step, by the first reason.",
    &[SCENARIO, JOURNEY, REASON],
);
/// Seconds since the epoch when the earliest certificate of a server's chain expires.
pub const TLS_CERT_EXPIRY: Family = family(
    "sloprober_tls_earliest_cert_expiry_timestamp_seconds",
    "When the earliest certificate of the chain a server presented expires (seconds since the epoch), \
     as blackbox_exporter's probe_ssl_earliest_cert_expiry; set at each full TLS handshake.",
    &[SCENARIO, SERVER_NAME],
);
pub const SETUP_SUCCESSFUL: Family = family(
    "sloprober_setup_successful",
    "1 when the scenario's setup last passed; 0 while it fails (the daemon makes none of the scenario's load until it has passed once).",
    PER_SCENARIO,
);
pub const BUILD_INFO: Family = family("sloprober_build_info", "Build information; always 1.", &[VERSION]);
pub const CONFIG_RELOAD_SUCCESSFUL: Family =
    family("sloprober_config_last_reload_successful", "Whether the last config (re)load succeeded.", &[]);
pub const CONFIG_RELOAD_SUCCESS_TIME: Family = family(
    "sloprober_config_last_reload_success_timestamp_seconds",
    "Time of the last successful config (re)load.",
    &[],
);
pub const SLO_OBJECTIVE: Family =
    family("sloprober_slo_objective_ratio", "SLO objective: the fraction of good events required.", &[SLO]);
pub const SLO_THRESHOLD: Family =
    family("sloprober_slo_threshold_seconds", "Latency threshold of a latency SLO.", &[SLO]);
pub const SLO_COMPLIANT: Family = family(
    "sloprober_slo_compliant",
    "1 when the SLO's threshold holds over the daemon's sliding window (daemon.slo_window), or over a whole run at its end; else 0.",
    &[SLO],
);
pub const SLO_OBSERVED: Family = family(
    "sloprober_slo_observed_value",
    "The thresholded statistic over the sliding window: seconds for latency, a ratio for rates.",
    &[SLO],
);
pub const SLO_SLI: Family = family(
    "sloprober_slo_sli_ratio",
    "Fraction of good events over the sliding window (latency within threshold, or request not failed).",
    &[SLO],
);

/// The histogram of a phase: `sloprober_http_req_waiting_seconds`, by scenario only.
pub fn phase(phase: Phase) -> Family {
    let (name, help) = match phase {
        Phase::Blocked => (
            "sloprober_http_req_blocked_seconds",
            "k6's http_req_blocked: that phase of answered requests, per scenario (see docs/configuration.md, Request phases).",
        ),
        Phase::Connecting => (
            "sloprober_http_req_connecting_seconds",
            "k6's http_req_connecting: that phase of answered requests, per scenario (see docs/configuration.md, Request phases).",
        ),
        Phase::TlsHandshaking => (
            "sloprober_http_req_tls_handshaking_seconds",
            "k6's http_req_tls_handshaking: that phase of answered requests, per scenario (see docs/configuration.md, Request phases).",
        ),
        Phase::Sending => (
            "sloprober_http_req_sending_seconds",
            "k6's http_req_sending: that phase of answered requests, per scenario (see docs/configuration.md, Request phases).",
        ),
        Phase::Waiting => (
            "sloprober_http_req_waiting_seconds",
            "k6's http_req_waiting: that phase of answered requests, per scenario (see docs/configuration.md, Request phases).",
        ),
        Phase::Receiving => (
            "sloprober_http_req_receiving_seconds",
            "k6's http_req_receiving: that phase of answered requests, per scenario (see docs/configuration.md, Request phases).",
        ),
    };
    family(name, help, PER_SCENARIO)
}

/// Labels of custom families: one series per scenario, so a metric fed by many requests stays one series.
pub const CUSTOM_LABELS: &[&str] = PER_SCENARIO;
/// Labels of a custom Trend's histogram: failed requests are kept apart, as for `http_req_duration`.
pub const CUSTOM_TREND_LABELS: &[&str] = &[SCENARIO, EXPECTED_RESPONSE];

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

/// The `expected_response` label value: whether the answer's status was expected.
pub fn expected_response_label(expected: bool) -> &'static str {
    if expected {
        "true"
    } else {
        "false"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_has_its_own_family_named_after_k6s_metric() {
        for p in Phase::ALL {
            let f = phase(p);
            assert_eq!(f.name, format!("sloprober_{}_seconds", p.metric_name()));
            assert!(f.help.starts_with(&format!("k6's {}:", p.metric_name())), "{}", f.help);
        }
    }
}
