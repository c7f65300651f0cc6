//! `sloprober merge`: the shards of a distributed run into one verdict.

use super::run::{finish, Outputs};
use super::CommandError;
use crate::config::env::EnvVars;
use crate::config::ConfigSource;
use crate::result;
use std::path::PathBuf;

/// Reads the shards' results at `paths`, checks they are one run of
/// `config`, and reports the whole load's verdict as a run would.
pub fn merge(config: &ConfigSource, paths: &[PathBuf], outputs: &Outputs, env: &EnvVars) -> Result<(), CommandError> {
    let results = result::find_results(paths)?;
    let outcome = result::merge(config, env, &results)?;
    eprintln!("merged {} shard results", results.len());
    finish(&outcome, None, outputs, env)
}
