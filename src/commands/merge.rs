//! `sloprober merge`: the shards of a distributed run into one verdict.

use super::run::{finish, Outputs};
use super::CommandError;
use crate::config::Loaded;
use crate::model::env::EnvVars;
use crate::result;
use std::path::PathBuf;
use std::time::Duration;

/// Reads the shards' results at `paths`, checks they are one run of
/// `config`, and reports the whole load's verdict as a run would.
/// With `wait`, first waits (at most that long) until every shard's result is there.
pub async fn merge(
    config: &Loaded,
    paths: &[PathBuf],
    wait: Option<Duration>,
    outputs: &Outputs,
    env: &EnvVars,
) -> Result<(), CommandError> {
    let results = match wait {
        None => result::find_results(paths)?,
        Some(limit) => wait_for_shards(paths, limit).await?,
    };
    let outcome = result::merge(config, env, &results)?;
    eprintln!("merged {} shard results", results.len());
    finish(&outcome, None, outputs, env)
}

/// How often `--wait` looks for results again.
const POLL: Duration = Duration::from_secs(2);

/// The results at `paths` once every shard of the run has written its own,
/// or the last problem (a missing shard, no result yet) after `limit`.
async fn wait_for_shards(
    paths: &[PathBuf],
    limit: Duration,
) -> Result<Vec<(PathBuf, result::RunResult)>, CommandError> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut reported = String::new();
    loop {
        let problem = match result::find_results(paths) {
            Ok(results) => match result::check_complete(&results) {
                Ok(()) => return Ok(results),
                Err(e) => e,
            },
            // Nothing yet, or a shard's volume not there yet.
            Err(e @ result::MergeError::Mismatch(_)) => e,
            Err(e @ result::MergeError::Read { .. }) if e.is_not_found() => e,
            Err(e) => return Err(e.into()),
        };
        if tokio::time::Instant::now() + POLL > deadline {
            return Err(problem.into());
        }
        let text = problem.to_string();
        if text != reported {
            eprintln!("waiting for shard results: {text}");
            reported = text;
        }
        tokio::time::sleep(POLL).await;
    }
}
