//! What the status page shows, as the JSON document it reads
//! (`/status.json`): the last evaluation's SLO verdicts and per-request
//! figures, a bounded history of them for the charts, and each request's
//! last failures.

use super::failures::RecentFailures;
use crate::model::units::{self, Unit};
use crate::plan::Plan;
use crate::slo::{evaluate, TrendFigures, Verdict};
use crate::stats::{Answers, Snapshot};
use serde_json::{json, Value};
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
    latest: Option<Value>,
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
                let mut entry = shown.json();
                entry["name"] = json!(request.name);
                entry["latency_thresholds"] =
                    json!(crate::report::threshold_lines(&plan.thresholds, scenario, request));
                requests.push(entry);
                figures.push(shown.point());
            }
            let spans: Vec<Value> =
                snapshot.spans.iter().filter(|span| span.scenario == scenario.name).map(span_json).collect();
            let vus = executor.map_or(0, |e| e.vus);
            point.scenarios.push((vus, figures));
            scenarios.push(json!({
                "name": scenario.name,
                "target": without_credentials(&scenario.base_url),
                "executor": scenario.executor.describe(),
                "vus": vus,
                "vus_max": executor.map_or(0, |e| e.vus_max),
                "iterations": executor.map_or(0, |e| e.iterations),
                "dropped_iterations": executor.map_or(0, |e| e.dropped),
                "requests": requests,
                "spans": spans,
            }));
        }
        let latest = json!({
            "updated": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            "covered_seconds": round(snapshot.elapsed.as_secs_f64()),
            "passed": verdicts.iter().all(|v| v.passed),
            "slos": slos_json(plan, verdicts),
            "scenarios": scenarios,
        });
        let mut guard = self.lock();
        let Some(state) = guard.as_mut().filter(|state| Arc::ptr_eq(&state.plan, plan)) else { return };
        state.latest = Some(latest);
        if state.history.len() == HISTORY {
            state.history.pop_front();
        }
        state.history.push_back(point);
    }

    /// The document the page reads.
    pub fn json(&self) -> Value {
        let guard = self.lock();
        let mut doc = json!({
            "kind": "sloprober.status",
            "version": 1,
            "sloprober": env!("CARGO_PKG_VERSION"),
            "mode": match self.mode { Mode::Daemon => "daemon", Mode::Run => "run" },
        });
        let Some(state) = guard.as_ref() else {
            doc["over"] = json!("nothing yet: the load is starting");
            return doc;
        };
        let plan = &state.plan;
        doc["profile"] = json!(plan.profile);
        doc["config"] = json!(plan.source);
        doc["refresh_seconds"] = json!(state.every.as_secs_f64().clamp(1.0, 5.0));
        doc["over"] = json!(match self.mode {
            Mode::Daemon => format!("the last {}", humantime::format_duration(plan.daemon.slo_window)),
            Mode::Run => "the run so far".to_string(),
        });
        let Some(latest) = &state.latest else { return doc };
        for (key, value) in latest.as_object().into_iter().flatten() {
            doc[key] = value.clone();
        }
        for (s, scenario) in doc["scenarios"].as_array_mut().into_iter().flatten().enumerate() {
            for (r, request) in scenario["requests"].as_array_mut().into_iter().flatten().enumerate() {
                let (kept, total) = state.failures.of(s, r);
                request["failures_since_start"] = json!(total);
                request["recent_failures"] = kept
                    .iter()
                    .map(|f| {
                        json!({
                            "at": humantime::format_rfc3339_millis(f.at).to_string(),
                            "reason": f.reason.as_str(),
                            "status": f.status,
                            "latency_ms": round(Unit::Milliseconds.to_written(f.latency.as_secs_f64())),
                            "answer": f.detail.as_deref().filter(|_| f.status.is_some()),
                            "error": f.detail.as_deref().filter(|_| f.status.is_none()),
                        })
                    })
                    .collect();
            }
        }
        doc["history"] = history_json(&state.history, plan);
        doc
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
            failed_ratio: (stats.count > 0).then(|| round(stats.failed_total() as f64 / stats.count as f64)),
            latency: TrendFigures::of(&stats.latency(Answers::All)),
        }
    }

    fn percentile(&self, pick: fn(&TrendFigures) -> f64) -> Option<f64> {
        self.latency.as_ref().map(|t| round(pick(t)))
    }

    fn json(&self) -> Value {
        let failed_by_reason: serde_json::Map<String, Value> = crate::model::sample::FailReason::ALL
            .iter()
            .filter(|r| self.stats.failed_by(**r) > 0)
            .map(|r| (r.as_str().to_string(), json!(self.stats.failed_by(*r))))
            .collect();
        json!({
            "count": self.stats.count,
            "per_second": self.per_second,
            "failed_ratio": self.failed_ratio,
            "failed_by_reason": failed_by_reason,
            "p50_ms": self.percentile(|t| t.med),
            "p95_ms": self.percentile(|t| t.p95),
            "p99_ms": self.percentile(|t| t.p99),
        })
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
fn slos_json(plan: &Plan, verdicts: &[Verdict]) -> Vec<Value> {
    plan.thresholds
        .iter()
        .zip(verdicts)
        .map(|(threshold, verdict)| {
            let mut entry = crate::report::slo_entry(threshold, verdict);
            entry["burn_rate"] = json!(verdict.budget_used(threshold).map(|b| units::round(b, 4)));
            entry
        })
        .collect()
}

/// An iteration's or a group's durations.
fn span_json(span: &crate::stats::SpanView) -> Value {
    let trend = TrendFigures::of(&span.durations);
    let ms = |pick: fn(&TrendFigures) -> f64| trend.as_ref().map(|t| round(pick(t)));
    json!({
        "name": span.group.as_deref().map_or("iteration".to_string(), |g| format!("group {g}")),
        "count": trend.as_ref().map_or(0, |t| t.count),
        "p50_ms": ms(|t| t.med),
        "p95_ms": ms(|t| t.p95),
        "p99_ms": ms(|t| t.p99),
    })
}

/// The history as columns, as the charts take them.
fn history_json(history: &VecDeque<Point>, plan: &Plan) -> Value {
    let t: Vec<f64> = history.iter().map(|p| p.at).collect();
    let scenarios: Vec<Value> = plan
        .scenarios
        .iter()
        .enumerate()
        .map(|(s, scenario)| {
            let vus: Vec<i64> = history.iter().map(|p| p.scenarios.get(s).map_or(0, |x| x.0)).collect();
            let requests: Vec<Value> = (0..scenario.requests.len())
                .map(|r| {
                    let column = |k: usize| -> Vec<Option<f64>> {
                        history.iter().map(|p| p.scenarios.get(s).and_then(|x| x.1.get(r)).and_then(|f| f[k])).collect()
                    };
                    json!({
                        "per_second": column(0),
                        "p50_ms": column(1),
                        "p95_ms": column(2),
                        "p99_ms": column(3),
                        "failed_ratio": column(4),
                    })
                })
                .collect();
            json!({"vus": vus, "requests": requests})
        })
        .collect();
    json!({"t": t, "scenarios": scenarios})
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
