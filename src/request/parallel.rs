//! A parallel block, as k6's `http.batch`: its requests go out at once, at
//! most `per_host` in flight. Each runs on a lane of the VU (a copy of its
//! variables and cookies; lanes are kept for the VU's next block), and all
//! share the VU's idle connections, as the goroutines of a k6 batch share
//! their VU's transport. When the block ends, what the lanes captured and
//! the cookies their answers set come back to the VU in the block's order
//! (a later step wins, as if they had run one after another).

use super::journey::holds;
use super::session::RequestVu;
use super::ScenarioRunner;
use crate::model::sample::FailReason;
use crate::plan::journey::{Branch, Parallel};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// What a parallel block's requests came to.
#[derive(Default)]
pub(super) struct Batch {
    /// The failed ones in the block's order: request, why, status, and
    /// whether the step ends the iteration.
    pub failures: Vec<(usize, FailReason, Option<u16>, bool)>,
    /// A request was skipped: a variable it reads has no value.
    pub missing_variable: bool,
}

/// What one request of the block came to: why it failed, and its status.
type Outcome = (Option<FailReason>, Option<u16>);

impl ScenarioRunner {
    /// Sends the block's requests (only those marked `always` when the
    /// iteration is `ending`); the first one sent carries the iteration's `lag`.
    pub(super) async fn run_parallel(
        &self,
        parallel: &Parallel,
        vu: &mut RequestVu,
        ending: bool,
        lag: Option<Duration>,
    ) -> Batch {
        let mut batch = Batch::default();
        let mut sent: Vec<&Branch> = Vec::with_capacity(parallel.branches.len());
        for branch in &parallel.branches {
            if (ending && !branch.step.always) || branch.step.when.as_ref().is_some_and(|w| !holds(w, vu)) {
                continue;
            }
            let loop_slot = branch.variable.as_ref().map(|(slot, _)| *slot);
            let reads = &self.requests[branch.step.request].plan.reads_variables;
            if reads.iter().any(|slot| vu.session.variables[*slot].is_none() && Some(*slot) != loop_slot) {
                batch.missing_variable = true;
                continue;
            }
            sent.push(branch);
        }
        let mut lanes = std::mem::take(&mut vu.session.lanes);
        while lanes.len() < sent.len() {
            lanes.push(RequestVu::new(vu.id));
        }
        for (lane, branch) in lanes.iter_mut().zip(&sent) {
            (lane.id, lane.iterations) = (vu.id, vu.iterations);
            lane.session.join(&vu.session, branch.variable.as_ref());
        }
        let mut outcomes: Vec<Outcome> = vec![(None, None); sent.len()];
        let pool = Mutex::new(std::mem::take(&mut vu.session.pool));
        {
            // Each worker sends the next request not yet sent, until none is left.
            let queue = Mutex::new((sent.iter().zip(lanes.iter_mut()).zip(outcomes.iter_mut()), lag));
            let worker = || async {
                loop {
                    let next = {
                        let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
                        let lag = queue.1.take();
                        queue.0.next().map(|next| (next, lag))
                    };
                    let Some((((branch, lane), outcome), lag)) = next else { break };
                    let step = &branch.step;
                    let mut sample =
                        self.execute_sharing(step.request, &step.captures, lane, Instant::now(), Some(&pool)).await;
                    sample.schedule_lag = lag;
                    self.sink.record(&sample);
                    *outcome = (sample.failure, sample.status);
                }
            };
            futures_util::future::join_all((0..parallel.per_host.min(sent.len())).map(|_| worker())).await;
        }
        vu.session.pool = pool.into_inner().unwrap_or_else(|p| p.into_inner());
        for ((branch, lane), (failure, status)) in sent.iter().zip(lanes.iter_mut()).zip(outcomes) {
            for capture in &branch.step.captures {
                vu.session.variables[capture.slot] = lane.session.variables[capture.slot].take();
            }
            vu.session.cookies.take_in(&mut lane.session.cookies);
            if let Some(failure) = failure {
                batch.failures.push((branch.step.request, failure, status, branch.step.ends_iteration));
            }
        }
        vu.session.lanes = lanes;
        batch
    }
}
