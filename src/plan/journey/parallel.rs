//! Parallel blocks compiled: each request step of each pass becomes a
//! branch sent at once with the others (k6's `http.batch`).

use super::{Compiler, Op, Passes, RequestStep, When};
use crate::config::{BlockConfig, StepConfig};
use serde_json::Value;

/// A parallel block: each step of each pass sent at once, at most
/// `per_host` in flight (the scenario's requests share its one host).
#[derive(Debug, Clone)]
pub struct Parallel {
    /// Index into the scenario's groups; None for an unnamed block.
    pub group: Option<usize>,
    /// In order: the block's steps for its first pass, then for the next.
    pub branches: Vec<Branch>,
    pub per_host: usize,
    pub when: Option<When>,
}

/// One request of a parallel block, with its pass's loop variable.
#[derive(Debug, Clone)]
pub struct Branch {
    pub step: RequestStep,
    pub variable: Option<(usize, Value)>,
}

/// Requests of a parallel block in flight at once unless it says
/// (`batch_per_host`): k6's `batchPerHost` default.
pub const BATCH_PER_HOST: usize = 6;

impl Compiler<'_, '_> {
    /// The branches of a parallel block: its request steps, once per pass.
    /// A request of the block cannot read what another captures (they go
    /// out together); the steps after the block can.
    pub(super) fn parallel(
        &mut self,
        block: &BlockConfig,
        at: &str,
        group_path: &str,
        always: bool,
        passes: Passes,
        loop_variable: Option<(usize, &str)>,
    ) -> Vec<Branch> {
        if let Some((slot, name)) = loop_variable {
            self.variables.set_available(slot, true);
            self.loop_variables.push(name.to_string());
        }
        let mut steps = Vec::new();
        let mut captured = Vec::new();
        for (i, step) in block.steps.iter().enumerate() {
            let step_at = format!("{at}.steps[{i}]");
            let StepConfig::Request(step) = step else {
                self.problems.add(step_at, "a parallel block holds only requests (they are sent at once)");
                continue;
            };
            let slots: Vec<usize> = step.capture.keys().map(|name| self.variables.slot(name)).collect();
            let fresh: Vec<usize> = slots.into_iter().filter(|slot| !self.variables.is_available(*slot)).collect();
            self.request(step, &step_at, group_path, always, &mut steps);
            for slot in fresh {
                self.variables.set_available(slot, false);
                captured.push(slot);
            }
        }
        if let Some((slot, _)) = loop_variable {
            self.variables.set_available(slot, false);
            self.loop_variables.pop();
        }
        for slot in captured {
            self.variables.set_available(slot, true);
        }
        (0..passes.count())
            .flat_map(|pass| {
                let variable = passes.variable(pass);
                steps.iter().filter_map(move |op| match op {
                    Op::Request(step) => Some(Branch { step: step.clone(), variable: variable.clone() }),
                    _ => None,
                })
            })
            .collect()
    }
}
