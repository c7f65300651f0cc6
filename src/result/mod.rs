//! A run's mergeable result: the exact statistics a verdict is computed
//! from (HDR histograms and counters, not summaries), with what identifies
//! the run, so that `sloprober merge` can combine the results of N shards
//! into the verdict one process making the whole load would reach.
//! The format is versioned and documented in README ("Result files").

mod merge;

pub use merge::{check_complete, find_results, merge, MergeError};

use crate::config::{sha256_hex, Loaded};
use crate::model::env::EnvVars;
use crate::report::{RunOutcome, ScenarioTimeline};
use crate::stats::{ExecutorTotals, LatencyRecord, RequestRecord};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Bumped when a field changes meaning or disappears; `merge` reads only its own.
pub const RESULT_VERSION: u32 = 2;
/// The `kind` of a result file.
pub const RESULT_KIND: &str = "sloprober.result";

/// What a run was: the same config, profile, scenarios and shard count
/// make results that merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// Where the config was read from (for messages only).
    pub config: String,
    /// SHA-256 of the config file's text.
    pub config_sha256: String,
    /// SHA-256 of the `SLOPROBER__*` overrides in the environment, which change the plan too.
    pub overrides_sha256: String,
    pub profile: String,
    /// The scenarios played, each with the base URL it was played against.
    pub scenarios: Vec<ScenarioTarget>,
    pub shard: ShardPosition,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioTarget {
    pub name: String,
    pub base_url: String,
}

/// Which part of the load a result holds: shard `index` of `count` (0 of 1 when not split).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardPosition {
    pub index: u32,
    pub count: u32,
}

impl RunIdentity {
    /// The identity of a run of `plan`, made from the config `loaded` with `env`.
    pub fn of(loaded: &Loaded, env: &EnvVars, plan: &crate::plan::Plan) -> RunIdentity {
        let shard = plan
            .shard
            .map_or(ShardPosition { index: 0, count: 1 }, |s| ShardPosition { index: s.index, count: s.count });
        RunIdentity {
            config: loaded.name.clone(),
            config_sha256: loaded.sha256.clone(),
            overrides_sha256: overrides_sha256(env),
            profile: plan.profile.clone(),
            scenarios: plan
                .scenarios
                .iter()
                .map(|s| ScenarioTarget { name: s.name.clone(), base_url: s.base_url.clone() })
                .collect(),
            shard,
        }
    }
}

/// The labels of a run's pushed series: `testid`, `profile`, `instance`
/// (the pod or host) and, for a shard, `shard`, so shards never write the same series.
pub fn run_labels(plan: &crate::plan::Plan, run_id: &str, env: &EnvVars) -> Vec<(String, String)> {
    let mut labels = vec![("testid".to_string(), run_id.to_string()), ("profile".to_string(), plan.profile.clone())];
    labels.push(("instance".to_string(), instance_name(env)));
    if let Some(shard) = plan.shard {
        labels.push(("shard".to_string(), shard.index.to_string()));
    }
    labels
}

/// The pod's name, else the host's.
pub fn instance_name(env: &EnvVars) -> String {
    env.get("POD_NAME")
        .filter(|n| !n.is_empty())
        .cloned()
        .or_else(|| nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()))
        .unwrap_or_else(|| "sloprober".to_string())
}

/// The config overrides the environment makes (`SLOPROBER__SECTION__KEY`), hashed: values may be secrets.
/// Where metrics are pushed does not change a verdict, so `metrics.remote_write` is left out.
pub(crate) fn overrides_sha256(env: &EnvVars) -> String {
    let mut overrides: Vec<String> = env
        .iter()
        .filter(|(k, _)| k.starts_with("SLOPROBER__") && !k.starts_with("SLOPROBER__METRICS__REMOTE_WRITE"))
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    overrides.sort();
    sha256_hex(overrides.concat().as_bytes())
}

/// One request's statistics, by scenario and request name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestResult {
    pub scenario: String,
    pub request: String,
    pub stats: RequestRecord,
}

/// The durations of a scenario's iterations (`group` null) or of one of its groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanResult {
    pub scenario: String,
    pub group: Option<String>,
    pub durations: LatencyRecord,
}

/// The durations of one request phase (k6's name) of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    pub scenario: String,
    pub phase: String,
    pub durations: LatencyRecord,
}

/// A result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub version: u32,
    pub kind: String,
    /// The sloprober version that wrote it.
    pub sloprober: String,
    pub identity: RunIdentity,
    /// The run's identifier (`testid`); the shards of one run share it when it is given.
    pub run_id: String,
    /// RFC 3339, when the load started.
    pub started_at: String,
    pub duration_seconds: f64,
    /// The SLO whose `abort_on_fail` threshold stopped this shard early.
    pub aborted_by: Option<String>,
    pub executors: Vec<ExecutorTotals>,
    pub requests: Vec<RequestResult>,
    pub spans: Vec<SpanResult>,
    pub phases: Vec<PhaseResult>,
    /// Per scenario, one point per second (as `*-results.json`).
    pub timeline: Vec<ScenarioTimeline>,
}

impl RunResult {
    pub fn of(outcome: &RunOutcome, identity: RunIdentity) -> RunResult {
        let snapshot = &outcome.snapshot;
        RunResult {
            version: RESULT_VERSION,
            kind: RESULT_KIND.to_string(),
            sloprober: env!("CARGO_PKG_VERSION").to_string(),
            identity,
            run_id: outcome.run_id.clone(),
            started_at: humantime::format_rfc3339_millis(outcome.started_at).to_string(),
            duration_seconds: snapshot.elapsed.as_secs_f64(),
            aborted_by: outcome.aborted_by.clone(),
            executors: snapshot.executors.clone(),
            requests: snapshot
                .requests
                .iter()
                .map(|r| RequestResult {
                    scenario: r.scenario.clone(),
                    request: r.request.clone(),
                    stats: RequestRecord::of(&r.stats),
                })
                .collect(),
            spans: snapshot
                .spans
                .iter()
                .map(|s| SpanResult {
                    scenario: s.scenario.clone(),
                    group: s.group.clone(),
                    durations: LatencyRecord::of(&s.durations),
                })
                .collect(),
            phases: snapshot
                .phases
                .iter()
                .map(|p| PhaseResult {
                    scenario: p.scenario.clone(),
                    phase: p.phase.metric_name().to_string(),
                    durations: LatencyRecord::of(&p.durations),
                })
                .collect(),
            timeline: outcome.timeline.scenarios.clone(),
        }
    }

    /// The file a shard writes at `path`: `path` itself, or in a directory
    /// (one that exists, or `path` ending in `/`) `result.json`, and for a
    /// shard `result-shard-<index>-of-<count>.json`.
    pub fn path_at(&self, path: &Path) -> PathBuf {
        let is_dir = path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/');
        if !is_dir {
            return path.to_path_buf();
        }
        match self.identity.shard {
            ShardPosition { count: 1, .. } => path.join("result.json"),
            ShardPosition { index, count } => path.join(format!("result-shard-{index}-of-{count}.json")),
        }
    }

    /// Writes the result as JSON at [`RunResult::path_at`]`(path)`; returns the file written.
    pub fn write(&self, path: &Path) -> Result<PathBuf, crate::report::ReportError> {
        let file = self.path_at(path);
        let error = |source| crate::report::ReportError { path: file.clone(), source };
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(error)?;
        }
        let text = serde_json::to_string(self).map_err(|e| error(std::io::Error::other(e)))?;
        // Written aside and renamed, so a reader of a shared volume never sees half a file.
        let partial = file.with_extension("json.partial");
        std::fs::write(&partial, text).map_err(error)?;
        std::fs::rename(&partial, &file).map_err(error)?;
        Ok(file)
    }
}
