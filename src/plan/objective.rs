//! What an SLO means, decided once in the plan: the fraction of good events
//! it asks for and which events are good. The CI verdict, the live gauges and
//! the rendered rules all read it; none decides "good" itself.

use crate::model::metric::{Builtin, CustomKind, Metric};
use crate::model::threshold::{Aggregation, Condition, Operator};
use crate::model::units::{round, Unit, NOISE_FREE};

/// Which events an SLI counts as good.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GoodEvents {
    /// A request that got an expected answer within `seconds`. Failed
    /// requests are not latency events: the error SLOs judge them.
    LatencyWithin { seconds: f64 },
    /// A Rate sample that is false (`errors`, `http_req_failed`: the request did not fail).
    RateFalse,
    /// A Rate sample that is true (`checks`: the check passed).
    RateTrue,
}

/// An SLO's objective: `ratio` of the events its SLI counts must be good.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    pub ratio: f64,
    pub good: GoodEvents,
}

impl Objective {
    /// The objective a threshold expresses, when it has one: `p(95)<300` asks
    /// 95 % of answers within 0.3 s; `rate<0.01` on errors asks 99 % of
    /// samples false; `rate>0.99` on checks asks 99 % true.
    pub fn of(metric: &Metric, condition: &Condition) -> Option<Objective> {
        use Operator::*;
        let within = || GoodEvents::LatencyWithin { seconds: Unit::Milliseconds.to_base(condition.value) };
        match (metric.kind(), condition.aggregation, condition.operator) {
            (CustomKind::Trend, Aggregation::Percentile(p), Lt | Le) => {
                Some(Objective { ratio: p / 100.0, good: within() })
            }
            (CustomKind::Trend, Aggregation::Med, Lt | Le) => Some(Objective { ratio: 0.5, good: within() }),
            (CustomKind::Rate, Aggregation::Rate, Lt | Le) => {
                Some(Objective { ratio: 1.0 - condition.value, good: GoodEvents::RateFalse })
            }
            (CustomKind::Rate, Aggregation::Rate, Gt | Ge) => {
                Some(Objective { ratio: condition.value, good: GoodEvents::RateTrue })
            }
            _ => None,
        }
    }

    /// The latency bound of a latency SLO, in seconds.
    pub fn latency_seconds(&self) -> Option<f64> {
        match self.good {
            GoodEvents::LatencyWithin { seconds } => Some(seconds),
            _ => None,
        }
    }

    /// The bad fraction the objective allows.
    pub fn allowed_bad_ratio(&self) -> f64 {
        1.0 - self.ratio
    }

    /// The fraction of good events, given how many of `total` samples were true
    /// (for Rates) or within the bound (for latency).
    pub fn good_ratio(&self, hits: u64, total: u64) -> Option<f64> {
        (total > 0).then(|| {
            let share = hits as f64 / total as f64;
            match self.good {
                GoodEvents::RateFalse => 1.0 - share,
                GoodEvents::LatencyWithin { .. } | GoodEvents::RateTrue => share,
            }
        })
    }

    /// Share of the error budget spent at `good_ratio`.
    pub fn budget_used(&self, good_ratio: f64) -> Option<f64> {
        (self.ratio < 1.0).then(|| (1.0 - good_ratio) / self.allowed_bad_ratio())
    }

    /// What a good event is, for people (`sloprober check`, the SLO report):
    /// which requests the SLI counts and which of them are good.
    pub fn describe_good(&self, metric: &Metric) -> String {
        match (self.good, metric) {
            (GoodEvents::LatencyWithin { seconds }, _) => format!(
                "an answer with an expected status (its checks aside) within {} ms",
                round(Unit::Milliseconds.to_written(seconds), NOISE_FREE)
            ),
            (GoodEvents::RateFalse, Metric::Builtin(Builtin::HttpReqFailed)) => {
                "a request answered with an expected status (a failed check does not make it failed)".to_string()
            }
            (GoodEvents::RateFalse, Metric::Custom { name, .. }) => {
                format!("{name} is false: the request's status was expected and its checks passed")
            }
            (GoodEvents::RateFalse, _) => format!("{} is false", metric.name()),
            (GoodEvents::RateTrue, _) => format!("{} is true", metric.name()),
        }
    }
}
