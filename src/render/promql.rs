//! PromQL for an SLO: its error ratio over a window, and the "breached now" test.

use crate::model::metric::{Matcher, Series};
use crate::model::threshold::{Aggregation, Operator};
use crate::plan::{GoodEvents, PlannedThreshold};
use std::time::Duration;

/// `5m`, `1h`, `30d`, `90s`: the largest unit that divides the duration exactly.
pub fn prom_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_millis() != 0 || secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60)] {
        if secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// A bucket boundary as the prometheus crate writes it (Rust's shortest f64 form).
fn le(seconds: f64) -> String {
    format!("{seconds}")
}

/// `{scenario="search",expected_response="true"}`: the labels the threshold's samples carry, then `extra`.
fn matchers(t: &PlannedThreshold, extra: &[Matcher]) -> String {
    let mut parts: Vec<String> = t.selection().iter().map(|(tag, v)| format!("{}=\"{v}\"", tag.key())).collect();
    parts.extend(extra.iter().map(Matcher::promql));
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// The threshold's labels and the bucket at `seconds`: `{...,le="0.3"}`.
fn bucket_matchers(t: &PlannedThreshold, seconds: f64) -> String {
    let labels = matchers(t, &[]);
    let le = format!("le=\"{}\"", le(seconds));
    match labels.strip_suffix('}') {
        Some(open) => format!("{open},{le}}}"),
        None => format!("{{{le}}}"),
    }
}

fn sum_rate(series: &str, w: &str) -> String {
    format!("sum(rate({series}[{w}]))")
}

/// (series of good events, series of all events) of an SLO's SLI, per second over `w`.
fn good_and_all(t: &PlannedThreshold, w: &str) -> Option<(String, String)> {
    let objective = t.objective?;
    Some(match (t.metric.series(), objective.good) {
        (Series::Histogram { family }, GoodEvents::LatencyWithin { seconds }) => (
            sum_rate(&format!("{family}_bucket{}", bucket_matchers(t, seconds)), w),
            sum_rate(&format!("{family}_count{}", matchers(t, &[])), w),
        ),
        (Series::Rate { trues, trues_matchers, total }, good) => {
            let hits = sum_rate(&format!("{trues}{}", matchers(t, &trues_matchers)), w);
            let all = sum_rate(&format!("{total}{}", matchers(t, &[])), w);
            match good {
                GoodEvents::RateTrue => (hits, all),
                _ => (format!("({all} - {hits})"), all),
            }
        }
        _ => return None,
    })
}

/// Series an SLO's SLI counts all its events in, per second over `window`; 0 or absent means no data.
pub fn events(t: &PlannedThreshold, window: Duration) -> Option<String> {
    good_and_all(t, &prom_duration(window)).map(|(_, all)| all)
}

/// Bad events per second over `window`: slow or failed requests, by the objective.
pub fn bad_events(t: &PlannedThreshold, window: Duration) -> Option<String> {
    let w = prom_duration(window);
    let objective = t.objective?;
    Some(match (t.metric.series(), objective.good) {
        (Series::Rate { trues, trues_matchers, .. }, GoodEvents::RateFalse) => {
            sum_rate(&format!("{trues}{}", matchers(t, &trues_matchers)), &w)
        }
        _ => {
            let (good, all) = good_and_all(t, &w)?;
            format!("{all}\n-\n{good}")
        }
    })
}

/// Fraction of bad events over `window`, read from the raw series.
pub fn error_ratio(t: &PlannedThreshold, window: Duration) -> Option<String> {
    let (good, all) = good_and_all(t, &prom_duration(window))?;
    Some(format!("1 - (\n  {good}\n  /\n  {all}\n)"))
}

/// True (non-empty) while the threshold fails over `window`, as the CI verdict would.
pub fn breached(t: &PlannedThreshold, window: Duration) -> Option<String> {
    let w = prom_duration(window);
    let c = t.condition;
    let fails = match c.operator {
        Operator::Lt => ">=",
        Operator::Le => ">",
        Operator::Gt => "<=",
        Operator::Ge => "<",
        Operator::Eq | Operator::Ne => return None,
    };
    let statistic = match (t.metric.series(), c.aggregation) {
        (Series::Histogram { family }, Aggregation::Percentile(_) | Aggregation::Med) => {
            let q = match c.aggregation {
                Aggregation::Percentile(p) => p / 100.0,
                _ => 0.5,
            };
            format!("histogram_quantile({q}, sum by (le) (rate({family}_bucket{}[{w}])))", matchers(t, &[]))
        }
        (Series::Histogram { family }, Aggregation::Avg) => {
            let m = matchers(t, &[]);
            format!("sum(rate({family}_sum{m}[{w}])) / sum(rate({family}_count{m}[{w}]))")
        }
        (Series::Rate { trues, trues_matchers, total }, Aggregation::Rate) => {
            format!(
                "{} / {}",
                sum_rate(&format!("{trues}{}", matchers(t, &trues_matchers)), &w),
                sum_rate(&format!("{total}{}", matchers(t, &[])), &w)
            )
        }
        _ => return None,
    };
    Some(format!("{statistic} {fails} {}", t.limit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_prometheus_form() {
        assert_eq!(prom_duration(Duration::from_secs(300)), "5m");
        assert_eq!(prom_duration(Duration::from_secs(30 * 86400)), "30d");
        assert_eq!(prom_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(prom_duration(Duration::from_secs(90)), "90s");
        assert_eq!(prom_duration(Duration::from_millis(1500)), "1500ms");
    }
}
