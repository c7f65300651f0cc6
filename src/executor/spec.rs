//! The six k6 executors with validated parameters.

use crate::model::{defaults, duration};

use crate::executor::{ExecutorSettings, Stage};

use crate::model::problems::Problems;
use std::time::Duration;

/// An executor and its parameters, as k6 defines them.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutorSpec {
    ConstantVus {
        vus: u32,
        duration: Duration,
    },
    RampingVus {
        start_vus: u32,
        stages: Vec<Stage>,
        graceful_ramp_down: Duration,
    },
    ConstantArrivalRate {
        rate: f64,
        time_unit: Duration,
        duration: Duration,
        pre_allocated_vus: u32,
        max_vus: u32,
    },
    RampingArrivalRate {
        start_rate: f64,
        time_unit: Duration,
        stages: Vec<Stage>,
        pre_allocated_vus: u32,
        max_vus: u32,
    },
    PerVuIterations {
        vus: u32,
        iterations: u64,
        max_duration: Duration,
    },
    SharedIterations {
        vus: u32,
        iterations: u64,
        max_duration: Duration,
    },
}

/// An executor with the timing every executor shares.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutorPlan {
    pub spec: ExecutorSpec,
    pub start_time: Duration,
    pub graceful_stop: Duration,
}

pub const EXECUTORS: &[&str] = &[
    "constant-vus",
    "ramping-vus",
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "per-vu-iterations",
    "shared-iterations",
];

/// Long enough to be "forever" for a daemon, short enough not to overflow `Instant`.
pub const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// (required, optional) parameters of each executor, besides start_time and graceful_stop.
fn parameters(executor: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match executor {
        "constant-vus" => (&["vus", "duration"], &[]),
        "ramping-vus" => (&["stages"], &["start_vus", "graceful_ramp_down"]),
        "constant-arrival-rate" => (&["rate", "duration", "pre_allocated_vus"], &["time_unit", "max_vus"]),
        "ramping-arrival-rate" => (&["stages", "pre_allocated_vus"], &["start_rate", "time_unit", "max_vus"]),
        _ => (&[], &["vus", "iterations", "max_duration"]),
    }
}

fn present(s: &ExecutorSettings) -> Vec<&'static str> {
    [
        ("vus", s.vus.is_some()),
        ("duration", s.duration.is_some()),
        ("start_vus", s.start_vus.is_some()),
        ("stages", s.stages.is_some()),
        ("graceful_ramp_down", s.graceful_ramp_down.is_some()),
        ("rate", s.rate.is_some()),
        ("start_rate", s.start_rate.is_some()),
        ("time_unit", s.time_unit.is_some()),
        ("pre_allocated_vus", s.pre_allocated_vus.is_some()),
        ("max_vus", s.max_vus.is_some()),
        ("iterations", s.iterations.is_some()),
        ("max_duration", s.max_duration.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

impl ExecutorPlan {
    /// Validates settings written at `path`; every problem goes to `problems`.
    pub fn from_settings(s: &ExecutorSettings, path: &str, problems: &mut Problems) -> Option<ExecutorPlan> {
        let executor = s.executor.as_str();
        if !EXECUTORS.contains(&executor) {
            problems.add(
                format!("{path}.executor"),
                format!("unknown executor \"{executor}\"; expected one of {}", EXECUTORS.join(", ")),
            );
            return None;
        }
        let before = problems.len();
        let (required, optional) = parameters(executor);
        for name in present(s) {
            if !required.contains(&name) && !optional.contains(&name) {
                let takes: Vec<&str> = required.iter().chain(optional).copied().collect();
                problems.add(
                    format!("{path}.{name}"),
                    format!("not a parameter of {executor} (it takes {}, start_time, graceful_stop)", takes.join(", ")),
                );
            }
        }
        let set = present(s);
        for name in required.iter().filter(|n| !set.contains(n)) {
            problems.add(path, format!("{executor} needs {name}"));
        }
        if problems.len() != before {
            return None;
        }
        let spec = build_spec(executor, s, path, problems)?;
        Some(ExecutorPlan {
            spec,
            start_time: s.start_time.unwrap_or(Duration::ZERO),
            graceful_stop: s.graceful_stop.unwrap_or(defaults::GRACEFUL_STOP),
        })
    }

    /// The same load, kept going forever after the schedule's last stage (daemon `on_end: hold`).
    /// Iteration-based executors have no last stage to hold and are returned unchanged.
    pub fn held(&self) -> ExecutorPlan {
        let mut plan = self.clone();
        match &mut plan.spec {
            ExecutorSpec::ConstantVus { duration, .. } | ExecutorSpec::ConstantArrivalRate { duration, .. } => {
                *duration = FOREVER
            }
            ExecutorSpec::RampingVus { stages, start_vus, .. } => {
                let last = stages.last().map_or(*start_vus as f64, |s| s.target);
                stages.push(Stage { duration: FOREVER, target: last });
            }
            ExecutorSpec::RampingArrivalRate { stages, start_rate, .. } => {
                let last = stages.last().map_or(*start_rate, |s| s.target);
                stages.push(Stage { duration: FOREVER, target: last });
            }
            ExecutorSpec::PerVuIterations { .. } | ExecutorSpec::SharedIterations { .. } => {}
        }
        plan
    }

    /// How long the schedule lasts from its start_time (the upper bound for iteration-based executors).
    pub fn planned_length(&self) -> Duration {
        let length = match &self.spec {
            ExecutorSpec::ConstantVus { duration, .. } | ExecutorSpec::ConstantArrivalRate { duration, .. } => {
                *duration
            }
            ExecutorSpec::RampingVus { stages, .. } | ExecutorSpec::RampingArrivalRate { stages, .. } => {
                stages.iter().map(|s| s.duration).sum()
            }
            ExecutorSpec::PerVuIterations { max_duration, .. }
            | ExecutorSpec::SharedIterations { max_duration, .. } => *max_duration,
        };
        self.start_time + length
    }

    /// The most VUs the schedule has at once. A VU holds at most one
    /// connection at a time, so this bounds the connections it opens.
    pub fn peak_vus(&self) -> u64 {
        match &self.spec {
            ExecutorSpec::ConstantVus { vus, .. }
            | ExecutorSpec::PerVuIterations { vus, .. }
            | ExecutorSpec::SharedIterations { vus, .. } => *vus as u64,
            ExecutorSpec::RampingVus { start_vus, stages, .. } => {
                stages.iter().map(|s| s.target.ceil() as u64).fold(*start_vus as u64, u64::max)
            }
            ExecutorSpec::ConstantArrivalRate { max_vus, .. } | ExecutorSpec::RampingArrivalRate { max_vus, .. } => {
                *max_vus as u64
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self.spec {
            ExecutorSpec::ConstantVus { .. } => "constant-vus",
            ExecutorSpec::RampingVus { .. } => "ramping-vus",
            ExecutorSpec::ConstantArrivalRate { .. } => "constant-arrival-rate",
            ExecutorSpec::RampingArrivalRate { .. } => "ramping-arrival-rate",
            ExecutorSpec::PerVuIterations { .. } => "per-vu-iterations",
            ExecutorSpec::SharedIterations { .. } => "shared-iterations",
        }
    }

    /// One line for the daemon's log: the schedule, then what follows its end.
    pub fn describe_forever(&self, on_end: crate::executor::OnEnd) -> String {
        let holds = on_end == crate::executor::OnEnd::Hold
            && !matches!(self.spec, ExecutorSpec::PerVuIterations { .. } | ExecutorSpec::SharedIterations { .. });
        let then = if holds { "then holds its last load until stopped" } else { "then starts again until stopped" };
        format!("{}; {then}", self.describe())
    }

    /// One line for `sloprober check`.
    pub fn describe(&self) -> String {
        let d = duration::format;
        let stages = |stages: &[Stage], unit: &str| {
            stages.iter().map(|s| format!("{}->{}{unit}", d(s.duration), s.target)).collect::<Vec<_>>().join(", ")
        };
        let per = |time_unit: Duration| format!("/{}", d(time_unit));
        let body = match &self.spec {
            ExecutorSpec::ConstantVus { vus, duration } => format!("{} for {}", count(*vus, "VU"), d(*duration)),
            ExecutorSpec::RampingVus { start_vus, stages: s, graceful_ramp_down } => {
                format!("from {start_vus} VUs: {}; graceful_ramp_down {}", stages(s, " VUs"), d(*graceful_ramp_down))
            }
            ExecutorSpec::ConstantArrivalRate { rate, time_unit, duration, pre_allocated_vus, max_vus } => format!(
                "{rate} {}{} for {}; VUs {pre_allocated_vus} pre-allocated, {max_vus} max",
                if *rate == 1.0 { "iteration" } else { "iterations" },
                per(*time_unit),
                d(*duration)
            ),
            ExecutorSpec::RampingArrivalRate { start_rate, time_unit, stages: s, pre_allocated_vus, max_vus } => {
                format!(
                    "from {start_rate}{}: {}; VUs {pre_allocated_vus} pre-allocated, {max_vus} max",
                    per(*time_unit),
                    stages(s, &per(*time_unit)),
                )
            }
            ExecutorSpec::PerVuIterations { vus, iterations, max_duration } => {
                format!("{} x {} each, max {}", count(*vus, "VU"), count(*iterations, "iteration"), d(*max_duration))
            }
            ExecutorSpec::SharedIterations { vus, iterations, max_duration } => {
                format!("{} shared by {}, max {}", count(*iterations, "iteration"), count(*vus, "VU"), d(*max_duration))
            }
        };
        let start =
            if self.start_time.is_zero() { String::new() } else { format!("start_time {}; ", d(self.start_time)) };
        format!("{}: {body}; {start}graceful_stop {}", self.name(), d(self.graceful_stop))
    }
}

/// `1 VU`, `3 VUs`.
fn count(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

fn build_spec(executor: &str, s: &ExecutorSettings, path: &str, problems: &mut Problems) -> Option<ExecutorSpec> {
    let before = problems.len();
    let mut positive_duration = |name: &str, value: Option<Duration>| {
        if value.is_some_and(|d| d.is_zero()) {
            problems.add(format!("{path}.{name}"), "must be longer than 0s");
        }
        value.unwrap_or_default()
    };
    let duration = positive_duration("duration", s.duration);
    let time_unit = s.time_unit.map(|d| positive_duration("time_unit", Some(d))).unwrap_or(defaults::TIME_UNIT);
    let max_duration =
        s.max_duration.map(|d| positive_duration("max_duration", Some(d))).unwrap_or(defaults::MAX_DURATION);
    if s.vus == Some(0) && executor != "ramping-vus" {
        problems.add(format!("{path}.vus"), "must be at least 1");
    }
    if s.iterations == Some(0) {
        problems.add(format!("{path}.iterations"), "must be at least 1");
    }
    if let Some(rate) = s.rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
        problems.add(format!("{path}.rate"), format!("must be greater than 0, got {rate}"));
    }
    if let Some(rate) = s.start_rate.filter(|r| !(r.is_finite() && *r >= 0.0)) {
        problems.add(format!("{path}.start_rate"), format!("must be 0 or more, got {rate}"));
    }
    let is_vus = executor == "ramping-vus";
    for (i, stage) in s.stages.iter().flatten().enumerate() {
        let ok = stage.target.is_finite() && stage.target >= 0.0 && (!is_vus || stage.target.fract() == 0.0);
        if !ok {
            let want = if is_vus { "a whole number of VUs, 0 or more" } else { "a rate, 0 or more" };
            problems.add(format!("{path}.stages[{i}].target"), format!("must be {want}, got {}", stage.target));
        }
    }
    if s.stages.as_ref().is_some_and(|st| st.is_empty()) {
        problems.add(format!("{path}.stages"), "needs at least one stage");
    }
    let pre_allocated_vus = s.pre_allocated_vus.unwrap_or(0);
    let max_vus = s.max_vus.unwrap_or(pre_allocated_vus);
    if executor.ends_with("arrival-rate") {
        if max_vus == 0 {
            problems.add(format!("{path}.pre_allocated_vus"), "must be at least 1 (or set max_vus)");
        } else if max_vus < pre_allocated_vus {
            problems.add(
                format!("{path}.max_vus"),
                format!("must be at least pre_allocated_vus ({pre_allocated_vus}), got {max_vus}"),
            );
        }
    }
    if problems.len() != before {
        return None;
    }
    let stages = s.stages.clone().unwrap_or_default();
    Some(match executor {
        "constant-vus" => ExecutorSpec::ConstantVus { vus: s.vus.unwrap_or(1), duration },
        "ramping-vus" => ExecutorSpec::RampingVus {
            start_vus: s.start_vus.unwrap_or(1),
            stages,
            graceful_ramp_down: s.graceful_ramp_down.unwrap_or(defaults::GRACEFUL_RAMP_DOWN),
        },
        "constant-arrival-rate" => ExecutorSpec::ConstantArrivalRate {
            rate: s.rate.unwrap_or(1.0),
            time_unit,
            duration,
            pre_allocated_vus,
            max_vus,
        },
        "ramping-arrival-rate" => ExecutorSpec::RampingArrivalRate {
            start_rate: s.start_rate.unwrap_or(0.0),
            time_unit,
            stages,
            pre_allocated_vus,
            max_vus,
        },
        "per-vu-iterations" => ExecutorSpec::PerVuIterations {
            vus: s.vus.unwrap_or(1),
            iterations: s.iterations.unwrap_or(1),
            max_duration,
        },
        _ => ExecutorSpec::SharedIterations {
            vus: s.vus.unwrap_or(1),
            iterations: s.iterations.unwrap_or(1),
            max_duration,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(executor: &str) -> ExecutorSettings {
        ExecutorSettings { executor: executor.into(), ..Default::default() }
    }

    #[test]
    fn reports_unknown_missing_and_foreign_parameters_together() {
        let mut p = Problems::default();
        let s = ExecutorSettings { rate: Some(5.0), ..settings("constant-vus") };
        assert!(ExecutorPlan::from_settings(&s, "x", &mut p).is_none());
        let messages: Vec<String> = p.into_vec().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            messages,
            [
                "x.rate: not a parameter of constant-vus (it takes vus, duration, start_time, graceful_stop)",
                "x: constant-vus needs vus",
                "x: constant-vus needs duration",
            ]
        );
    }

    #[test]
    fn arrival_rate_defaults_max_vus_to_pre_allocated() {
        let mut p = Problems::default();
        let s = ExecutorSettings {
            rate: Some(10.0),
            duration: Some(Duration::from_secs(60)),
            pre_allocated_vus: Some(20),
            ..settings("constant-arrival-rate")
        };
        let plan = ExecutorPlan::from_settings(&s, "x", &mut p).unwrap();
        assert_eq!(
            plan.spec,
            ExecutorSpec::ConstantArrivalRate {
                rate: 10.0,
                time_unit: Duration::from_secs(1),
                duration: Duration::from_secs(60),
                pre_allocated_vus: 20,
                max_vus: 20
            }
        );
        assert_eq!(plan.graceful_stop, Duration::from_secs(30));
    }

    #[test]
    fn descriptions_count_in_words_and_say_what_follows_the_end() {
        let plan = |spec| ExecutorPlan { spec, start_time: Duration::ZERO, graceful_stop: Duration::from_secs(30) };
        let arrivals = |rate| ExecutorSpec::ConstantArrivalRate {
            rate,
            time_unit: Duration::from_secs(1),
            duration: Duration::from_secs(600),
            pre_allocated_vus: 2,
            max_vus: 2,
        };
        assert_eq!(
            plan(arrivals(1.0)).describe_forever(crate::executor::OnEnd::Hold),
            "constant-arrival-rate: 1 iteration/1s for 10m; VUs 2 pre-allocated, 2 max; graceful_stop 30s; \
             then holds its last load until stopped"
        );
        assert!(plan(arrivals(3.0)).describe().contains("3 iterations/1s"));
        let shared = ExecutorSpec::SharedIterations { vus: 1, iterations: 1, max_duration: Duration::from_secs(60) };
        assert_eq!(
            plan(shared).describe_forever(crate::executor::OnEnd::Hold),
            "shared-iterations: 1 iteration shared by 1 VU, max 1m; graceful_stop 30s; then starts again until stopped"
        );
    }

    #[test]
    fn peak_vus_is_the_most_a_schedule_has_at_once() {
        let plan = |spec| ExecutorPlan { spec, start_time: Duration::ZERO, graceful_stop: Duration::ZERO };
        let stage = |target| Stage { duration: Duration::from_secs(10), target };
        let ramp =
            |start_vus, stages| ExecutorSpec::RampingVus { start_vus, stages, graceful_ramp_down: Duration::ZERO };
        assert_eq!(plan(ramp(3, vec![stage(40.5), stage(10.0)])).peak_vus(), 41);
        assert_eq!(plan(ramp(30, vec![stage(10.0)])).peak_vus(), 30, "ramping down from the start");
        let open = ExecutorSpec::RampingArrivalRate {
            start_rate: 10.0,
            time_unit: Duration::from_secs(1),
            stages: vec![stage(1000.0)],
            pre_allocated_vus: 5,
            max_vus: 200,
        };
        assert_eq!(plan(open).peak_vus(), 200, "arrival rate: max_vus, whatever the rate");
    }

    #[test]
    fn hold_extends_the_last_stage_forever() {
        let plan = ExecutorPlan {
            spec: ExecutorSpec::RampingVus {
                start_vus: 0,
                stages: vec![Stage { duration: Duration::from_secs(10), target: 5.0 }],
                graceful_ramp_down: Duration::ZERO,
            },
            start_time: Duration::ZERO,
            graceful_stop: Duration::ZERO,
        };
        match plan.held().spec {
            ExecutorSpec::RampingVus { stages, .. } => {
                assert_eq!(stages[1], Stage { duration: FOREVER, target: 5.0 })
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
