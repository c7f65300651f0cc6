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
