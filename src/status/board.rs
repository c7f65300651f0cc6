//! What the status page shows, as the JSON document it reads
//! (`/status.json`): the last evaluation's SLO verdicts and per-request
//! figures, a bounded history of them for the charts, and each request's
//! last failures.

use super::failures::RecentFailures;
use crate::model::sample::FailReason;
use crate::model::units::{self, Unit};
use crate::plan::Plan;
use crate::slo::{evaluate, TrendFigures, Verdict};
use crate::stats::{Answers, Snapshot};
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Evaluations kept for the charts: 6 minutes at one a second, 30 at one every 5 s.
pub const HISTORY: usize = 360;

/// Who serves the page: it says what its figures cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Figures over the daemon's live SLO window.
    Daemon,
    /// Figures over a run so far.
    Run,
}

/// The status of the load being played, updated at each evaluation.
pub struct StatusBoard {
    mode: Mode,
    state: Mutex<Option<State>>,
}

/// The load of one plan (one daemon generation, or a run).
struct State {
    plan: Arc<Plan>,
    failures: Arc<RecentFailures>,
    /// How often the figures change.
    every: Duration,
    /// The last evaluation: SLOs and scenarios without their failures.
    latest: Option<Latest>,
    history: VecDeque<Point>,
}

/// One evaluation as the charts draw it.
struct Point {
    at: f64,
    /// Per scenario: VUs, then per request `[req/s, p50, p95, p99 (ms), failed ratio]`.
    scenarios: Vec<(i64, Vec<[Option<f64>; 5]>)>,
}

impl StatusBoard {
    pub fn new(mode: Mode) -> Arc<StatusBoard> {
        Arc::new(StatusBoard { mode, state: Mutex::new(None) })
    }

    /// Starts showing `plan`'s load (at start, and at each reload): its
    /// failures go to `failures`, its figures change every `every`.
    pub fn begin(&self, plan: Arc<Plan>, failures: Arc<RecentFailures>, every: Duration) {
        let state = State { plan, failures, every, latest: None, history: VecDeque::with_capacity(HISTORY) };
        *self.lock() = Some(state);
    }

    /// The figures of an evaluation: `snapshot` over the window (or the run
    /// so far), `verdicts` of the plan's thresholds on it. Figures of a plan
    /// the board no longer shows (a generation being replaced by a reload)
    /// are left out.
    pub fn publish(&self, plan: &Arc<Plan>, snapshot: &Snapshot, verdicts: &[Verdict]) {
        if !self.lock().as_ref().is_some_and(|state| Arc::ptr_eq(&state.plan, plan)) {
            return;
        }
        let seconds = snapshot.elapsed.as_secs_f64().max(1e-9);
        let mut point = Point { at: unix_seconds(SystemTime::now()), scenarios: Vec::new() };
        let mut scenarios = Vec::new();
        let mut views = snapshot.requests.iter();
        for scenario in &plan.scenarios {
            let executor = snapshot.executors.iter().find(|e| e.scenario == scenario.name);
            let mut requests = Vec::new();
            let mut figures = Vec::new();
            for (request, view) in scenario.requests.iter().zip(views.by_ref()) {
                let shown = Figures::of(&view.stats, seconds);
                requests.push(
                    shown.status(&request.name, crate::report::threshold_lines(&plan.thresholds, scenario, request)),
                );
                figures.push(shown.point());
            }
            let spans: Vec<SpanStatus> =
                snapshot.spans.iter().filter(|span| span.scenario == scenario.name).map(SpanStatus::of).collect();
            let vus = executor.map_or(0, |e| e.vus);
            point.scenarios.push((vus, figures));
            scenarios.push(ScenarioStatus {
                name: scenario.name.clone(),
                target: without_credentials(&scenario.base_url),
                executor: scenario.executor.describe(),
                vus,
                vus_max: executor.map_or(0, |e| e.vus_max),
                iterations: executor.map_or(0, |e| e.iterations),
                dropped_iterations: executor.map_or(0, |e| e.dropped),
                setup_failure: None,
                requests,
                spans,
            });
        }
        let latest = Latest {
            updated: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            covered_seconds: round(snapshot.elapsed.as_secs_f64()),
            passed: verdicts.iter().all(|v| v.passed),
            slos: slos(plan, verdicts),
            scenarios,
            history: None,
        };
        let mut guard = self.lock();
        let Some(state) = guard.as_mut().filter(|state| Arc::ptr_eq(&state.plan, plan)) else { return };
        state.latest = Some(latest);
        if state.history.len() == HISTORY {
            state.history.pop_front();
        }
        state.history.push_back(point);
    }

    /// The document the page reads.
    pub fn document(&self) -> StatusDocument {
        let guard = self.lock();
        let mode = match self.mode {
            Mode::Daemon => "daemon",
            Mode::Run => "run",
        };
        let shown = guard.as_ref().map(|state| {
            let plan = &state.plan;
            let latest = state.latest.clone().map(|mut latest| {
                for (s, scenario) in latest.scenarios.iter_mut().enumerate() {
                    scenario.setup_failure = state.failures.setup_failure(s);
                    for (r, request) in scenario.requests.iter_mut().enumerate() {
                        let (kept, total) = state.failures.of(s, r);
                        request.failures_since_start = total;
                        request.recent_failures = kept.iter().map(FailureStatus::of).collect();
                    }
                }
                latest.history = Some(History::of(&state.history, plan));
                latest
            });
            Shown {
                profile: plan.profile.clone(),
                config: plan.source.clone(),
                refresh_seconds: state.every.as_secs_f64().clamp(1.0, 5.0),
                over: match self.mode {
                    Mode::Daemon => format!("the last {}", humantime::format_duration(plan.daemon.slo_window)),
                    Mode::Run => "the run so far".to_string(),
                },
                latest,
            }
        });
        StatusDocument {
            kind: "sloprober.status",
            version: 1,
            sloprober: env!("CARGO_PKG_VERSION"),
            mode,
            over: shown.is_none().then_some("nothing yet: the load is starting"),
            shown,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One request's figures over an evaluation's span of `seconds`.
struct Figures<'s> {
    stats: &'s crate::stats::RequestStats,
    per_second: f64,
    failed_ratio: Option<f64>,
    latency: Option<TrendFigures>,
}

impl<'s> Figures<'s> {
    fn of(stats: &'s crate::stats::RequestStats, seconds: f64) -> Figures<'s> {
        Figures {
            stats,
            per_second: round(stats.count as f64 / seconds),
            failed_ratio: (stats.count > 0).then(|| round(stats.failed_requests() as f64 / stats.count as f64)),
            latency: TrendFigures::of(&stats.latency(Answers::All)),
        }
    }

    fn percentile(&self, pick: fn(&TrendFigures) -> f64) -> Option<f64> {
        self.latency.as_ref().map(|t| round(pick(t)))
    }

    fn status(&self, name: &str, latency_thresholds: Vec<Value>) -> RequestStatus {
        let failed_by_reason = FailReason::ALL
            .iter()
            .filter(|r| self.stats.failed_by(**r) > 0)
            .map(|r| (r.as_str().to_string(), Value::from(self.stats.failed_by(*r))))
            .collect();
        RequestStatus {
            count: self.stats.count,
            per_second: self.per_second,
            failed_ratio: self.failed_ratio,
            failed_by_reason,
            p50_ms: self.percentile(|t| t.med),
            p95_ms: self.percentile(|t| t.p95),
            p99_ms: self.percentile(|t| t.p99),
            name: name.to_string(),
            latency_thresholds,
            failures_since_start: 0,
            recent_failures: Vec::new(),
        }
    }

    /// `[req/s, p50, p95, p99 (ms), failed ratio]`, as a history point keeps them.
    fn point(&self) -> [Option<f64>; 5] {
        [
            Some(self.per_second),
            self.percentile(|t| t.med),
            self.percentile(|t| t.p95),
            self.percentile(|t| t.p99),
            self.failed_ratio,
        ]
    }
}

/// Each SLO as the SLO report gives it, with its burn rate (bad fraction over allowed bad fraction).
fn slos(plan: &Plan, verdicts: &[Verdict]) -> Vec<SloStatus> {
    plan.thresholds
        .iter()
        .zip(verdicts)
        .map(|(threshold, verdict)| SloStatus {
            entry: crate::report::slo_entry(threshold, verdict),
            burn_rate: verdict.budget_used(threshold).map(|b| units::round(b, 4)),
        })
        .collect()
}

/// `/status.json`: `kind` and `version` first; what is shown once a load has begun.
#[derive(Serialize)]
pub struct StatusDocument {
    kind: &'static str,
    version: u32,
    sloprober: &'static str,
    mode: &'static str,
    /// Before any load: what the figures will cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    over: Option<&'static str>,
    #[serde(flatten)]
    shown: Option<Shown>,
}

/// The load being shown; its figures once the first evaluation is in.
#[derive(Serialize)]
struct Shown {
    profile: String,
    config: String,
    refresh_seconds: f64,
    over: String,
    #[serde(flatten)]
    latest: Option<Latest>,
}

/// The last evaluation; the failures and history are added when the document is read.
#[derive(Clone, Serialize)]
struct Latest {
    updated: String,
    covered_seconds: f64,
    passed: bool,
    slos: Vec<SloStatus>,
    scenarios: Vec<ScenarioStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<History>,
}

/// An SLO as the SLO report gives it, with its burn rate.
#[derive(Clone, Serialize)]
struct SloStatus {
    #[serde(flatten)]
    entry: Value,
    burn_rate: Option<f64>,
}

#[derive(Clone, Serialize)]
struct ScenarioStatus {
    name: String,
    /// The base URL, without credentials.
    target: String,
    executor: String,
    vus: i64,
    vus_max: i64,
    iterations: u64,
    dropped_iterations: u64,
    /// Why its setup failed the last time it ran; null once it passed (or without one).
    setup_failure: Option<String>,
    requests: Vec<RequestStatus>,
    spans: Vec<SpanStatus>,
}

#[derive(Clone, Serialize)]
struct RequestStatus {
    count: u64,
    per_second: f64,
    failed_ratio: Option<f64>,
    /// Reasons in `FailReason::ALL` order, those with failures only.
    failed_by_reason: serde_json::Map<String, Value>,
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
    name: String,
    latency_thresholds: Vec<Value>,
    failures_since_start: u64,
    recent_failures: Vec<FailureStatus>,
}

/// One of a request's last failures, with what its answer showed (secrets cut out).
#[derive(Clone, Serialize)]
struct FailureStatus {
    at: String,
    reason: &'static str,
    status: Option<u16>,
    latency_ms: f64,
    answer: Option<String>,
    error: Option<String>,
}

impl FailureStatus {
    fn of(f: &super::failures::Failure) -> FailureStatus {
        FailureStatus {
            at: humantime::format_rfc3339_millis(f.at).to_string(),
            reason: f.reason.as_str(),
            status: f.status,
            latency_ms: round(Unit::Milliseconds.to_written(f.latency.as_secs_f64())),
            answer: f.detail.as_deref().filter(|_| f.status.is_some()).map(str::to_string),
            error: f.detail.as_deref().filter(|_| f.status.is_none()).map(str::to_string),
        }
    }
}

/// An iteration's or a group's durations.
#[derive(Clone, Serialize)]
struct SpanStatus {
    name: String,
    count: u64,
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
}

impl SpanStatus {
    fn of(span: &crate::stats::SpanView) -> SpanStatus {
        let trend = TrendFigures::of(&span.durations);
        let ms = |pick: fn(&TrendFigures) -> f64| trend.as_ref().map(|t| round(pick(t)));
        SpanStatus {
            name: span.group.as_deref().map_or("iteration".to_string(), |g| format!("group {g}")),
            count: trend.as_ref().map_or(0, |t| t.count),
            p50_ms: ms(|t| t.med),
            p95_ms: ms(|t| t.p95),
            p99_ms: ms(|t| t.p99),
        }
    }
}

/// The history as columns, as the charts take them.
#[derive(Clone, Serialize)]
struct History {
    t: Vec<f64>,
    scenarios: Vec<ScenarioHistory>,
}

#[derive(Clone, Serialize)]
struct ScenarioHistory {
    vus: Vec<i64>,
    requests: Vec<RequestHistory>,
}

#[derive(Clone, Serialize)]
struct RequestHistory {
    per_second: Vec<Option<f64>>,
    p50_ms: Vec<Option<f64>>,
    p95_ms: Vec<Option<f64>>,
    p99_ms: Vec<Option<f64>>,
    failed_ratio: Vec<Option<f64>>,
}

impl History {
    fn of(history: &VecDeque<Point>, plan: &Plan) -> History {
        let scenarios = plan
            .scenarios
            .iter()
            .enumerate()
            .map(|(s, scenario)| {
                let vus = history.iter().map(|p| p.scenarios.get(s).map_or(0, |x| x.0)).collect();
                let requests = (0..scenario.requests.len())
                    .map(|r| {
                        let column = |k: usize| -> Vec<Option<f64>> {
                            history
                                .iter()
                                .map(|p| p.scenarios.get(s).and_then(|x| x.1.get(r)).and_then(|f| f[k]))
                                .collect()
                        };
                        RequestHistory {
                            per_second: column(0),
                            p50_ms: column(1),
                            p95_ms: column(2),
                            p99_ms: column(3),
                            failed_ratio: column(4),
                        }
                    })
                    .collect();
                ScenarioHistory { vus, requests }
            })
            .collect();
        History { t: history.iter().map(|p| p.at).collect(), scenarios }
    }
}

/// The verdicts of every threshold of `plan` on `snapshot`.
pub fn verdicts(plan: &Plan, snapshot: &Snapshot) -> Vec<Verdict> {
    plan.thresholds.iter().map(|t| evaluate(t, snapshot)).collect()
}

fn unix_seconds(at: SystemTime) -> f64 {
    round(at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64())
}

/// The page's numbers: milliseconds to the microsecond, rates and seconds to a thousandth.
fn round(value: f64) -> f64 {
    units::round(value, 3)
}

/// A URL without `user:password@`.
fn without_credentials(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string().trim_end_matches('/').to_string()
        }
        _ => url.to_string(),
    }
}
