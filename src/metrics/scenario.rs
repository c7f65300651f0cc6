//! One scenario's metric handles, resolved once so that recording a sample
//! does no label lookup and no allocation.

use super::families::{Families, MetricsError};
use crate::model::families::{self as exported, expected_response_label, Family, CUSTOM_LABELS, CUSTOM_TREND_LABELS};
use crate::model::sample::{FailReason, Incomplete, Phase, Sample, SampleSink, Span};
use crate::plan::{RequestPlan, ScenarioPlan};
use prometheus::{Counter, Gauge, GaugeVec, Histogram, IntCounter, IntCounterVec};
use std::sync::OnceLock;

const FIRST_STATUS: u16 = 100;
/// Schedule lag boundaries (seconds): a healthy generator starts well inside 1 ms.
const SCHEDULE_LAG_BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1.0];
const LAST_STATUS: u16 = 599;

/// `http_reqs_total` children per status code, created on first sight of a code.
struct StatusCounters {
    family: IntCounterVec,
    scenario: String,
    request: String,
    by_code: Box<[OnceLock<IntCounter>]>,
    error: IntCounter,
}

impl StatusCounters {
    fn get(&self, code: u16) -> &IntCounter {
        if !(FIRST_STATUS..=LAST_STATUS).contains(&code) {
            return &self.error;
        }
        self.by_code[(code - FIRST_STATUS) as usize]
            .get_or_init(|| self.family.with_label_values(&[&self.scenario, &self.request, &code.to_string()]))
    }
}

/// A Trend's histogram children: requests with an expected answer, resolved
/// at start-up (the SLIs read them from the first scrape), and failed ones,
/// created at the request's first failure (no SLI reads them, and a healthy
/// target then costs no series).
struct TrendHandles {
    expected: Histogram,
    failed: OnceLock<Histogram>,
    family: prometheus::HistogramVec,
    /// The child's label values before `expected_response`.
    labels: Vec<String>,
}

impl TrendHandles {
    fn resolve(family: &prometheus::HistogramVec, labels: &[&str]) -> TrendHandles {
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        TrendHandles {
            expected: Self::child(family, &labels, true),
            failed: OnceLock::new(),
            family: family.clone(),
            labels,
        }
    }

    fn child(family: &prometheus::HistogramVec, labels: &[String], expected: bool) -> Histogram {
        let mut values: Vec<&str> = labels.iter().map(String::as_str).collect();
        values.push(expected_response_label(expected));
        family.with_label_values(&values)
    }

    /// A latency, under `expected_response` as k6 sets it: whether the answer's status was expected.
    fn observe(&self, seconds: f64, expected: bool) {
        if expected {
            self.expected.observe(seconds);
        } else {
            self.failed.get_or_init(|| Self::child(&self.family, &self.labels, false)).observe(seconds);
        }
    }
}

struct RequestHandles {
    statuses: StatusCounters,
    retries: IntCounter,
    redirects: IntCounter,
    failed: [IntCounter; FailReason::COUNT],
    duration: TrendHandles,
    /// (pass, fail) per check.
    checks: Vec<(IntCounter, IntCounter)>,
    trend: Option<TrendHandles>,
    /// (failed, all) for the custom Rate.
    rate: Option<(IntCounter, IntCounter)>,
    counter: Option<Counter>,
    gauge: Option<Gauge>,
}

/// A scenario's handles; it is the scenario's `SampleSink` into Prometheus.
pub struct ScenarioMetrics {
    requests: Vec<RequestHandles>,
    data_sent: IntCounter,
    data_received: IntCounter,
    schedule_lag: Histogram,
    iteration_duration: Histogram,
    /// By `Phase as usize`: the phases of answered requests, per scenario
    /// (not per request: six histograms per request would multiply the series).
    phases: [Histogram; Phase::COUNT],
    /// By group index.
    group_duration: Vec<Histogram>,
    /// By journey, then reason.
    incomplete: Vec<[IntCounter; 3]>,
    /// By server name, set at each full TLS handshake.
    cert_expiry: GaugeVec,
    /// 1 once the setup passed, 0 while it fails; scenarios with a setup only.
    setup: Option<prometheus::IntGauge>,
    scenario: String,
}

impl ScenarioMetrics {
    /// Resolves every series the scenario can produce; they all exist at 0 from now on.
    pub fn resolve(
        families: &Families,
        scenario: &ScenarioPlan,
        buckets: &[f64],
    ) -> Result<ScenarioMetrics, MetricsError> {
        let s = scenario.name.as_str();
        let per_scenario = |f: Family| -> Result<IntCounter, MetricsError> {
            Ok(families.int_counter(f.name, f.help, f.labels)?.with_label_values(&[s]))
        };
        let requests = scenario
            .requests
            .iter()
            .map(|r| RequestHandles::resolve(families, s, r, buckets))
            .collect::<Result<_, _>>()?;
        Ok(ScenarioMetrics {
            requests,
            data_sent: per_scenario(exported::DATA_SENT)?,
            data_received: per_scenario(exported::DATA_RECEIVED)?,
            schedule_lag: histogram(families, exported::SCHEDULE_LAG, SCHEDULE_LAG_BUCKETS)?.with_label_values(&[s]),
            iteration_duration: histogram(families, exported::ITERATION_DURATION, buckets)?.with_label_values(&[s]),
            phases: {
                let [blocked, connecting, tls, sending, waiting, receiving] =
                    Phase::ALL.map(|phase| histogram(families, exported::phase(phase), buckets));
                [blocked?, connecting?, tls?, sending?, waiting?, receiving?].map(|f| f.with_label_values(&[s]))
            },
            group_duration: {
                let family = histogram(families, exported::GROUP_DURATION, buckets)?;
                scenario.groups.iter().map(|g| family.with_label_values(&[s, g])).collect()
            },
            incomplete: {
                let f = exported::ITERATIONS_INCOMPLETE;
                let family = families.int_counter(f.name, f.help, f.labels)?;
                scenario
                    .journeys
                    .iter()
                    .map(|j| Incomplete::ALL.map(|r| family.with_label_values(&[s, &j.name, r.as_str()])))
                    .collect()
            },
            cert_expiry: {
                let f = exported::TLS_CERT_EXPIRY;
                families.gauge(f.name, f.help, f.labels)?
            },
            setup: match &scenario.setup {
                Some(_) => {
                    let f = exported::SETUP_SUCCESSFUL;
                    Some(families.int_gauge(f.name, f.help, f.labels)?.with_label_values(&[s]))
                }
                None => None,
            },
            scenario: s.to_string(),
        })
    }
}

/// A histogram family of the catalog, with `buckets`.
fn histogram(families: &Families, f: Family, buckets: &[f64]) -> Result<prometheus::HistogramVec, MetricsError> {
    families.histogram(f.name, f.help, f.labels, buckets)
}

impl RequestHandles {
    fn resolve(
        families: &Families,
        scenario: &str,
        r: &RequestPlan,
        buckets: &[f64],
    ) -> Result<RequestHandles, MetricsError> {
        let labels = [scenario, r.name.as_str()];
        let reqs =
            families.int_counter(exported::HTTP_REQS.name, exported::HTTP_REQS.help, exported::HTTP_REQS.labels)?;
        let statuses = StatusCounters {
            error: reqs.with_label_values(&[scenario, &r.name, "error"]),
            family: reqs,
            scenario: scenario.to_string(),
            request: r.name.clone(),
            by_code: (FIRST_STATUS..=LAST_STATUS).map(|_| OnceLock::new()).collect(),
        };
        let expected: Vec<u16> = if r.expected_statuses.is_empty() { vec![200] } else { r.expected_statuses.clone() };
        for code in expected {
            statuses.get(code);
        }
        let f = exported::HTTP_REQ_FAILED;
        let failed_family = families.int_counter(f.name, f.help, f.labels)?;
        let failed =
            FailReason::ALL.map(|reason| failed_family.with_label_values(&[scenario, &r.name, reason.as_str()]));
        let duration = TrendHandles::resolve(&histogram(families, exported::HTTP_REQ_DURATION, buckets)?, &labels);
        let f = exported::CHECKS;
        let checks_family = families.int_counter(f.name, f.help, f.labels)?;
        let checks = r
            .checks
            .iter()
            .map(|c| {
                (
                    checks_family.with_label_values(&[scenario, &r.name, &c.name, "pass"]),
                    checks_family.with_label_values(&[scenario, &r.name, &c.name, "fail"]),
                )
            })
            .collect();
        let trend = r
            .trend
            .as_ref()
            .map(|name| {
                let help = format!(
                    "Custom Trend {name}: request latency in seconds; expected_response=\"false\" without an answer of an expected status."
                );
                families
                    .histogram(&exported::custom_trend_family(name), &help, CUSTOM_TREND_LABELS, buckets)
                    .map(|h| TrendHandles::resolve(&h, &[scenario]))
            })
            .transpose()?;
        let rate = r
            .rate
            .as_ref()
            .map(|name| -> Result<_, MetricsError> {
                let (hits_family, all_family) = exported::custom_rate_families(name);
                let hits = families.int_counter(
                    &hits_family,
                    &format!("Custom Rate {name}: requests that failed, a failed check included."),
                    CUSTOM_LABELS,
                )?;
                let all =
                    families.int_counter(&all_family, &format!("Custom Rate {name}: all requests."), CUSTOM_LABELS)?;
                Ok((hits.with_label_values(&[scenario]), all.with_label_values(&[scenario])))
            })
            .transpose()?;
        let counter = r
            .counter
            .as_ref()
            .map(|feed| {
                families
                    .counter(
                        &exported::custom_counter_family(&feed.name),
                        &format!("Custom Counter {}.", feed.name),
                        CUSTOM_LABELS,
                    )
                    .map(|c| c.with_label_values(&[scenario]))
            })
            .transpose()?;
        let gauge = r
            .gauge
            .as_ref()
            .map(|feed| {
                families
                    .gauge(&feed.name, &format!("Custom Gauge {}: last value seen.", feed.name), CUSTOM_LABELS)
                    .map(|g| g.with_label_values(&[scenario]))
            })
            .transpose()?;
        let per_request = |f: Family| -> Result<IntCounter, MetricsError> {
            Ok(families.int_counter(f.name, f.help, f.labels)?.with_label_values(&labels))
        };
        let retries = per_request(exported::HTTP_REQ_RETRIES)?;
        let redirects = per_request(exported::HTTP_REQ_REDIRECTS)?;
        Ok(RequestHandles { statuses, retries, redirects, failed, duration, checks, trend, rate, counter, gauge })
    }
}

impl SampleSink for ScenarioMetrics {
    fn record(&self, sample: &Sample) {
        let Some(r) = self.requests.get(sample.request) else { return };
        match sample.status {
            Some(code) => r.statuses.get(code).inc(),
            None => r.statuses.error.inc(),
        }
        if let Some(reason) = sample.failure {
            r.failed[reason as usize].inc();
        }
        if sample.retried {
            r.retries.inc();
        }
        if sample.redirects > 0 {
            r.redirects.inc_by(u64::from(sample.redirects));
        }
        let seconds = sample.latency.as_secs_f64();
        let expected = sample.expected_response();
        r.duration.observe(seconds, expected);
        for (i, (pass, fail)) in r.checks.iter().enumerate() {
            if sample.checks_passed & (1 << i) != 0 {
                pass.inc()
            } else {
                fail.inc()
            }
        }
        if let Some(trend) = &r.trend {
            trend.observe(seconds, expected);
        }
        if let (Some((hits, all)), Some(truth)) = (&r.rate, sample.rate_true) {
            all.inc();
            if truth {
                hits.inc();
            }
        }
        if let (Some(counter), Some(delta)) = (&r.counter, sample.counter_delta) {
            if delta >= 0.0 {
                counter.inc_by(delta);
            }
        }
        if let (Some(gauge), Some(value)) = (&r.gauge, sample.gauge_value) {
            gauge.set(value);
        }
        if let Some(lag) = sample.schedule_lag {
            self.schedule_lag.observe(lag.as_secs_f64());
        }
        if let Some(phases) = &sample.phases {
            for (histogram, time) in self.phases.iter().zip(phases) {
                histogram.observe(time.as_secs_f64());
            }
        }
        self.data_sent.inc_by(sample.bytes_sent);
        self.data_received.inc_by(sample.bytes_received);
    }

    fn record_span(&self, span: &Span) {
        match *span {
            Span::Iteration { journey, duration, incomplete } => {
                self.iteration_duration.observe(duration.as_secs_f64());
                if let (Some(reason), Some(counters)) = (incomplete, self.incomplete.get(journey)) {
                    counters[reason as usize].inc();
                }
            }
            Span::Group { group, duration } => {
                if let Some(histogram) = self.group_duration.get(group) {
                    histogram.observe(duration.as_secs_f64());
                }
            }
        }
    }

    fn record_certificate(&self, server_name: &str, expiry: u64) {
        self.cert_expiry.with_label_values(&[&self.scenario, server_name]).set(expiry as f64);
    }

    fn record_setup(&self, failed: Option<&str>) {
        if let Some(gauge) = &self.setup {
            gauge.set(i64::from(failed.is_none()));
        }
    }
}
