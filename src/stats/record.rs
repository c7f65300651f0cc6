//! Statistics as plain data, for the result files that `sloprober merge`
//! combines. Histograms are written bucket by bucket: reading one back
//! gives exactly the histogram that was written, so merging shards read
//! from files equals merging them in memory.

use super::{Latency, RequestStats};
use crate::model::sample::FailReason;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An HDR histogram in microseconds: each non-empty bucket as
/// `[highest value of the bucket, count]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramRecord {
    pub significant_digits: u8,
    pub buckets: Vec<[u64; 2]>,
}

impl HistogramRecord {
    pub fn of(histogram: &Histogram<u64>) -> HistogramRecord {
        HistogramRecord {
            significant_digits: histogram.sigfig(),
            buckets: histogram.iter_recorded().map(|b| [b.value_iterated_to(), b.count_at_value()]).collect(),
        }
    }

    /// The histogram back, with the bounds every sloprober histogram has.
    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        if !(1..=5).contains(&self.significant_digits) {
            return Err(format!("significant_digits {} is not between 1 and 5", self.significant_digits));
        }
        let mut histogram = Histogram::new_with_bounds(1, super::request::HIGHEST_MICROS, self.significant_digits)
            .map_err(|e| e.to_string())?;
        for [value, count] in &self.buckets {
            histogram.saturating_record_n(*value, *count);
        }
        Ok(histogram)
    }
}

/// [`Latency`]: its histogram and the exact sum of what it recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyRecord {
    pub histogram: HistogramRecord,
    pub sum_micros: u128,
}

impl LatencyRecord {
    pub fn of(latency: &Latency) -> LatencyRecord {
        LatencyRecord { histogram: HistogramRecord::of(&latency.histogram), sum_micros: latency.sum_micros }
    }

    pub fn latency(&self) -> Result<Latency, String> {
        Ok(Latency { histogram: self.histogram.histogram()?, sum_micros: self.sum_micros })
    }
}

/// A check's passes and fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CheckCounts {
    pub passes: u64,
    pub fails: u64,
}

/// The last gauge value, with the wall-clock time it was set (ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GaugeRecord {
    pub value: f64,
    pub at_unix_ms: u64,
}

/// [`RequestStats`] as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub count: u64,
    pub retries: u64,
    pub redirects: u64,
    /// Failed requests by reason (every reason, zeros too).
    pub failed: BTreeMap<String, u64>,
    pub statuses: BTreeMap<u16, u64>,
    /// By the check's position in the request.
    pub checks: Vec<CheckCounts>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub counter_sum: f64,
    /// True samples of the request's Rate (absent in results before this field: its failed requests).
    #[serde(default)]
    pub rate_trues: Option<u64>,
    pub gauge_last: Option<GaugeRecord>,
    /// The smallest and largest gauge values (absent in results before this field).
    #[serde(default)]
    pub gauge_range: Option<(f64, f64)>,
    pub expected_latency: LatencyRecord,
    pub failed_latency: Option<LatencyRecord>,
    pub schedule_lag: HistogramRecord,
}

impl RequestRecord {
    pub fn of(stats: &RequestStats) -> RequestRecord {
        let (now, wall) = (Instant::now(), SystemTime::now());
        RequestRecord {
            count: stats.count,
            retries: stats.retries,
            redirects: stats.redirects,
            failed: FailReason::ALL.iter().map(|r| (r.as_str().to_string(), stats.failed_by(*r))).collect(),
            statuses: stats.statuses.clone(),
            checks: stats
                .checks_passed
                .iter()
                .zip(&stats.checks_failed)
                .map(|(passes, fails)| CheckCounts { passes: *passes, fails: *fails })
                .collect(),
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            counter_sum: stats.counter_sum,
            rate_trues: Some(stats.rate_trues),
            gauge_last: stats.gauge_last.map(|(at, value)| GaugeRecord {
                value,
                at_unix_ms: (wall - now.saturating_duration_since(at))
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis() as u64,
            }),
            gauge_range: stats.gauge_range,
            expected_latency: LatencyRecord::of(&stats.expected),
            failed_latency: stats.failed_latency.as_deref().map(LatencyRecord::of),
            schedule_lag: HistogramRecord::of(&stats.schedule_lag),
        }
    }

    /// The statistics back; `checks` is how many checks the request has in the config.
    pub fn stats(&self, checks: usize) -> Result<RequestStats, String> {
        if self.checks.len() != checks {
            return Err(format!("it has {} checks where the config has {checks}", self.checks.len()));
        }
        let mut stats = RequestStats::new(checks, self.expected_latency.histogram.significant_digits);
        stats.count = self.count;
        stats.retries = self.retries;
        stats.redirects = self.redirects;
        for (name, n) in &self.failed {
            let reason = FailReason::ALL
                .into_iter()
                .find(|r| r.as_str() == name)
                .ok_or_else(|| format!("\"{name}\" is not a failure reason"))?;
            stats.failed[reason as usize] = *n;
        }
        stats.statuses = self.statuses.clone();
        for (i, c) in self.checks.iter().enumerate() {
            stats.checks_passed[i] = c.passes;
            stats.checks_failed[i] = c.fails;
        }
        stats.bytes_sent = self.bytes_sent;
        stats.bytes_received = self.bytes_received;
        stats.counter_sum = self.counter_sum;
        stats.rate_trues = self.rate_trues.unwrap_or_else(|| stats.failed_total());
        stats.gauge_last = self.gauge_last.map(|g| {
            let age =
                SystemTime::now().duration_since(UNIX_EPOCH + Duration::from_millis(g.at_unix_ms)).unwrap_or_default();
            let now = Instant::now();
            (now.checked_sub(age).unwrap_or(now), g.value)
        });
        stats.gauge_range = self.gauge_range.or(self.gauge_last.map(|g| (g.value, g.value)));
        stats.expected = self.expected_latency.latency()?;
        stats.failed_latency = self.failed_latency.as_ref().map(|l| l.latency().map(Box::new)).transpose()?;
        stats.schedule_lag = self.schedule_lag.histogram()?;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample::Sample;

    fn sample(request: usize, micros: u64, failure: Option<FailReason>) -> Sample {
        Sample {
            request,
            latency: Duration::from_micros(micros),
            status: Some(if failure.is_some() { 503 } else { 200 }),
            failure,
            checks_passed: u64::from(failure.is_none()),
            bytes_sent: 100,
            bytes_received: 1000 + micros % 7,
            counter_delta: Some(1.5),
            gauge_value: Some(micros as f64),
            rate_true: Some(failure.is_some()),
            schedule_lag: Some(Duration::from_micros(micros % 1300)),
            retried: micros % 11 == 0,
            redirects: (micros % 3) as u32,
            phases: None,
            detail: None,
        }
    }

    #[test]
    fn request_statistics_read_back_equal_to_what_was_written() {
        for digits in [2, 3] {
            let mut stats = RequestStats::new(1, digits);
            for i in 0..5000u64 {
                let micros = 1 + (i * 7919) % 2_000_000;
                stats.record(&sample(0, micros, (i % 13 == 0).then_some(FailReason::Timeout)));
            }
            stats.expected.record_zeros(3);
            let record = RequestRecord::of(&stats);
            let text = serde_json::to_string(&record).unwrap();
            let back = serde_json::from_str::<RequestRecord>(&text).unwrap().stats(1).unwrap();
            assert_eq!(back.expected.histogram, stats.expected.histogram);
            assert_eq!(back.expected.sum_micros, stats.expected.sum_micros);
            assert_eq!(
                back.failed_latency.as_ref().unwrap().histogram,
                stats.failed_latency.as_ref().unwrap().histogram
            );
            assert_eq!(back.schedule_lag, stats.schedule_lag);
            assert_eq!(RequestRecord::of(&back).gauge_last.map(|g| g.value), record.gauge_last.map(|g| g.value));
            assert_eq!((back.count, back.retries, back.redirects), (stats.count, stats.retries, stats.redirects));
            assert_eq!((back.failed, back.statuses.clone()), (stats.failed, stats.statuses.clone()));
            assert_eq!((back.checks_passed, back.checks_failed), (stats.checks_passed, stats.checks_failed));
            assert_eq!((back.bytes_sent, back.bytes_received), (stats.bytes_sent, stats.bytes_received));
            assert_eq!(back.counter_sum, stats.counter_sum);
        }
    }

    #[test]
    fn a_record_that_does_not_fit_the_config_is_refused() {
        let record = RequestRecord::of(&RequestStats::new(2, 3));
        assert_eq!(record.stats(3).err().unwrap(), "it has 2 checks where the config has 3");
        let mut bad = record.clone();
        bad.failed.insert("lost".into(), 1);
        assert_eq!(bad.stats(2).err().unwrap(), "\"lost\" is not a failure reason");
    }
}
