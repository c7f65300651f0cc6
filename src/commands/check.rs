//! `sloprober check`: validates a config and prints the resolved plan.

use super::CommandError;
use crate::config::env::EnvVars;
use crate::config::ConfigSource;
use crate::plan::{self, Selection};

pub fn check(source: &ConfigSource, profile: Option<String>, env: &EnvVars) -> Result<(), CommandError> {
    let plan = plan::load(source, &Selection { profile, scenarios: Vec::new() }, env)?;
    // The environment settings a run or the daemon would read are checked too.
    crate::config::env::vu_thread_count(env)?;
    println!("{plan}");
    println!("\nOK: {} scenario(s), {} threshold(s), every profile valid", plan.scenarios.len(), plan.thresholds.len());
    Ok(())
}
