//! What one request (of one scenario) has done over some span of time.

use super::Merge;
use crate::model::sample::{FailReason, Sample};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Instant;

/// Latencies are kept in microseconds, up to an hour; longer ones are clamped.
pub(super) const HIGHEST_MICROS: u64 = 3_600_000_000;

/// Latencies that merge exactly: an HDR histogram in microseconds and their sum.
#[derive(Clone)]
pub struct Latency {
    /// With 3 significant digits every recorded value is within 0.1 % of the true one.
    pub histogram: Histogram<u64>,
    pub sum_micros: u128,
}

impl Latency {
    pub fn new(significant_digits: u8) -> Latency {
        Latency {
            // The bounds are constants that hdrhistogram accepts, so this cannot fail.
            histogram: Histogram::new_with_bounds(1, HIGHEST_MICROS, significant_digits)
                .expect("constant histogram bounds are valid"),
            sum_micros: 0,
        }
    }

    pub(crate) fn record(&mut self, micros: u64) {
        self.histogram.saturating_record(micros);
        self.sum_micros += micros as u128;
    }

    /// `n` samples that took no time at all.
    pub(crate) fn record_zeros(&mut self, n: u64) {
        if n > 0 {
            self.histogram.saturating_record_n(0, n);
        }
    }

    pub(crate) fn reset(&mut self) {
        self.histogram.reset();
        self.sum_micros = 0;
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// At percentile `p` (0-100), in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        self.histogram.value_at_percentile(p) as f64 / 1000.0
    }

    pub fn avg_ms(&self) -> f64 {
        self.sum_micros as f64 / self.count().max(1) as f64 / 1000.0
    }

    pub fn min_ms(&self) -> f64 {
        self.histogram.min() as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.histogram.max() as f64 / 1000.0
    }

    /// How many samples took at most `seconds`.
    pub fn count_within(&self, seconds: f64) -> u64 {
        // Values share a bucket with others within 0.1 %, so the boundary is exact to that bound.
        let limit = ((seconds * 1e6).floor().max(0.0) as u64).min(HIGHEST_MICROS);
        self.histogram.count_between(0, limit)
    }
}

/// Which requests' latencies to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// Requests with an expected answer (k6's `expected_response:true`).
    Expected,
    All,
}

/// Counts and latency histograms that merge exactly.
#[derive(Clone)]
pub struct RequestStats {
    /// Latency of requests with an expected answer (k6's `expected_response:true`).
    pub expected: Latency,
    /// Latency of requests without one, allocated at the first.
    pub failed_latency: Option<Box<Latency>>,
    significant_digits: u8,
    pub count: u64,
    /// Requests sent a second time after a reused connection closed unanswered.
    pub retries: u64,
    /// Redirects followed.
    pub redirects: u64,
    pub failed: [u64; FailReason::COUNT],
    /// Responses by status code; requests without a response are not here.
    pub statuses: BTreeMap<u16, u64>,
    pub checks_passed: Vec<u64>,
    pub checks_failed: Vec<u64>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub counter_sum: f64,
    /// True samples of the request's Rate.
    pub rate_trues: u64,
    /// Last gauge value seen, and when.
    pub gauge_last: Option<(Instant, f64)>,
    /// The smallest and largest gauge values seen.
    pub gauge_range: Option<(f64, f64)>,
    /// Arrival-rate start lateness in microseconds (2 significant digits).
    pub schedule_lag: Histogram<u64>,
}

impl RequestStats {
    /// `significant_digits`: 3 for reports (0.1 % error), 2 where memory matters more (1 %).
    pub fn new(checks: usize, significant_digits: u8) -> RequestStats {
        RequestStats {
            expected: Latency::new(significant_digits),
            failed_latency: None,
            significant_digits,
            count: 0,
            retries: 0,
            redirects: 0,
            failed: [0; FailReason::COUNT],
            statuses: BTreeMap::new(),
            checks_passed: vec![0; checks],
            checks_failed: vec![0; checks],
            bytes_sent: 0,
            bytes_received: 0,
            counter_sum: 0.0,
            rate_trues: 0,
            gauge_last: None,
            gauge_range: None,
            schedule_lag: Histogram::new_with_bounds(1, HIGHEST_MICROS, 2)
                .expect("constant histogram bounds are valid"),
        }
    }

    pub fn record(&mut self, sample: &Sample) {
        let micros = (sample.latency.as_micros() as u64).max(1);
        self.count += 1;
        self.retries += u64::from(sample.retried);
        self.redirects += u64::from(sample.redirects);
        if let Some(reason) = sample.failure {
            self.failed[reason as usize] += 1;
        }
        if sample.expected_response() {
            self.expected.record(micros);
        } else {
            let digits = self.significant_digits;
            self.failed_latency.get_or_insert_with(|| Box::new(Latency::new(digits))).record(micros);
        }
        if let Some(status) = sample.status {
            *self.statuses.entry(status).or_default() += 1;
        }
        for i in 0..self.checks_passed.len() {
            if sample.checks_passed & (1 << i) != 0 {
                self.checks_passed[i] += 1;
            } else {
                self.checks_failed[i] += 1;
            }
        }
        self.bytes_sent += sample.bytes_sent;
        self.bytes_received += sample.bytes_received;
        if let Some(delta) = sample.counter_delta.filter(|d| *d >= 0.0) {
            self.counter_sum += delta;
        }
        if sample.rate_true == Some(true) {
            self.rate_trues += 1;
        }
        if let Some(value) = sample.gauge_value {
            self.gauge_last = Some((Instant::now(), value));
            self.gauge_range = widen(self.gauge_range, Some((value, value)));
        }
        if let Some(lag) = sample.schedule_lag {
            self.schedule_lag.saturating_record((lag.as_micros() as u64).max(1));
        }
    }

    /// Back to empty, keeping the histogram's allocation.
    pub fn reset(&mut self) {
        self.expected.reset();
        if let Some(failed) = &mut self.failed_latency {
            failed.reset();
        }
        self.count = 0;
        self.retries = 0;
        self.redirects = 0;
        self.failed = [0; FailReason::COUNT];
        self.statuses.clear();
        self.checks_passed.fill(0);
        self.checks_failed.fill(0);
        self.bytes_sent = 0;
        self.bytes_received = 0;
        self.counter_sum = 0.0;
        self.rate_trues = 0;
        self.gauge_last = None;
        self.gauge_range = None;
        self.schedule_lag.reset();
    }

    /// Requests that failed for any reason, their content included: what a
    /// custom Rate fed by the request counts.
    pub fn failed_total(&self) -> u64 {
        self.failed.iter().sum()
    }

    /// Requests without an expected answer: k6's `http_req_failed`.
    pub fn failed_requests(&self) -> u64 {
        self.failed_total() - FailReason::CONTENT.iter().map(|r| self.failed_by(*r)).sum::<u64>()
    }

    pub fn failed_by(&self, reason: FailReason) -> u64 {
        self.failed[reason as usize]
    }

    /// The latencies of `answers`.
    pub fn latency(&self, answers: Answers) -> Latency {
        let mut latency = self.expected.clone();
        if let (Answers::All, Some(failed)) = (answers, &self.failed_latency) {
            latency.merge(failed);
        }
        latency
    }

    /// Latency at percentile `p` (0-100) over every request, failed ones too, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        match self.failed_latency {
            None => self.expected.percentile_ms(p),
            Some(_) => self.latency(Answers::All).percentile_ms(p),
        }
    }

    /// Start lateness of arrival-rate iterations; None when none started late or early.
    pub fn schedule_lag(&self) -> Option<ScheduleLag> {
        let lag = &self.schedule_lag;
        let ms = |micros: u64| micros as f64 / 1000.0;
        (!lag.is_empty()).then(|| ScheduleLag {
            count: lag.len(),
            p50_ms: ms(lag.value_at_percentile(50.0)),
            p99_ms: ms(lag.value_at_percentile(99.0)),
            max_ms: ms(lag.max()),
            within_1ms_ratio: lag.count_between(0, 1000) as f64 / lag.len() as f64,
        })
    }
}

/// How late arrival-rate iterations started after their scheduled instant.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScheduleLag {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The share that started within 1 ms of schedule.
    pub within_1ms_ratio: f64,
}

impl Merge for Latency {
    fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot go out of range.
        let _ = self.histogram.add(&other.histogram);
        self.sum_micros += other.sum_micros;
    }
}

/// Both describe the same request.
impl Merge for RequestStats {
    fn merge(&mut self, other: &RequestStats) {
        self.expected.merge(&other.expected);
        if let Some(theirs) = &other.failed_latency {
            let digits = self.significant_digits;
            self.failed_latency.get_or_insert_with(|| Box::new(Latency::new(digits))).merge(theirs);
        }
        self.count += other.count;
        self.retries += other.retries;
        self.redirects += other.redirects;
        for (mine, theirs) in self.failed.iter_mut().zip(other.failed) {
            *mine += theirs;
        }
        for (status, n) in &other.statuses {
            *self.statuses.entry(*status).or_default() += n;
        }
        for (mine, theirs) in self.checks_passed.iter_mut().zip(&other.checks_passed) {
            *mine += theirs;
        }
        for (mine, theirs) in self.checks_failed.iter_mut().zip(&other.checks_failed) {
            *mine += theirs;
        }
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.counter_sum += other.counter_sum;
        self.rate_trues += other.rate_trues;
        let _ = self.schedule_lag.add(&other.schedule_lag);
        self.gauge_last = match (self.gauge_last, other.gauge_last) {
            (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        self.gauge_range = widen(self.gauge_range, other.gauge_range);
    }
}

/// The range that holds both.
fn widen(a: Option<(f64, f64)>, b: Option<(f64, f64)>) -> Option<(f64, f64)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample(ms: u64, failure: Option<FailReason>) -> Sample {
        let mut s = Sample::new(0);
        s.latency = Duration::from_millis(ms);
        s.failure = failure;
        s.status = Some(if failure.is_some() { 500 } else { 200 });
        s
    }

    fn recorded(samples: &[Sample]) -> RequestStats {
        let mut stats = RequestStats::new(0, 3);
        samples.iter().for_each(|s| stats.record(s));
        stats
    }

    #[test]
    fn failed_requests_are_kept_apart_from_expected_answers() {
        let stats = recorded(&[sample(10, None), sample(20, None), sample(900, Some(FailReason::Status))]);
        assert_eq!((stats.count, stats.failed_total(), stats.failed_by(FailReason::Status)), (3, 1, 1));
        assert_eq!(stats.latency(Answers::Expected).count(), 2);
        assert_eq!(stats.latency(Answers::All).count(), 3);
        assert!((stats.latency(Answers::Expected).percentile_ms(100.0) - 20.0).abs() < 0.05);
        assert!((stats.latency(Answers::All).percentile_ms(100.0) - 900.0).abs() < 1.0);
        assert_eq!(stats.statuses.get(&500), Some(&1));
    }

    #[test]
    fn a_latency_at_the_bound_is_within_it_and_one_just_above_is_not() {
        let stats = recorded(&[sample(300, None), sample(301, None), sample(299, None)]);
        let latency = stats.latency(Answers::Expected);
        assert_eq!(latency.count_within(0.3), 2, "<= 300 ms, as Prometheus' le=\"0.3\" bucket counts");
        assert_eq!(latency.count_within(0.2995), 1);
    }

    #[test]
    fn merged_halves_equal_the_whole() {
        let all: Vec<Sample> = (1..=200).map(|i| sample(i * 3, (i % 7 == 0).then_some(FailReason::Timeout))).collect();
        let (first, second) = all.split_at(77);
        let mut merged = recorded(first);
        merged.merge(&recorded(second));
        let whole = recorded(&all);
        assert_eq!((merged.count, merged.failed_total()), (whole.count, whole.failed_total()));
        for p in [50.0, 95.0, 99.0, 100.0] {
            assert_eq!(merged.percentile_ms(p), whole.percentile_ms(p), "p({p})");
        }
        assert_eq!(merged.latency(Answers::Expected).sum_micros, whole.latency(Answers::Expected).sum_micros);
    }
}
