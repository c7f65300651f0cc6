//! Executor settings as the config writes them: the executor's own, read by
//! serde in `config` and validated here into an [`ExecutorPlan`](super::ExecutorPlan).

use crate::model::duration;
use serde::Deserialize;
use std::time::Duration;

/// Executor settings as written for one profile; `ExecutorPlan::from_settings` validates them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorSettings {
    pub executor: String,
    pub vus: Option<u32>,
    #[serde(default, deserialize_with = "duration::optional")]
    pub duration: Option<Duration>,
    pub start_vus: Option<u32>,
    pub stages: Option<Vec<Stage>>,
    #[serde(default, deserialize_with = "duration::optional")]
    pub graceful_ramp_down: Option<Duration>,
    pub rate: Option<f64>,
    pub start_rate: Option<f64>,
    #[serde(default, deserialize_with = "duration::optional")]
    pub time_unit: Option<Duration>,
    pub pre_allocated_vus: Option<u32>,
    pub max_vus: Option<u32>,
    pub iterations: Option<u64>,
    #[serde(default, deserialize_with = "duration::optional")]
    pub max_duration: Option<Duration>,
    #[serde(default, deserialize_with = "duration::optional")]
    pub start_time: Option<Duration>,
    #[serde(default, deserialize_with = "duration::optional")]
    pub graceful_stop: Option<Duration>,
}

/// A ramp: reach `target` (VUs or iterations per time unit) over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    #[serde(deserialize_with = "duration::required")]
    pub duration: Duration,
    pub target: f64,
}

/// How the daemon keeps load going once a profile's schedule ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnEnd {
    /// Start the schedule again from the beginning.
    Repeat,
    /// Keep the last stage's load (time-based executors); iteration-based ones repeat.
    Hold,
}

/// k6's command-line shortcuts `--vus`, `--duration`, `--iterations`: given,
/// they replace every selected scenario's executor, as k6's replace the
/// script's scenarios.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shortcuts {
    pub vus: Option<u32>,
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
}

impl Shortcuts {
    /// The settings they stand for, as k6 1.1.0 derives them: `--iterations`
    /// is shared-iterations (`--duration` its max_duration), else `--duration`
    /// is constant-vus; VUs default to 1. None when neither is given (k6
    /// ignores `--vus` alone).
    pub fn settings(&self) -> Option<ExecutorSettings> {
        let vus = Some(self.vus.unwrap_or(1));
        match (self.iterations, self.duration) {
            (Some(iterations), max_duration) => Some(ExecutorSettings {
                executor: "shared-iterations".into(),
                vus,
                iterations: Some(iterations),
                max_duration,
                ..Default::default()
            }),
            (None, Some(duration)) => Some(ExecutorSettings {
                executor: "constant-vus".into(),
                vus,
                duration: Some(duration),
                ..Default::default()
            }),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_derive_executors_as_k6_does() {
        let s = |vus, duration: Option<u64>, iterations| {
            Shortcuts { vus, duration: duration.map(Duration::from_secs), iterations }.settings().map(|s| {
                (s.executor, s.vus, s.duration.map(|d| d.as_secs()), s.iterations, s.max_duration.map(|d| d.as_secs()))
            })
        };
        assert_eq!(s(Some(10), Some(30), None), Some(("constant-vus".into(), Some(10), Some(30), None, None)));
        assert_eq!(s(None, Some(30), None), Some(("constant-vus".into(), Some(1), Some(30), None, None)));
        assert_eq!(
            s(Some(4), Some(60), Some(100)),
            Some(("shared-iterations".into(), Some(4), None, Some(100), Some(60)))
        );
        assert_eq!(s(None, None, Some(5)), Some(("shared-iterations".into(), Some(1), None, Some(5), None)));
        assert_eq!(s(Some(10), None, None), None, "--vus alone changes nothing");
    }
}
