//! Journeys as written: an iteration that is a sequence of steps (requests,
//! groups, repeats, sleeps) rather than one request picked by weight.
//!
//! A step's kind is told by its keys: `sleep` alone is a pause, `steps` is a
//! block (a named `group`, repeated or once per item), anything else is a
//! request with its step options (`capture`, `on_failure`, `always`).

use super::load::read;
use super::{RequestConfig, Scenario, ThinkTime};
use crate::model::duration;
use crate::model::problems::Problems;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A scenario's setup: steps run once before its load (and again every
/// `every` in the daemon, for tokens that expire).
#[derive(Debug, Clone)]
pub struct SetupConfig {
    pub every: Option<std::time::Duration>,
    /// How long it may take in all (k6's `setupTimeout`, default 60 s).
    pub timeout: Option<std::time::Duration>,
    pub steps: Vec<StepConfig>,
}

/// Reads `scenarios.<name>.setup`: `{every: 10m, timeout: 30s, steps: [...]}`.
pub(super) fn read_setup(value: Value, path: &str, problems: &mut Problems) -> Option<SetupConfig> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default, deserialize_with = "duration::optional")]
        every: Option<std::time::Duration>,
        #[serde(default, deserialize_with = "duration::optional")]
        timeout: Option<std::time::Duration>,
        steps: Vec<Value>,
    }
    let file = read::<File>(value, path, problems)?;
    if file.every.is_some_and(|every| every < std::time::Duration::from_secs(1)) {
        problems.add(format!("{path}.every"), "must be at least 1s");
    }
    if file.timeout.is_some_and(|timeout| timeout.is_zero()) {
        problems.add(format!("{path}.timeout"), "must be more than 0");
    }
    Some(SetupConfig {
        every: file.every,
        timeout: file.timeout,
        steps: read_steps(file.steps, &format!("{path}.steps"), problems),
    })
}

/// Reads `scenarios.<name>.teardown`: `{steps: [...]}`.
pub(super) fn read_teardown(value: Value, path: &str, problems: &mut Problems) -> Option<Vec<StepConfig>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        steps: Vec<Value>,
    }
    let file = read::<File>(value, path, problems)?;
    Some(read_steps(file.steps, &format!("{path}.steps"), problems))
}

/// One weighted journey of a scenario.
#[derive(Debug, Clone)]
pub struct JourneyConfig {
    pub weight: u32,
    pub steps: Vec<StepConfig>,
}

#[derive(Debug, Clone)]
pub enum StepConfig {
    Request(Box<RequestStep>),
    Block(BlockConfig),
    Sleep(ThinkTime),
    /// `{set: {model: "{{ random_choice('a', 'b') }}"}}`: values chosen once, read by later steps.
    Set(BTreeMap<String, Value>),
}

/// A request in a journey, and what the journey does with its answer.
#[derive(Debug, Clone)]
pub struct RequestStep {
    pub request: RequestConfig,
    /// Sent only when this holds.
    pub when: Option<WhenConfig>,
    /// Variable name -> where in the answer its value is.
    pub capture: BTreeMap<String, CaptureConfig>,
    pub on_failure: Option<OnFailure>,
    pub always: bool,
}

/// Steps run together: named (a k6 group, timed as `group_duration`),
/// repeated `repeat` times or once per item of `for_each`, or (`parallel`)
/// all sent at once, as k6's `http.batch`.
#[derive(Debug, Clone)]
pub struct BlockConfig {
    pub group: Option<String>,
    /// Its requests (each step of each pass) are sent at once.
    pub parallel: bool,
    /// The most of them in flight at once (k6's `batchPerHost`).
    pub batch_per_host: Option<u32>,
    pub repeat: Option<u32>,
    pub for_each: Option<Vec<Value>>,
    /// The loop variable's name: `index` (1 to N) for `repeat`, `item` for `for_each`.
    pub as_name: Option<String>,
    pub steps: Vec<StepConfig>,
    pub always: bool,
    /// Run only when this holds.
    pub when: Option<WhenConfig>,
}

/// When a step runs: on every Nth iteration of its VU (the first, then each
/// Nth, as k6's `__ITER % N === 0`), by chance, or when an expression holds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenConfig {
    #[serde(default)]
    pub every: Option<u64>,
    #[serde(default)]
    pub chance: Option<f64>,
    #[serde(default)]
    pub expr: Option<String>,
}

/// Where a captured value comes from; exactly one is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureConfig {
    #[serde(default)]
    pub json_path: Option<String>,
    #[serde(default)]
    pub header: Option<String>,
    /// Over the body: the first capture group, or the whole match without one.
    #[serde(default)]
    pub regex: Option<String>,
}

/// What a failed step does to the rest of its iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Skip the remaining steps but those marked `always`.
    EndIteration,
    /// Go on; later steps that need a value this step did not capture are skipped.
    Continue,
}

impl Scenario {
    /// Every request as written: those picked by weight, then each journey step.
    pub fn every_request(&self) -> Vec<&RequestConfig> {
        fn walk<'a>(steps: &'a [StepConfig], out: &mut Vec<&'a RequestConfig>) {
            for step in steps {
                match step {
                    StepConfig::Request(step) => out.push(&step.request),
                    StepConfig::Block(block) => walk(&block.steps, out),
                    StepConfig::Sleep(_) | StepConfig::Set(_) => {}
                }
            }
        }
        let mut out: Vec<&RequestConfig> = self.requests.iter().collect();
        if let Some(setup) = &self.setup {
            walk(&setup.steps, &mut out);
        }
        for journey in self.journeys.values() {
            walk(&journey.steps, &mut out);
        }
        if let Some(teardown) = &self.teardown {
            walk(teardown, &mut out);
        }
        out
    }
}

/// Keys a request step has besides the request's own.
const STEP_KEYS: [&str; 4] = ["capture", "on_failure", "always", "when"];

/// Reads `scenarios.<name>.journeys`.
pub(super) fn read_journeys(
    journeys: BTreeMap<String, Value>,
    path: &str,
    problems: &mut Problems,
) -> BTreeMap<String, JourneyConfig> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default = "one")]
        weight: u32,
        steps: Vec<Value>,
    }
    fn one() -> u32 {
        1
    }
    journeys
        .into_iter()
        .filter_map(|(name, value)| {
            let at = format!("{path}.{name}");
            let file = read::<File>(value, &at, problems)?;
            let steps = read_steps(file.steps, &format!("{at}.steps"), problems);
            Some((name, JourneyConfig { weight: file.weight, steps }))
        })
        .collect()
}

/// Reads a list of steps at `path`; a step with a problem is left out once reported.
pub(super) fn read_steps(values: Vec<Value>, path: &str, problems: &mut Problems) -> Vec<StepConfig> {
    values
        .into_iter()
        .enumerate()
        .filter_map(|(i, value)| read_step(value, &format!("{path}[{i}]"), problems))
        .collect()
}

fn read_step(value: Value, path: &str, problems: &mut Problems) -> Option<StepConfig> {
    let Value::Object(mut fields) = value else {
        problems.add(
            path,
            "a step is a request (name, path, ...), a block (steps: [...]), {sleep: 1s} or {set: {name: value}}",
        );
        return None;
    };
    if fields.contains_key("set") {
        if fields.len() > 1 {
            problems.add(path, "a set step has only the key set");
            return None;
        }
        return read::<BTreeMap<String, Value>>(fields.remove("set")?, &format!("{path}.set"), problems)
            .map(StepConfig::Set);
    }
    if fields.contains_key("sleep") {
        if fields.len() > 1 {
            problems.add(path, "a sleep step has only the key sleep");
            return None;
        }
        return read::<ThinkTime>(fields.remove("sleep")?, &format!("{path}.sleep"), problems).map(StepConfig::Sleep);
    }
    if fields.contains_key("steps") {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Block {
            #[serde(default)]
            group: Option<String>,
            #[serde(default)]
            parallel: bool,
            #[serde(default)]
            batch_per_host: Option<u32>,
            #[serde(default)]
            repeat: Option<u32>,
            #[serde(default)]
            for_each: Option<Vec<Value>>,
            #[serde(default, rename = "as")]
            as_name: Option<String>,
            steps: Vec<Value>,
            #[serde(default)]
            always: bool,
            #[serde(default)]
            when: Option<WhenConfig>,
        }
        let block = read::<Block>(Value::Object(fields), path, problems)?;
        let steps = read_steps(block.steps, &format!("{path}.steps"), problems);
        return Some(StepConfig::Block(BlockConfig {
            group: block.group,
            parallel: block.parallel,
            batch_per_host: block.batch_per_host,
            repeat: block.repeat,
            for_each: block.for_each,
            as_name: block.as_name,
            steps,
            always: block.always,
            when: block.when,
        }));
    }
    if fields.contains_key("weight") {
        problems.add(format!("{path}.weight"), "a step has no weight; give the journey one (journeys.<name>.weight)");
        return None;
    }
    let before = problems.len();
    let mut take = |key: &str| fields.remove(key);
    let capture = take("capture")
        .and_then(|v| read::<BTreeMap<String, CaptureConfig>>(v, &format!("{path}.capture"), problems))
        .unwrap_or_default();
    let on_failure = take("on_failure").and_then(|v| read::<OnFailure>(v, &format!("{path}.on_failure"), problems));
    let always = take("always").and_then(|v| read::<bool>(v, &format!("{path}.always"), problems)).unwrap_or(false);
    let when = take("when").and_then(|v| read::<WhenConfig>(v, &format!("{path}.when"), problems));
    debug_assert!(STEP_KEYS.iter().all(|k| !fields.contains_key(*k)));
    let request = read::<RequestConfig>(Value::Object(fields), path, problems)?;
    (problems.len() == before)
        .then(|| StepConfig::Request(Box::new(RequestStep { request, when, capture, on_failure, always })))
}
