//! What a request's answer feeds to its custom metrics: the Counter's
//! delta, the Gauge's value, the Rate's sample.

use crate::check::ResponseView;
use crate::model::sample::Sample;
use crate::plan::{MetricFeed, RateTruth, RequestPlan};
use http::HeaderMap;

/// The number a feed reads from the response; `default` when it has no JSON path.
pub(super) fn read(feed: &MetricFeed, view: &mut ResponseView<'_>, default: f64) -> Option<f64> {
    match &feed.json_path {
        None => Some(default),
        Some(path) => view.json().and_then(|doc| path.lookup(doc)).and_then(|v| v.as_f64()),
    }
}

/// Decides, once the exchange is over, what did not need the answer's body:
/// the Counter's +1 (whether an answer came or not) and the Rate's sample.
pub(super) fn settle(plan: &RequestPlan, sample: &mut Sample, variables: &[Option<serde_json::Value>]) {
    if let Some(feed) = plan.counter.as_ref().filter(|feed| feed.json_path.is_none()) {
        sample.counter_delta = feed.counts(sample.failure.is_some()).then_some(1.0);
    }
    if plan.rate.is_none() {
        return;
    }
    sample.rate_true = Some(match &plan.rate_truth {
        RateTruth::Failed => sample.failure.is_some(),
        RateTruth::CheckFailed(index) => sample.checks_passed & (1 << index) == 0,
        RateTruth::Status(ranges) => {
            sample.status.is_some_and(|s| ranges.iter().any(|(low, high)| (*low..=*high).contains(&s)))
        }
        // Judged on the answer in the exchange; without one, on status 0 and a null body.
        RateTruth::Expr(expr) => sample.rate_true.unwrap_or_else(|| {
            let headers = HeaderMap::new();
            expr.passes(&mut ResponseView::new(0, &headers, b""), variables)
        }),
    });
}
