//! `sloprober merge`: N shards' results into one outcome, with the
//! statistics added exactly as one process would have recorded them.

use super::{overrides_sha256, RunResult, RESULT_KIND, RESULT_VERSION};
use crate::config::Loaded;
use crate::model::env::EnvVars;
use crate::model::problems::ConfigError;
use crate::model::sample::Phase;
use crate::plan::{self, Plan, Selection};
use crate::report::{RunOutcome, Timeline};
use crate::slo::evaluate;
use crate::stats::{accumulate, ExecutorTotals, Latency, RequestStats, Snapshot};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {problem}", path.display())]
    Invalid { path: PathBuf, problem: String },
    /// The results are not the shards of one run.
    #[error("{0}")]
    Mismatch(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl MergeError {
    /// A path that does not exist (yet).
    pub fn is_not_found(&self) -> bool {
        matches!(self, MergeError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The result files at `paths`: each a result file, or a directory searched
/// (to any depth) for files whose `kind` is a result's.
pub fn find_results(paths: &[PathBuf]) -> Result<Vec<(PathBuf, RunResult)>, MergeError> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut files = Vec::new();
            json_files(path, &mut files)?;
            for file in files {
                if let Some(result) = read(&file, false)? {
                    found.push((file, result));
                }
            }
        } else if let Some(result) = read(path, true)? {
            found.push((path.clone(), result));
        }
    }
    if found.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(MergeError::Mismatch(format!(
            "no result files in {} (a run writes one with --result PATH, and result.json in its --out directory)",
            names.join(", ")
        )));
    }
    Ok(found)
}

fn json_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), MergeError> {
    let entries = std::fs::read_dir(dir).map_err(|source| MergeError::Read { path: dir.to_path_buf(), source })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            json_files(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads a result file; other JSON is skipped, unless `must` (a file named on the command line).
fn read(path: &Path, must: bool) -> Result<Option<RunResult>, MergeError> {
    let text = std::fs::read_to_string(path).map_err(|source| MergeError::Read { path: path.to_path_buf(), source })?;
    let invalid = |problem: String| MergeError::Invalid { path: path.to_path_buf(), problem };
    #[derive(serde::Deserialize)]
    struct Head {
        kind: Option<String>,
        version: Option<u32>,
    }
    let head = serde_json::from_str::<Head>(&text).ok();
    match head {
        Some(Head { kind: Some(kind), version }) if kind == RESULT_KIND => {
            if version != Some(RESULT_VERSION) {
                return Err(invalid(format!(
                    "result format version {}; this sloprober reads version {RESULT_VERSION}",
                    version.map_or("(none)".to_string(), |v| v.to_string())
                )));
            }
            let result = serde_json::from_str::<RunResult>(&text).map_err(|e| invalid(format!("{e}")))?;
            Ok(Some(result))
        }
        _ if must => Err(invalid(format!("not a sloprober result file (its \"kind\" is not \"{RESULT_KIND}\")"))),
        _ => Ok(None),
    }
}

/// Checks that `results` are every shard of one run, made with the config
/// `loaded`; then adds them up and evaluates the thresholds again.
pub fn merge(loaded: &Loaded, env: &EnvVars, results: &[(PathBuf, RunResult)]) -> Result<RunOutcome, MergeError> {
    let (first_path, first) = &results[0];
    let first_name = first_path.display();
    for (path, result) in &results[1..] {
        let (a, b) = (&first.identity, &result.identity);
        let differs = |what: &str, theirs: String, ours: String| {
            MergeError::Mismatch(format!(
                "{} was recorded with {what} {theirs}, {first_name} with {ours}: merge only the shards of one run",
                path.display()
            ))
        };
        if b.config_sha256 != a.config_sha256 {
            return Err(differs("another config:", short(&b.config_sha256), short(&a.config_sha256)));
        }
        if b.profile != a.profile {
            return Err(differs("profile", format!("\"{}\"", b.profile), format!("\"{}\"", a.profile)));
        }
        if b.overrides_sha256 != a.overrides_sha256 {
            return Err(differs(
                "other SLOPROBER__* overrides:",
                short(&b.overrides_sha256),
                short(&a.overrides_sha256),
            ));
        }
        if b.scenarios != a.scenarios {
            let list = |i: &super::RunIdentity| {
                i.scenarios.iter().map(|s| format!("{} ({})", s.name, s.base_url)).collect::<Vec<_>>().join(", ")
            };
            return Err(differs("scenarios", list(b), list(a)));
        }
        if b.shard.count != a.shard.count {
            return Err(differs("shard count", b.shard.count.to_string(), a.shard.count.to_string()));
        }
    }
    check_every_shard_once(results)?;
    if loaded.sha256 != first.identity.config_sha256 {
        return Err(MergeError::Mismatch(format!(
            "{} is not the config the shards ran ({first_name} was recorded with {}, sha256 {}); pass that config",
            loaded.name,
            first.identity.config,
            short(&first.identity.config_sha256)
        )));
    }
    // The plan of the whole load: this process is no shard.
    let env: EnvVars =
        env.iter().filter(|(k, _)| !k.starts_with("SLOPROBER_SHARD_")).map(|(k, v)| (k.clone(), v.clone())).collect();
    if overrides_sha256(&env) != first.identity.overrides_sha256 {
        return Err(MergeError::Mismatch(
            "the SLOPROBER__* overrides in this environment differ from those the shards ran with; set the same ones"
                .to_string(),
        ));
    }
    let selection = Selection {
        profile: Some(first.identity.profile.clone()),
        scenarios: first.identity.scenarios.iter().map(|s| s.name.clone()).collect(),
        ..Default::default()
    };
    let mut plan = plan::load(loaded, &selection, &env)?;
    for (scenario, target) in plan.scenarios.iter_mut().zip(&first.identity.scenarios) {
        scenario.base_url = target.base_url.clone();
    }
    outcome(plan, results)
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// Whether `results` hold every shard of their run exactly once.
pub fn check_complete(results: &[(PathBuf, RunResult)]) -> Result<(), MergeError> {
    check_every_shard_once(results)
}

fn check_every_shard_once(results: &[(PathBuf, RunResult)]) -> Result<(), MergeError> {
    let count = results[0].1.identity.shard.count;
    let mut seen: Vec<Option<&Path>> = vec![None; count as usize];
    for (path, result) in results {
        let index = result.identity.shard.index;
        let slot = seen.get_mut(index as usize).ok_or_else(|| MergeError::Invalid {
            path: path.clone(),
            problem: format!("shard index {index} is not below its shard count {count}"),
        })?;
        if let Some(other) = slot {
            return Err(MergeError::Mismatch(format!(
                "{} and {} are both shard {index} of {count}",
                other.display(),
                path.display()
            )));
        }
        *slot = Some(path);
    }
    let missing: Vec<String> =
        seen.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(i, _)| i.to_string()).collect();
    if !missing.is_empty() {
        return Err(MergeError::Mismatch(format!(
            "shard {} of {count} missing: a verdict over part of the load would be wrong",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// The outcome of the whole load: every shard's statistics added up.
fn outcome(plan: Plan, results: &[(PathBuf, RunResult)]) -> Result<RunOutcome, MergeError> {
    let invalid = |path: &Path, problem: String| MergeError::Invalid { path: path.to_path_buf(), problem };
    let mut requests: Vec<Vec<Option<RequestStats>>> =
        plan.scenarios.iter().map(|s| vec![None; s.requests.len()]).collect();
    let mut spans: Vec<Vec<Option<Latency>>> = plan.scenarios.iter().map(|s| vec![None; s.groups.len() + 1]).collect();
    let mut phases: Vec<Vec<Option<Latency>>> = plan.scenarios.iter().map(|_| vec![None; Phase::COUNT]).collect();
    let mut executors: Vec<ExecutorTotals> =
        plan.scenarios.iter().map(|s| ExecutorTotals { scenario: s.name.clone(), ..Default::default() }).collect();
    let mut timelines: Vec<Vec<crate::report::TimelinePoint>> = vec![Vec::new(); plan.scenarios.len()];
    let scenario_index = |name: &str| plan.scenarios.iter().position(|s| s.name == name);
    for (path, result) in results {
        for r in &result.requests {
            let found = scenario_index(&r.scenario)
                .and_then(|s| plan.scenarios[s].requests.iter().position(|p| p.name == r.request).map(|i| (s, i)));
            let (s, i) = found.ok_or_else(|| {
                invalid(path, format!("request {} of scenario {} is not in the config", r.request, r.scenario))
            })?;
            let stats = r
                .stats
                .stats(plan.scenarios[s].requests[i].checks.len())
                .map_err(|e| invalid(path, format!("request {} of scenario {}: {e}", r.request, r.scenario)))?;
            accumulate(&mut requests[s][i], stats);
        }
        for span in &result.spans {
            let scenario = scenario_index(&span.scenario);
            let index = scenario.and_then(|s| match &span.group {
                None => Some(0),
                Some(g) => plan.scenarios[s].groups.iter().position(|p| p == g).map(|i| i + 1),
            });
            let (Some(s), Some(i)) = (scenario, index) else {
                return Err(invalid(path, format!("the spans of scenario {} do not fit the config", span.scenario)));
            };
            accumulate(&mut spans[s][i], span.durations.latency().map_err(|e| invalid(path, e))?);
        }
        for phase in &result.phases {
            let s = scenario_index(&phase.scenario);
            let p = Phase::ALL.iter().position(|p| p.metric_name() == phase.phase);
            let (Some(s), Some(p)) = (s, p) else {
                return Err(invalid(path, format!("phase {} of scenario {} is unknown", phase.phase, phase.scenario)));
            };
            accumulate(&mut phases[s][p], phase.durations.latency().map_err(|e| invalid(path, e))?);
        }
        for e in &result.executors {
            let s = scenario_index(&e.scenario)
                .ok_or_else(|| invalid(path, format!("scenario {} is not in the config", e.scenario)))?;
            let mine = &mut executors[s];
            mine.iterations += e.iterations;
            mine.dropped += e.dropped;
            mine.vus += e.vus;
            // The shards' peaks need not coincide: this is the most there could have been.
            mine.vus_max += e.vus_max;
        }
        for t in &result.timeline {
            if let Some(s) = scenario_index(&t.scenario) {
                Timeline::add_points(&mut timelines[s], &t.points);
            }
        }
    }
    if results.len() > 1 {
        // A tick one shard alone reached still holds that shard's percentiles: no point of a merge has any.
        for point in timelines.iter_mut().flatten() {
            (point.p50_ms, point.p95_ms, point.p99_ms) = (None, None, None);
            point.request_ms.clear();
        }
    }
    let started_at = results
        .iter()
        .map(|(path, r)| {
            humantime::parse_rfc3339(&r.started_at)
                .map_err(|e| invalid(path, format!("started_at \"{}\": {e}", r.started_at)))
        })
        .collect::<Result<Vec<SystemTime>, _>>()?
        .into_iter()
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let elapsed =
        results.iter().map(|(_, r)| Duration::from_secs_f64(r.duration_seconds.max(0.0))).max().unwrap_or_default();
    let digits = 3;
    let snapshot = Snapshot::capture(
        &plan,
        elapsed,
        executors,
        |s, r| {
            requests[s][r]
                .take()
                .unwrap_or_else(|| RequestStats::new(plan.scenarios[s].requests[r].checks.len(), digits))
        },
        |s, i| spans[s][i].take().unwrap_or_else(|| Latency::new(digits)),
        |s| {
            let kept: Vec<Latency> = phases[s].iter_mut().filter_map(Option::take).collect();
            (kept.len() == Phase::COUNT).then_some(kept)
        },
    );
    let verdicts = plan.thresholds.iter().map(|t| evaluate(t, &snapshot)).collect();
    let aborted_by = results.iter().find_map(|(_, r)| r.aborted_by.clone());
    let timeline = Timeline::of(
        plan.scenarios
            .iter()
            .zip(timelines)
            .map(|(s, points)| crate::report::ScenarioTimeline { scenario: s.name.clone(), points })
            .collect(),
    );
    let run_id = results[0].1.run_id.clone();
    Ok(RunOutcome { plan, started_at, snapshot, verdicts, aborted_by, timeline, shards: results.len() as u32, run_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample::{FailReason, Sample, SampleSink};
    use crate::result::RunIdentity;
    use crate::stats::{Answers, ScenarioStats};
    use rand::{Rng, SeedableRng};

    const CONFIG: &str = r#"
target: {base_url: "http://127.0.0.1:1"}
scenarios:
  s:
    requests: [{name: a, path: /a}, {name: b, path: /b}]
    profiles:
      p: {executor: constant-vus, vus: 6, duration: 1s}
      q: {executor: constant-vus, vus: 3, duration: 1s}
thresholds:
  "http_req_duration{request:a}": ["p(95)<150", "p(99)<320"]
  http_req_failed: ["rate<0.05"]
  http_req_waiting: ["p(90)<75"]
  http_reqs: ["count>1000"]
"#;

    fn source(text: &str) -> Loaded {
        Loaded::new("merge-test.yaml", text)
    }

    fn env(shard: Option<(u32, u32)>) -> EnvVars {
        let mut env = EnvVars::new();
        if let Some((index, count)) = shard {
            env.insert("SLOPROBER_SHARD_COUNT".into(), count.to_string());
            env.insert("SLOPROBER_SHARD_INDEX".into(), index.to_string());
        }
        env
    }

    /// What a process (or a shard) recorded: its plan and its scenario's statistics.
    struct Recorded {
        plan: Plan,
        identity: RunIdentity,
        stats: ScenarioStats,
        iterations: u64,
    }

    impl Recorded {
        fn new(text: &str, profile: &str, shard: Option<(u32, u32)>) -> Recorded {
            let selection = Selection { profile: Some(profile.into()), ..Default::default() };
            let plan = plan::load(&source(text), &selection, &env(shard)).unwrap();
            let identity = RunIdentity::of(&source(text), &env(shard), &plan);
            let stats = ScenarioStats::new(&plan.scenarios[0], 3, true);
            Recorded { plan, identity, stats, iterations: 0 }
        }

        fn record(&mut self, sample: &Sample) {
            self.stats.record(sample);
            self.iterations += 1;
        }

        fn outcome(self) -> (RunOutcome, RunResult) {
            let executors = vec![ExecutorTotals {
                scenario: "s".into(),
                iterations: self.iterations,
                vus: 2,
                vus_max: 2,
                ..Default::default()
            }];
            let stats = &self.stats;
            let snapshot = Snapshot::capture(
                &self.plan,
                Duration::from_secs(1),
                executors,
                |_, r| stats.lock(r).clone(),
                |_, i| stats.span(i).clone(),
                |_| stats.phases(),
            );
            let verdicts = self.plan.thresholds.iter().map(|t| evaluate(t, &snapshot)).collect();
            let outcome = RunOutcome {
                plan: self.plan,
                started_at: SystemTime::now(),
                snapshot,
                verdicts,
                aborted_by: None,
                timeline: Timeline::of(vec![]),
                shards: 1,
                run_id: "test-run".into(),
            };
            let result = RunResult::of(&outcome, self.identity);
            (outcome, result)
        }
    }

    /// 30,000 samples; the slow ones mostly land on shard 0, so no shard alone sees the whole's percentiles.
    fn samples() -> Vec<(Sample, usize)> {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(18);
        (0..30_000)
            .map(|_| {
                let slow = rng.random_bool(0.04);
                let micros = if slow { rng.random_range(100_000..400_000) } else { rng.random_range(1_000..100_000) };
                let failure = rng.random_bool(0.03).then_some(FailReason::Status);
                let waiting = Duration::from_micros(micros * 3 / 4);
                let phases = [
                    Duration::ZERO,
                    Duration::ZERO,
                    Duration::ZERO,
                    Duration::from_micros(20),
                    waiting,
                    Duration::from_micros(micros / 4),
                ];
                let sample = Sample {
                    latency: Duration::from_micros(micros),
                    status: Some(if failure.is_some() { 503 } else { 200 }),
                    failure,
                    bytes_sent: 80,
                    bytes_received: 512,
                    phases: Some(phases),
                    ..Sample::new(rng.random_range(0..2))
                };
                let shard = if slow && rng.random_bool(0.9) { 0 } else { rng.random_range(0..3) };
                (sample, shard)
            })
            .collect()
    }

    fn write(dir: &Path, name: &str, result: &RunResult) -> PathBuf {
        result.write(&dir.join(name)).unwrap()
    }

    #[test]
    fn three_shards_merged_give_what_one_process_computes() {
        let mut whole = Recorded::new(CONFIG, "p", None);
        let mut shards: Vec<Recorded> = (0..3).map(|i| Recorded::new(CONFIG, "p", Some((i, 3)))).collect();
        for (sample, shard) in samples() {
            whole.record(&sample);
            shards[shard].record(&sample);
        }
        let (one, one_result) = whole.outcome();
        let dir = tempfile::tempdir().unwrap();
        let mut shard_verdicts = Vec::new();
        for (i, shard) in shards.into_iter().enumerate() {
            let (outcome, mut result) = shard.outcome();
            // Shards that ticked different numbers of seconds, each point with its own percentiles.
            let point = crate::report::TimelinePoint {
                requests: 10,
                p95_ms: Some(5.0),
                request_ms: [("a".to_string(), [1.0, 5.0, 9.0])].into(),
                ..Default::default()
            };
            result.timeline =
                vec![crate::report::ScenarioTimeline { scenario: "s".into(), points: vec![point; i + 1] }];
            shard_verdicts.push(outcome.verdicts.iter().map(|v| v.passed).collect::<Vec<_>>());
            write(&dir.path().join(format!("shard-{i}")), &format!("r{i}.json"), &result);
        }
        let found = find_results(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(found.len(), 3);
        let merged = merge(&source(CONFIG), &env(None), &found).unwrap();

        let passed = |o: &RunOutcome| o.verdicts.iter().map(|v| v.passed).collect::<Vec<_>>();
        let observed = |o: &RunOutcome| o.verdicts.iter().map(|v| v.observed).collect::<Vec<_>>();
        assert_eq!(passed(&merged), passed(&one));
        assert_eq!(observed(&merged), observed(&one), "the same figures, exactly");
        assert_eq!(passed(&one), [true, true, true, true, true], "{:?}", observed(&one));
        assert!(
            shard_verdicts.iter().any(|v| v != &passed(&one)),
            "a shard alone judges otherwise: {shard_verdicts:?}"
        );
        for (m, o) in merged.snapshot.requests.iter().zip(&one.snapshot.requests) {
            assert_eq!(m.stats.count, o.stats.count);
            assert_eq!(m.stats.failed, o.stats.failed);
            assert_eq!(m.stats.statuses, o.stats.statuses);
            for p in [50.0, 90.0, 95.0, 99.0, 99.9, 100.0] {
                assert_eq!(
                    m.stats.latency(Answers::All).percentile_ms(p),
                    o.stats.latency(Answers::All).percentile_ms(p)
                );
            }
        }
        for (m, o) in merged.snapshot.phases.iter().zip(&one.snapshot.phases) {
            assert_eq!(m.durations.histogram, o.durations.histogram, "{:?}", m.phase);
        }
        assert_eq!(merged.snapshot.executors[0].iterations, 30_000);
        let points = &merged.timeline.scenarios[0].points;
        assert_eq!(points.iter().map(|p| p.requests).collect::<Vec<_>>(), [30, 20, 10], "seconds add up tick by tick");
        assert!(
            points.iter().all(|p| p.p95_ms.is_none() && p.request_ms.is_empty()),
            "no shard's percentile poses as the run's"
        );
        assert_eq!(merged.shards, 3);

        // One process's own result file, merged alone, gives its verdict too.
        let alone = tempfile::tempdir().unwrap();
        let file = write(alone.path(), "whole.json", &one_result);
        let again = merge(&source(CONFIG), &env(None), &find_results(&[file]).unwrap()).unwrap();
        assert_eq!(observed(&again), observed(&one));
    }

    fn message(result: Result<RunOutcome, MergeError>) -> String {
        result.err().expect("the merge is refused").to_string()
    }

    #[test]
    fn results_of_different_runs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let shard = |text: &str, profile: &str, index: u32, count: u32| {
            let (_, result) = Recorded::new(text, profile, Some((index, count))).outcome();
            write(dir.path(), &format!("{profile}-{index}-{count}-{}.json", text == CONFIG), &result)
        };
        let read = |paths: &[PathBuf]| {
            paths
                .iter()
                .map(|p| (p.clone(), serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()))
                .collect::<Vec<_>>()
        };
        let (a, b) = (shard(CONFIG, "p", 0, 2), shard(CONFIG, "p", 1, 2));
        assert!(merge(&source(CONFIG), &env(None), &read(&[a.clone(), b.clone()])).is_ok());

        let other_config = CONFIG.replace("p(95)<150", "p(95)<151");
        let c = shard(&other_config, "p", 1, 2);
        assert!(message(merge(&source(CONFIG), &env(None), &read(&[a.clone(), c])))
            .contains("was recorded with another config"));
        let d = shard(CONFIG, "q", 1, 2);
        assert!(message(merge(&source(CONFIG), &env(None), &read(&[a.clone(), d]))).contains("with profile \"q\""));
        assert!(message(merge(&source(CONFIG), &env(None), &read(std::slice::from_ref(&a))))
            .contains("shard 1 of 2 missing"));
        assert!(message(merge(&source(CONFIG), &env(None), &read(&[a.clone(), a.clone()])))
            .contains("are both shard 0 of 2"));
        let e = shard(CONFIG, "p", 1, 3);
        assert!(message(merge(&source(CONFIG), &env(None), &read(&[a.clone(), e]))).contains("with shard count 3"));
        let wrong = message(merge(&source(&other_config), &env(None), &read(&[a, b])));
        assert!(wrong.contains("is not the config the shards ran"), "{wrong}");

        let not_result = dir.path().join("summary.json");
        std::fs::write(&not_result, "{\"kind\": \"sloprober.summary\"}").unwrap();
        assert!(find_results(&[not_result]).unwrap_err().to_string().contains("not a sloprober result file"));
        let empty = tempfile::tempdir().unwrap();
        assert!(find_results(&[empty.path().to_path_buf()]).unwrap_err().to_string().contains("no result files"));
    }
}
