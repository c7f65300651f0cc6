//! Journeys compiled for the hot path: each journey is a flat program of
//! steps (requests, sleeps, and the enter and leave of blocks) that a VU
//! walks with a step counter, its requests appended to the scenario's one
//! request list (a step's name is its `request` label).
//!
//! Variables are checked here: a template may read a variable only where an
//! earlier step captured it, or inside the loop that sets it.

mod conditions;
mod parallel;

pub use parallel::{Branch, Parallel, BATCH_PER_HOST};

use super::request::{self, RequestContext, RequestPlan};
use crate::check::{JsonPath, ResponseView};
use crate::config::{BlockConfig, CaptureConfig, OnFailure, RequestConfig, Scenario, StepConfig, ThinkTime};
use crate::model::problems::Problems;
use crate::template::Variables;
use reqwest::header::HeaderName;
use serde_json::Value;
use std::collections::BTreeMap;

/// One weighted journey of a scenario.
#[derive(Debug, Clone)]
pub struct JourneyPlan {
    pub name: String,
    pub weight: u32,
    pub program: Vec<Op>,
}

/// One instruction of a journey's program.
#[derive(Debug, Clone)]
pub enum Op {
    Request(RequestStep),
    Sleep {
        think: ThinkTime,
        always: bool,
    },
    /// The start of a block; `leave` is the index of its [`Op::Leave`].
    Enter(Block),
    /// The end of a block; `enter` is the index of its [`Op::Enter`].
    Leave {
        enter: usize,
    },
    /// Values rendered once and kept in these variable slots for the later steps.
    Set {
        values: Vec<(usize, crate::template::JsonTemplate)>,
        always: bool,
    },
    /// Requests sent at once (a `parallel` block, k6's `http.batch`).
    Parallel(Parallel),
}

impl Op {
    /// Whether the step runs even after the iteration ended early (cleanup).
    pub fn always(&self) -> bool {
        match self {
            Op::Request(step) => step.always,
            Op::Sleep { always, .. } | Op::Set { always, .. } => *always,
            Op::Enter(block) => block.always || block.holds_always,
            Op::Leave { .. } => true,
            Op::Parallel(parallel) => parallel.branches.iter().any(|b| b.step.always),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RequestStep {
    /// Index into the scenario's requests.
    pub request: usize,
    pub captures: Vec<Capture>,
    /// A failure of this step (its request, or a capture) skips the rest of
    /// the iteration but its `always` steps.
    pub ends_iteration: bool,
    pub always: bool,
    pub when: Option<When>,
}

/// When a step or block runs.
#[derive(Debug, Clone)]
pub enum When {
    /// On the VU's iterations 0, N, 2N... (k6's `__ITER % N === 0`).
    Every(u64),
    /// With this probability.
    Chance(f64),
    /// When the expression yields true (it reads vars and the journey's variables).
    Expr(crate::check::ExprCheck),
}

#[derive(Debug, Clone)]
pub struct Block {
    /// Index into the scenario's groups; None for an unnamed block.
    pub group: Option<usize>,
    pub passes: Passes,
    pub leave: usize,
    pub always: bool,
    /// Some step inside runs always, so an ending iteration still enters the block.
    pub holds_always: bool,
    pub when: Option<When>,
}

/// How many times a block's steps run, and the loop variable of each pass.
#[derive(Debug, Clone)]
pub enum Passes {
    Once,
    /// `index` is 1 on the first pass.
    Times {
        count: u32,
        slot: usize,
    },
    Each {
        items: Vec<Value>,
        slot: usize,
    },
}

impl Passes {
    pub fn count(&self) -> usize {
        match self {
            Passes::Once => 1,
            Passes::Times { count, .. } => *count as usize,
            Passes::Each { items, .. } => items.len(),
        }
    }

    /// The loop variable's slot and value on pass `pass` (0-based).
    pub fn variable(&self, pass: usize) -> Option<(usize, Value)> {
        match self {
            Passes::Once => None,
            Passes::Times { slot, .. } => Some((*slot, Value::from(pass as u64 + 1))),
            Passes::Each { items, slot } => Some((*slot, items[pass].clone())),
        }
    }
}

/// A value a step takes from its answer into a variable.
#[derive(Debug, Clone)]
pub struct Capture {
    pub slot: usize,
    pub source: CaptureSource,
}

#[derive(Debug, Clone)]
pub enum CaptureSource {
    JsonPath(JsonPath),
    Header(HeaderName),
    /// The first capture group, or the whole match without one.
    Regex(regex::Regex),
}

impl Capture {
    /// The captured value, or None when the answer does not hold it.
    pub fn read(&self, view: &mut ResponseView<'_>) -> Option<Value> {
        match &self.source {
            CaptureSource::JsonPath(path) => {
                view.json().and_then(|doc| path.lookup(doc)).filter(|v| !v.is_null()).cloned()
            }
            CaptureSource::Header(name) => {
                view.headers.get(name).and_then(|v| v.to_str().ok()).map(|v| Value::String(v.to_string()))
            }
            CaptureSource::Regex(regex) => {
                let text = std::str::from_utf8(view.body).ok()?;
                let found = regex.captures(text)?;
                let m = found.get(1).or_else(|| found.get(0))?;
                Some(Value::String(m.as_str().to_string()))
            }
        }
    }

    /// Whether reading it needs the answer's headers.
    pub fn reads_headers(&self) -> bool {
        matches!(self.source, CaptureSource::Header(_))
    }
}

/// Names a variable may not take: the template built-ins.
const BUILTIN_NAMES: [&str; 5] = ["uuid", "vu", "iteration", "counter", "timestamp"];

/// A scenario's setup: a program run once before its load, and what it captures.
#[derive(Debug, Clone)]
pub struct SetupPlan {
    pub program: Vec<Op>,
    /// Daemon: run it again this often.
    pub every: Option<std::time::Duration>,
    /// The variable slots it captures, which every iteration then reads.
    pub slots: Vec<usize>,
    /// How long it may take in all.
    pub timeout: std::time::Duration,
}

/// k6's default `setupTimeout`.
pub const SETUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A scenario's iteration compiled: its requests (by weight, or every step),
/// journeys, setup and teardown.
pub struct Compiled {
    pub requests: Vec<RequestPlan>,
    /// Where the requests picked by weight are in `requests` (after the setup's).
    pub weighted: std::ops::Range<usize>,
    pub journeys: Vec<JourneyPlan>,
    /// k6 group paths (`::record answers`, `::outer::inner`), by index.
    pub groups: Vec<String>,
    pub variables: usize,
    pub setup: Option<SetupPlan>,
    pub teardown: Option<Vec<Op>>,
}

/// Compiles a scenario's requests, setup, journeys and teardown; `path` is the scenario's.
pub fn compile(scenario: &Scenario, cx: &RequestContext<'_>, path: &str, problems: &mut Problems) -> Compiled {
    let mut requests = Vec::new();
    let mut compiler = Compiler {
        cx,
        requests: &mut requests,
        names: BTreeMap::new(),
        groups: Vec::new(),
        variables: Variables::default(),
        loop_variables: Vec::new(),
        problems,
    };
    // Every name is known up front, so a use before the capture is told apart from a typo.
    fn declare(steps: &[StepConfig], variables: &mut Variables) {
        for step in steps {
            match step {
                StepConfig::Request(step) => {
                    for name in step.capture.keys() {
                        variables.slot(name);
                    }
                }
                StepConfig::Block(block) => {
                    let default = if block.repeat.is_some() { "index" } else { "item" };
                    if block.repeat.is_some() || block.for_each.is_some() {
                        variables.slot(block.as_name.as_deref().unwrap_or(default));
                    }
                    declare(&block.steps, variables);
                }
                StepConfig::Sleep(_) => {}
                StepConfig::Set(values) => {
                    for name in values.keys() {
                        variables.slot(name);
                    }
                }
            }
        }
    }
    let all_steps = scenario
        .setup
        .iter()
        .map(|s| &s.steps)
        .chain(scenario.journeys.values().map(|j| &j.steps))
        .chain(scenario.teardown.iter());
    for steps in all_steps {
        declare(steps, &mut compiler.variables);
    }
    let setup = scenario.setup.as_ref().map(|setup| {
        let mut program = Vec::new();
        compiler.steps(&setup.steps, &format!("{path}.setup.steps"), "::setup", false, &mut program);
        let slots = (0..compiler.variables.len()).filter(|s| compiler.variables.is_available(*s)).collect();
        SetupPlan { program, every: setup.every, slots, timeout: setup.timeout.unwrap_or(SETUP_TIMEOUT) }
    });
    let setup_slots: Vec<usize> = setup.as_ref().map(|s| s.slots.clone()).unwrap_or_default();
    // Each iteration starts with only the setup's values.
    let fresh = |compiler: &mut Compiler<'_, '_>| {
        for slot in 0..compiler.variables.len() {
            compiler.variables.set_available(slot, setup_slots.contains(&slot));
        }
    };
    fresh(&mut compiler);
    let first = compiler.requests.len();
    for (i, request) in scenario.requests.iter().enumerate() {
        compiler.weighted_request(request, &format!("{path}.requests[{i}]"));
    }
    let weighted = first..compiler.requests.len();
    let mut plans = Vec::new();
    for (name, journey) in &scenario.journeys {
        let at = format!("{path}.journeys.{name}");
        if !crate::model::metric::is_label_safe(name) {
            compiler.problems.add(&at, crate::model::metric::LABEL_HINT.replace("{}", name));
        }
        if journey.weight == 0 {
            compiler.problems.add(format!("{at}.weight"), "must be at least 1");
        }
        fresh(&mut compiler);
        let mut program = Vec::new();
        let before = compiler.requests.len();
        compiler.steps(&journey.steps, &format!("{at}.steps"), "", false, &mut program);
        if compiler.requests.len() == before && !journey.steps.is_empty() {
            compiler.problems.add(format!("{at}.steps"), "a journey needs at least one request");
        }
        if journey.steps.is_empty() {
            compiler.problems.add(format!("{at}.steps"), "no steps; list at least one request");
        }
        plans.push(JourneyPlan { name: name.clone(), weight: journey.weight, program });
    }
    let teardown = scenario.teardown.as_ref().map(|steps| {
        fresh(&mut compiler);
        let mut program = Vec::new();
        compiler.steps(steps, &format!("{path}.teardown.steps"), "::teardown", false, &mut program);
        program
    });
    let (groups, variables) = (compiler.groups, compiler.variables.len());
    Compiled { requests, weighted, journeys: plans, groups, variables, setup, teardown }
}

struct Compiler<'a, 'c> {
    cx: &'a RequestContext<'c>,
    requests: &'a mut Vec<RequestPlan>,
    names: BTreeMap<String, Named>,
    groups: Vec<String>,
    variables: Variables,
    /// Loop variables of the enclosing blocks.
    loop_variables: Vec<String>,
    problems: &'a mut Problems,
}

impl Compiler<'_, '_> {
    /// A request picked by weight: it reads the setup's values, captures nothing.
    fn weighted_request(&mut self, config: &RequestConfig, at: &str) {
        let named = Named { request: None, config: config.clone(), group: String::new() };
        if self.names.insert(config.name.clone(), named).is_some() {
            self.problems.add(format!("{at}.name"), format!("\"{}\" is used twice in this scenario", config.name));
        }
        let cx = RequestContext { variables: &self.variables, ..*self.cx };
        self.requests.extend(request::compile(config, &cx, at, self.problems));
    }

    fn steps(&mut self, steps: &[StepConfig], path: &str, group: &str, always: bool, program: &mut Vec<Op>) {
        for (i, step) in steps.iter().enumerate() {
            let at = format!("{path}[{i}]");
            match step {
                StepConfig::Sleep(think) => {
                    if think.min > think.max {
                        self.problems.add(
                            format!("{at}.sleep"),
                            format!("min {:?} is more than max {:?}", think.min, think.max),
                        );
                    }
                    program.push(Op::Sleep { think: *think, always });
                }
                StepConfig::Set(values) => self.set(values, &at, always, program),
                StepConfig::Request(step) => self.request(step, &at, group, always, program),
                StepConfig::Block(block) => self.block(block, &at, group, always, program),
            }
        }
    }

    fn request(
        &mut self,
        step: &crate::config::RequestStep,
        at: &str,
        group: &str,
        always: bool,
        program: &mut Vec<Op>,
    ) {
        let name = &step.request.name;
        // A step of another journey (or branch) may be the same request: one label, one request.
        let shared = match self.names.get(name) {
            None => None,
            Some(Named { request: Some(request), config, group: named_group })
                if *config == step.request && named_group == group =>
            {
                Some(*request)
            }
            Some(_) => {
                self.problems.add(
                    format!("{at}.name"),
                    format!(
                        "\"{name}\" is used twice in this scenario for different requests; a name (the request label) \
                         is shared only by the same request in the same group, as a step two journeys both take"
                    ),
                );
                None
            }
        };
        let when = step.when.as_ref().and_then(|w| self.when(w, &format!("{at}.when")));
        let cx = RequestContext { variables: &self.variables, ..*self.cx };
        let compiled = request::compile(&step.request, &cx, at, self.problems);
        let mut captures = Vec::new();
        for (variable, source) in &step.capture {
            let capture_at = format!("{at}.capture.{variable}");
            if let Some(source) = self.capture_source(source, &capture_at) {
                if self.variable_name_ok(variable, &capture_at) {
                    captures.push(Capture { slot: self.variables.slot(variable), source });
                }
            }
        }
        let Some(compiled) = compiled else { return };
        // Captured values are available to the steps after this one.
        for capture in &captures {
            self.variables.set_available(capture.slot, true);
        }
        let request = match shared {
            Some(request) => request,
            None => {
                self.requests.push(RequestPlan { group: group.to_string(), ..compiled });
                let request = self.requests.len() - 1;
                let named = Named { request: Some(request), config: step.request.clone(), group: group.to_string() };
                self.names.entry(name.clone()).or_insert(named);
                request
            }
        };
        // What this step's captures read of the answer is kept, whichever step the request serves.
        let plan = &mut self.requests[request];
        if captures.iter().any(Capture::reads_headers) {
            plan.keeps_headers = true;
        }
        if captures.iter().any(|c| !c.reads_headers()) {
            plan.keep_body = plan.max_body;
        }
        let ends_iteration = match step.on_failure {
            Some(OnFailure::EndIteration) => true,
            Some(OnFailure::Continue) => false,
            // A step that captures nothing fails as a k6 check does: the
            // journey goes on. One whose values later steps need ends it.
            None => !captures.is_empty(),
        };
        program.push(Op::Request(RequestStep {
            request,
            captures,
            ends_iteration,
            always: always || step.always,
            when,
        }));
    }

    fn capture_source(&mut self, source: &CaptureConfig, at: &str) -> Option<CaptureSource> {
        let given = [&source.json_path, &source.header, &source.regex].iter().filter(|s| s.is_some()).count();
        if given != 1 {
            self.problems.add(at, "a capture takes exactly one of json_path, header, regex");
            return None;
        }
        if let Some(path) = &source.json_path {
            return JsonPath::parse(path)
                .map(CaptureSource::JsonPath)
                .map_err(|e| self.problems.add(format!("{at}.json_path"), e))
                .ok();
        }
        if let Some(name) = &source.header {
            return HeaderName::from_bytes(name.as_bytes())
                .map(CaptureSource::Header)
                .map_err(|_| self.problems.add(format!("{at}.header"), format!("\"{name}\" is not a header name")))
                .ok();
        }
        let pattern = source.regex.as_deref().unwrap_or_default();
        regex::Regex::new(pattern)
            .map(CaptureSource::Regex)
            .map_err(|e| self.problems.add(format!("{at}.regex"), crate::check::regex_error(pattern, &e)))
            .ok()
    }

    /// A variable is a plain name that is neither a config var nor a template built-in.
    fn variable_name_ok(&mut self, name: &str, at: &str) -> bool {
        let mut chars = name.chars();
        let plain = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        let problem = if !plain {
            format!("\"{name}\" is not a variable name; use letters, digits and \"_\"")
        } else if self.cx.vars.contains_key(name) {
            format!("\"{name}\" is already a config var; pick another name")
        } else if BUILTIN_NAMES.contains(&name) || name.starts_with("random_") {
            format!("\"{name}\" is a template built-in; pick another name")
        } else if self.loop_variables.iter().any(|v| v == name) {
            format!("\"{name}\" is the loop variable of an enclosing block; pick another name")
        } else {
            return true;
        };
        self.problems.add(at, problem);
        false
    }

    fn block(&mut self, block: &BlockConfig, at: &str, parent: &str, always: bool, program: &mut Vec<Op>) {
        let always = always || block.always;
        let group_path = match &block.group {
            Some(name) if !is_group_name(name) => {
                self.problems.add(
                    format!("{at}.group"),
                    format!("\"{name}\" is not a group name; use letters, digits, spaces, \"_\", \"-\" and \".\" (at most 64)"),
                );
                parent.to_string()
            }
            Some(name) => format!("{parent}::{name}"),
            None => parent.to_string(),
        };
        let group = block.group.as_ref().filter(|n| is_group_name(n)).map(|_| {
            self.groups.iter().position(|g| *g == group_path).unwrap_or_else(|| {
                self.groups.push(group_path.clone());
                self.groups.len() - 1
            })
        });
        let variable = match (&block.repeat, &block.for_each) {
            (Some(_), Some(_)) => {
                self.problems.add(at, "repeat and for_each are exclusive; give one");
                None
            }
            (Some(0), None) => {
                self.problems.add(format!("{at}.repeat"), "must be at least 1");
                None
            }
            (None, Some(items)) if items.is_empty() => {
                self.problems.add(format!("{at}.for_each"), "no items; list at least one");
                None
            }
            (Some(_), None) => Some(block.as_name.as_deref().unwrap_or("index")),
            (None, Some(_)) => Some(block.as_name.as_deref().unwrap_or("item")),
            (None, None) => {
                if block.as_name.is_some() {
                    self.problems
                        .add(format!("{at}.as"), "names the loop variable of repeat or for_each; neither is given");
                }
                None
            }
        };
        let slot = variable.filter(|v| self.variable_name_ok(v, &format!("{at}.as"))).map(|v| self.variables.slot(v));
        let passes = match (slot, block.repeat, &block.for_each) {
            (Some(slot), Some(count), _) => Passes::Times { count, slot },
            (Some(slot), None, Some(items)) => Passes::Each { items: items.clone(), slot },
            _ => Passes::Once,
        };
        if block.steps.is_empty() {
            self.problems.add(format!("{at}.steps"), "no steps; list at least one");
        }
        let when = block.when.as_ref().and_then(|w| self.when(w, &format!("{at}.when")));
        if block.parallel {
            let per_host = match block.batch_per_host {
                Some(0) => {
                    self.problems.add(format!("{at}.batch_per_host"), "must be at least 1");
                    1
                }
                Some(n) => n as usize,
                None => BATCH_PER_HOST,
            };
            let loop_variable = slot.zip(variable);
            let branches = self.parallel(block, at, &group_path, always, passes, loop_variable);
            program.push(Op::Parallel(Parallel { group, branches, per_host, when }));
            return;
        }
        if block.batch_per_host.is_some() {
            self.problems.add(format!("{at}.batch_per_host"), "applies to a parallel block only; add parallel: true");
        }
        let enter = program.len();
        program.push(Op::Enter(Block { group, passes, leave: 0, always, holds_always: false, when }));
        if let (Some(slot), Some(name)) = (slot, variable) {
            self.variables.set_available(slot, true);
            self.loop_variables.push(name.to_string());
        }
        self.steps(&block.steps, &format!("{at}.steps"), &group_path, always, program);
        if let Some(slot) = slot {
            self.variables.set_available(slot, false);
            self.loop_variables.pop();
        }
        let leave = program.len();
        let holds_always = program[enter + 1..].iter().any(|op| !matches!(op, Op::Leave { .. }) && op.always());
        program.push(Op::Leave { enter });
        if let Op::Enter(block) = &mut program[enter] {
            block.leave = leave;
            block.holds_always = holds_always;
        }
    }
}

/// A request name given in the scenario: its request (None for one picked
/// by weight, which no step shares), as written, and the group it is in.
struct Named {
    request: Option<usize>,
    config: RequestConfig,
    group: String,
}

/// Group names are label values and k6 tag values; `::` separates nesting levels.
fn is_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.trim() == name
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Loaded;
    use crate::model::env::EnvVars;
    use crate::plan::{resolve, ScenarioPlan};

    fn scenario(journeys: &str) -> ScenarioPlan {
        let text = format!(
            "target: {{base_url: \"http://127.0.0.1:1\"}}\nscenarios:\n  s:\n    journeys:\n{journeys}\
             \x20   profiles: {{p: {{executor: constant-vus, vus: 1, duration: 1s}}}}\n"
        );
        resolve(&Loaded::new("t", text), Some("p"), &EnvVars::new()).unwrap().scenarios.remove(0)
    }

    #[test]
    fn a_journey_compiles_to_a_program_of_steps_blocks_and_cleanup() {
        let s = scenario(
            "      flow:\n        steps:\n\
             \x20         - {name: create, method: POST, path: /items, capture: {id: {json_path: $.id}}}\n\
             \x20         - group: read\n            repeat: 2\n            as: n\n\
             \x20           steps: [{name: get, path: \"/items/{{ id }}?n={{ n }}\"}]\n\
             \x20         - {name: delete, method: DELETE, path: \"/items/{{ id }}\", always: true}\n",
        );
        assert_eq!(s.groups, ["::read"]);
        let names: Vec<&str> = s.requests.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["create", "get", "delete"]);
        assert_eq!(s.variables, 2, "the captured id and the loop's n");
        let program = &s.journeys[0].program;
        let [Op::Request(create), Op::Enter(block), Op::Request(get), Op::Leave { enter }, Op::Request(delete)] =
            &program[..]
        else {
            panic!("{program:#?}")
        };
        assert_eq!((create.request, get.request, delete.request), (0, 1, 2));
        let id = create.captures[0].slot;
        assert!(create.ends_iteration, "a step that captures ends the iteration when it fails");
        assert!(!create.always && delete.always, "only the cleanup runs after a failure");
        let Passes::Times { count: 2, slot: n } = block.passes else { panic!("{:?}", block.passes) };
        assert_eq!((block.group, block.leave, *enter), (Some(0), 3, 1));
        assert_eq!(s.requests[1].reads_variables, [id.min(n), id.max(n)], "get reads the id and the loop variable");
        assert_eq!(s.requests[2].reads_variables, [id]);
        assert!(program[4].always() && !program[0].always());
    }

    #[test]
    fn a_step_two_journeys_take_alike_is_one_request() {
        let s = scenario(
            "      browse:\n        steps: [{name: login, path: /login, capture: {t: {header: x-token}}}, {name: home, path: /}]\n\
             \x20     buy:\n        steps: [{name: login, path: /login}, {name: cart, path: /cart}]\n",
        );
        let names: Vec<&str> = s.requests.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["login", "home", "cart"]);
        let first = |j: usize| match &s.journeys[j].program[0] {
            Op::Request(step) => step.request,
            other => panic!("{other:?}"),
        };
        assert_eq!((first(0), first(1)), (0, 0), "both journeys send request 0");
        assert!(s.requests[0].keeps_headers, "what either step's captures read is kept");
    }

    #[test]
    fn journeys_are_picked_by_weight_and_each_request_is_compiled_once() {
        let s = scenario(
            "      browse:\n        weight: 3\n        steps: [{name: home, path: /}]\n\
             \x20     buy:\n        steps: [{name: cart, path: /cart}, {name: pay, method: POST, path: /pay}]\n",
        );
        let journeys: Vec<(&str, u32, usize)> =
            s.journeys.iter().map(|j| (j.name.as_str(), j.weight, j.program.len())).collect();
        assert_eq!(journeys, [("browse", 3, 1), ("buy", 1, 2)]);
        assert_eq!(s.requests.len(), 3);
        assert!(s.weighted.is_empty(), "with journeys, no request is picked by weight on its own");
    }
}
