//! `sloprober check`: validates a config and prints the resolved plan.

use super::CommandError;
use crate::config::Loaded;
use crate::model::env::EnvVars;
use crate::plan::{self, Selection};

pub fn check(loaded: &Loaded, profile: Option<String>, env: &EnvVars) -> Result<(), CommandError> {
    let plan = plan::load(loaded, &Selection { profile, ..Default::default() }, env)?;
    // The environment settings a run or the daemon would read are checked too.
    crate::executor::VuThreads::count_from(env)?;
    println!("{plan}");
    println!("\nOK: {} scenario(s), {} threshold(s), every profile valid", plan.scenarios.len(), plan.thresholds.len());
    Ok(())
}
