//! The request runner: one iteration picks a request by weight, renders it,
//! sends it, checks the response, records one `Sample`, then thinks.

mod outcome;

use crate::check::ResponseView;
use crate::config::ThinkTime;
use crate::executor::{Iteration, VuState};
use crate::plan::template::RenderContext;
use crate::plan::{MetricFeed, RequestBody, RequestPlan, RequestUrl, ScenarioPlan};
use crate::sample::{FailReason, Sample, SampleSink};
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::Rng;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Runs one scenario's iterations over one shared HTTP client.
pub struct ScenarioRunner {
    client: reqwest::Client,
    requests: Vec<RequestPlan>,
    picker: WeightedIndex<u32>,
    sleep: Option<ThinkTime>,
    /// `{{ counter }}`: one sequence for the whole scenario.
    counter: AtomicU64,
    sink: Arc<dyn SampleSink>,
    /// Arrival-rate scenarios report how late each iteration started.
    open_model: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("scenario {scenario}: cannot build the HTTP client: {source}")]
    Client { scenario: String, source: reqwest::Error },
    #[error("scenario {scenario}: request weights are invalid")]
    Weights { scenario: String },
}

impl ScenarioRunner {
    pub fn new(plan: &ScenarioPlan, sink: Arc<dyn SampleSink>) -> Result<ScenarioRunner, RunnerError> {
        let client = reqwest::Client::builder()
            .default_headers(plan.headers.clone())
            .user_agent(concat!("sloprober/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .connect_timeout(plan.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|source| RunnerError::Client { scenario: plan.name.clone(), source })?;
        let picker = WeightedIndex::new(plan.requests.iter().map(|r| r.weight))
            .map_err(|_| RunnerError::Weights { scenario: plan.name.clone() })?;
        Ok(ScenarioRunner {
            client,
            requests: plan.requests.clone(),
            picker,
            sleep: plan.sleep,
            counter: AtomicU64::new(0),
            sink,
            open_model: matches!(
                plan.executor.spec,
                crate::executor::ExecutorSpec::ConstantArrivalRate { .. }
                    | crate::executor::ExecutorSpec::RampingArrivalRate { .. }
            ),
        })
    }

    /// Sends request `index` and describes what happened; never fails.
    pub async fn execute(&self, index: usize, vu: &mut VuState, scheduled: Instant) -> Sample {
        let plan = &self.requests[index];
        let mut cx = RenderContext { vu: vu.id, iteration: vu.iterations, counter: &self.counter, rng: &mut vu.rng };
        let url = match &plan.url {
            RequestUrl::Static(url) => Ok(url.clone()),
            RequestUrl::Templated { base, path } => reqwest::Url::parse(&format!("{base}{}", path.render(&mut cx))),
        };
        let body = match &plan.body {
            RequestBody::None => None,
            RequestBody::Static(bytes) => Some(bytes.clone()),
            RequestBody::Json(t) => Some(t.render(&mut cx).to_string().into()),
            RequestBody::Text(t) => Some(t.render(&mut cx).into()),
        };
        let mut sample = Sample {
            request: index,
            latency: Duration::ZERO,
            status: None,
            failure: None,
            checks_passed: 0,
            bytes_sent: plan.head_bytes + body.as_ref().map_or(0, |b| b.len() as u64),
            bytes_received: 0,
            counter_delta: None,
            gauge_value: None,
            schedule_lag: None,
        };
        let Ok(url) = url else {
            // A templated path that renders to an invalid URL: the request never leaves.
            sample.failure = Some(FailReason::Connect);
            return sample;
        };
        let mut request = self.client.request(plan.method.clone(), url).timeout(plan.timeout);
        // Per header rather than cloning the map: names and values are reference-counted.
        for (name, value) in &plan.headers {
            request = request.header(name.clone(), value.clone());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                sample.latency = scheduled.elapsed();
                sample.failure = Some(outcome::classify(&error));
                return sample;
            }
        };
        let status = response.status().as_u16();
        let head_bytes: u64 =
            17 + response.headers().iter().map(|(n, v)| (n.as_str().len() + v.len() + 4) as u64).sum::<u64>();
        let mut response = response;
        let headers = std::mem::take(response.headers_mut());
        sample.status = Some(status);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                sample.latency = scheduled.elapsed();
                sample.bytes_received = head_bytes;
                sample.failure = Some(outcome::classify(&error));
                return sample;
            }
        };
        sample.latency = scheduled.elapsed();
        sample.bytes_received = head_bytes + body.len() as u64;
        let mut view = ResponseView::new(status, &headers, &body);
        let mut all_passed = true;
        for (i, check) in plan.checks.iter().enumerate() {
            if check.passes(&mut view) {
                sample.checks_passed |= 1 << i;
            } else {
                all_passed = false;
            }
        }
        sample.failure = if !plan.is_expected(status) {
            Some(FailReason::Status)
        } else if !all_passed {
            Some(FailReason::Check)
        } else {
            None
        };
        sample.counter_delta = plan.counter.as_ref().and_then(|feed| read_feed(feed, &mut view, 1.0));
        sample.gauge_value =
            plan.gauge.as_ref().and_then(|feed| read_feed(feed, &mut view, f64::NAN)).filter(|v| !v.is_nan());
        sample
    }
}

/// The number a feed reads from the response; `default` when it has no JSON path.
fn read_feed(feed: &MetricFeed, view: &mut ResponseView<'_>, default: f64) -> Option<f64> {
    match &feed.json_path {
        None => Some(default),
        Some(path) => view.json().and_then(|doc| path.lookup(doc)).and_then(|v| v.as_f64()),
    }
}

impl Iteration for ScenarioRunner {
    async fn run(&self, vu: &mut VuState, scheduled: Instant) {
        let lag = self.open_model.then(|| scheduled.elapsed());
        let index = self.picker.sample(&mut vu.rng);
        let mut sample = self.execute(index, vu, scheduled).await;
        sample.schedule_lag = lag;
        self.sink.record(&sample);
        if let Some(think) = self.sleep {
            let pause = if think.min == think.max { think.min } else { vu.rng.random_range(think.min..=think.max) };
            tokio::time::sleep(pause).await;
        }
    }
}
