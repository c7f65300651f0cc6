//! Walking a journey's program: each request step sent as the runner sends
//! any request, blocks entered and repeated, groups timed, and the steps
//! marked `always` still run once the iteration has ended early.

use super::session::RequestVu;
use super::ScenarioRunner;
use crate::model::sample::{FailReason, Incomplete, Span};
use crate::plan::journey::{Op, When};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

impl ScenarioRunner {
    /// Empties the VU's variables but for what the setup captured.
    pub(super) fn start_iteration(&self, vu: &mut RequestVu) {
        vu.session.variables.clear();
        if self.setup.is_some() {
            let shared = self.setup_values.read().unwrap_or_else(|p| p.into_inner()).clone();
            vu.session.variables.extend(shared.iter().cloned());
        }
        vu.session.variables.resize(self.variables, None);
    }

    /// Plays the setup once (VU 0, as k6's setup) and keeps what it captured
    /// for every iteration. It fails, as k6's `setup()` does, when one of its
    /// steps failed (no answer, an unexpected status, a check) or a value it
    /// captures is missing; a value it failed to capture keeps the one it had, if any.
    pub async fn run_setup(&self) -> Result<(), SetupFailed> {
        let Some(setup) = &self.setup else { return Ok(()) };
        let mut vu = RequestVu::new(0);
        let played = self.run_journey(&setup.program, &mut vu, Instant::now(), None);
        let Ok(end) = tokio::time::timeout(setup.timeout, played).await else {
            let why = format!("it did not finish within its timeout ({:?})", setup.timeout);
            self.sink.record_setup(Some(&why));
            return Err(SetupFailed { scenario: self.name.clone(), why });
        };
        let mut values = self.setup_values.read().unwrap_or_else(|p| p.into_inner()).as_ref().clone();
        values.resize(self.variables, None);
        let mut missing = 0;
        for &slot in &setup.slots {
            match vu.session.variables[slot].take() {
                Some(value) => values[slot] = Some(value),
                None => missing += 1,
            }
        }
        *self.setup_values.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(values);
        let why = match (end.first_failure, missing) {
            (Some((request, reason, status)), _) => {
                let step = &self.requests[request].plan.name;
                let status = status.map_or("no answer".to_string(), |s| format!("status {s}"));
                Some(match reason {
                    FailReason::Status => format!("step {step}: {status} not expected"),
                    FailReason::Check => format!("step {step}: a check failed ({status})"),
                    FailReason::Capture => format!("step {step}: a value it captures is missing ({status})"),
                    other => format!("step {step}: {} ({status})", other.as_str()),
                })
            }
            (None, 0) => None,
            (None, n) => Some(format!("{n} of the values it captures missing")),
        };
        let outcome = match why {
            None => Ok(()),
            Some(why) => Err(SetupFailed { scenario: self.name.clone(), why }),
        };
        self.sink.record_setup(outcome.as_ref().err().map(|e| e.why.as_str()));
        outcome
    }

    /// How often the daemon runs the setup again, if configured.
    pub fn setup_every(&self) -> Option<Duration> {
        self.setup.as_ref().and_then(|s| s.every)
    }

    /// Plays the teardown once (VU 0), with the setup's values.
    pub async fn run_teardown(&self) {
        let Some(teardown) = &self.teardown else { return };
        let mut vu = RequestVu::new(0);
        self.run_journey(teardown, &mut vu, Instant::now(), None).await;
    }
}

/// A scenario's setup failed: the run makes no load (k6 exits 107), the daemon waits for it to pass.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("setup of scenario {scenario} failed: {why}")]
pub struct SetupFailed {
    pub scenario: String,
    pub why: String,
}

/// How a journey's run ended.
pub(super) struct JourneyEnd {
    /// Why it did not run all its steps, if so.
    pub incomplete: Option<Incomplete>,
    /// The first step that failed: its request, why, and the status its answer had.
    pub first_failure: Option<(usize, FailReason, Option<u16>)>,
}

/// A block being run: when it began and which pass it is on.
struct Frame {
    started: Instant,
    pass: usize,
}

impl ScenarioRunner {
    /// Runs journey `index` once. The first request's latency counts from
    /// `scheduled`; each later one from when it was due (the end of the step
    /// before it).
    pub(super) async fn run_journey(
        &self,
        program: &[Op],
        vu: &mut RequestVu,
        scheduled: Instant,
        lag: Option<Duration>,
    ) -> JourneyEnd {
        self.start_iteration(vu);
        let mut progress = Progress::default();
        let mut frames: Vec<Frame> = Vec::new();
        let mut due = scheduled;
        let mut lag = lag;
        let mut pc = 0;
        while let Some(op) = program.get(pc) {
            if progress.ending && !op.always() {
                pc = match op {
                    Op::Enter(block) => block.leave + 1,
                    _ => pc + 1,
                };
                continue;
            }
            let skipped = match op {
                Op::Request(step) => step.when.as_ref().is_some_and(|w| !holds(w, vu)),
                Op::Enter(block) => block.when.as_ref().is_some_and(|w| !holds(w, vu)),
                Op::Parallel(parallel) => parallel.when.as_ref().is_some_and(|w| !holds(w, vu)),
                _ => false,
            };
            if skipped {
                pc = match op {
                    Op::Enter(block) => block.leave + 1,
                    _ => pc + 1,
                };
                continue;
            }
            match op {
                Op::Request(step) => {
                    let request = &self.requests[step.request].plan;
                    if request.reads_variables.iter().any(|slot| vu.session.variables[*slot].is_none()) {
                        // An earlier step went on without the value this one needs.
                        progress.incomplete.get_or_insert(Incomplete::MissingVariable);
                    } else {
                        let mut sample = self.execute(step.request, &step.captures, vu, due).await;
                        sample.schedule_lag = lag.take();
                        self.sink.record(&sample);
                        if let Some(failure) = sample.failure {
                            progress.failed(step.request, failure, sample.status, step.ends_iteration);
                        }
                    }
                    due = Instant::now();
                }
                Op::Parallel(parallel) => {
                    let started = Instant::now();
                    let batch = Box::pin(self.run_parallel(parallel, vu, progress.ending, lag.take())).await;
                    if batch.missing_variable {
                        progress.incomplete.get_or_insert(Incomplete::MissingVariable);
                    }
                    let ending = progress.ending;
                    for (request, failure, status, ends_iteration) in batch.failures {
                        progress.failed(request, failure, status, ends_iteration);
                    }
                    if let (Some(group), false) = (parallel.group, ending) {
                        self.sink.record_span(&Span::Group { group, duration: started.elapsed() });
                    }
                    due = Instant::now();
                }
                Op::Sleep { think, .. } => {
                    Self::think(*think, vu).await;
                    due = Instant::now();
                }
                Op::Set { values, .. } => {
                    for (slot, template) in values {
                        let value = {
                            let mut cx = self.render_context(vu);
                            template.render(&mut cx)
                        };
                        vu.session.variables[*slot] = Some(value);
                    }
                }
                Op::Enter(block) => {
                    frames.push(Frame { started: Instant::now(), pass: 0 });
                    if let Some((slot, value)) = block.passes.variable(0) {
                        vu.session.variables[slot] = Some(value);
                    }
                }
                Op::Leave { enter } => {
                    let Some(Op::Enter(block)) = program.get(*enter) else { unreachable!("a leave follows its enter") };
                    let frame = frames.last_mut().expect("a block being run");
                    frame.pass += 1;
                    if !progress.ending && frame.pass < block.passes.count() {
                        if let Some((slot, value)) = block.passes.variable(frame.pass) {
                            vu.session.variables[slot] = Some(value);
                        }
                        pc = enter + 1;
                        continue;
                    }
                    if let (Some(group), false) = (block.group, progress.ending) {
                        self.sink.record_span(&Span::Group { group, duration: frame.started.elapsed() });
                    }
                    frames.pop();
                }
            }
            pc += 1;
        }
        JourneyEnd { incomplete: progress.incomplete, first_failure: progress.first_failure }
    }
}

/// How far a journey's run got.
#[derive(Default)]
struct Progress {
    incomplete: Option<Incomplete>,
    first_failure: Option<(usize, FailReason, Option<u16>)>,
    /// Set once a step ended the iteration: from then on only `always` steps run.
    ending: bool,
}

impl Progress {
    /// Request `request` failed; when its step says so, the iteration ends.
    fn failed(&mut self, request: usize, failure: FailReason, status: Option<u16>, ends_iteration: bool) {
        self.first_failure.get_or_insert((request, failure, status));
        if ends_iteration && !self.ending {
            self.ending = true;
            self.incomplete.get_or_insert(match failure {
                FailReason::Capture => Incomplete::CaptureFailed,
                _ => Incomplete::StepFailed,
            });
        }
    }
}

/// Whether a step's `when:` holds for this iteration of `vu`.
pub(super) fn holds(when: &When, vu: &mut RequestVu) -> bool {
    match when {
        When::Every(n) => vu.iterations % n == 0,
        When::Chance(p) => rand::Rng::random::<f64>(&mut vu.session.rng) < *p,
        When::Expr(expr) => {
            let headers = http::HeaderMap::new();
            expr.passes(&mut crate::check::ResponseView::new(0, &headers, b""), &vu.session.variables)
        }
    }
}
