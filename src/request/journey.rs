//! Walking a journey's program: each request step sent as the runner sends
//! any request, blocks entered and repeated, groups timed, and the steps
//! marked `always` still run once the iteration has ended early.

use super::ScenarioRunner;
use crate::executor::VuState;
use crate::plan::journey::Op;
use crate::sample::{FailReason, Incomplete, Span};
use std::time::Duration;
use tokio::time::Instant;

/// A block being run: when it began and which pass it is on.
struct Frame {
    started: Instant,
    pass: usize,
}

impl ScenarioRunner {
    /// Runs journey `index` once. The first request's latency counts from
    /// `scheduled`; each later one from when it was due (the end of the step
    /// before it). Returns why the iteration did not run all its steps, if so.
    pub(super) async fn run_journey(
        &self,
        index: usize,
        vu: &mut VuState,
        scheduled: Instant,
        lag: Option<Duration>,
    ) -> Option<Incomplete> {
        let program = &self.journeys[index].program;
        vu.variables.clear();
        vu.variables.resize(self.variables, None);
        let mut incomplete = None;
        // Set once a step ended the iteration: from then on only `always` steps run.
        let mut ending = false;
        let mut frames: Vec<Frame> = Vec::new();
        let mut due = scheduled;
        let mut lag = lag;
        let mut pc = 0;
        while let Some(op) = program.get(pc) {
            if ending && !op.always() {
                pc = match op {
                    Op::Enter(block) => block.leave + 1,
                    _ => pc + 1,
                };
                continue;
            }
            match op {
                Op::Request(step) => {
                    let request = &self.requests[step.request].plan;
                    if request.reads_variables.iter().any(|slot| vu.variables[*slot].is_none()) {
                        // An earlier step went on without the value this one needs.
                        incomplete.get_or_insert(Incomplete::MissingVariable);
                    } else {
                        let mut sample = self.execute(step.request, &step.captures, vu, due).await;
                        sample.schedule_lag = lag.take();
                        self.sink.record(&sample);
                        if let Some(failure) = sample.failure {
                            if step.ends_iteration && !ending {
                                ending = true;
                                incomplete.get_or_insert(match failure {
                                    FailReason::Capture => Incomplete::CaptureFailed,
                                    _ => Incomplete::StepFailed,
                                });
                            }
                        }
                    }
                    due = Instant::now();
                }
                Op::Sleep { think, .. } => {
                    Self::think(*think, vu).await;
                    due = Instant::now();
                }
                Op::Enter(block) => {
                    frames.push(Frame { started: Instant::now(), pass: 0 });
                    if let Some((slot, value)) = block.passes.variable(0) {
                        vu.variables[slot] = Some(value);
                    }
                }
                Op::Leave { enter } => {
                    let Some(Op::Enter(block)) = program.get(*enter) else { unreachable!("a leave follows its enter") };
                    let frame = frames.last_mut().expect("a block being run");
                    frame.pass += 1;
                    if !ending && frame.pass < block.passes.count() {
                        if let Some((slot, value)) = block.passes.variable(frame.pass) {
                            vu.variables[slot] = Some(value);
                        }
                        pc = enter + 1;
                        continue;
                    }
                    if let (Some(group), false) = (block.group, ending) {
                        self.sink.record_span(&Span::Group { group, duration: frame.started.elapsed() });
                    }
                    frames.pop();
                }
            }
            pc += 1;
        }
        incomplete
    }
}
