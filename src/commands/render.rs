//! `sloprober render`: rules, rule tests and dashboards from a config, or
//! (with `--check`) whether the committed ones are up to date.

use super::CommandError;
use crate::config::ConfigSource;
use crate::model::env::EnvVars;
use std::path::Path;

pub struct RenderOptions<'a> {
    pub config: &'a Path,
    /// None: the config's `daemon.profile`.
    pub profile: Option<&'a str>,
    pub out: &'a Path,
    /// Only report drift; write nothing.
    pub check: bool,
}

pub fn render(options: &RenderOptions<'_>, env: EnvVars) -> Result<(), CommandError> {
    let loaded = ConfigSource::File(options.config.to_path_buf()).load()?;
    let env = with_markers_for_secrets(env, &loaded.text);
    let plan = crate::plan::resolve(&loaded, options.profile, &env)?;
    if options.check {
        let drift = crate::render::drift(&plan, &loaded.text, options.out);
        if !drift.is_empty() {
            return Err(CommandError::Drift { out: options.out.to_path_buf(), files: drift });
        }
        println!("rendered files are up to date");
        return Ok(());
    }
    for path in crate::render::write(&plan, &loaded.text, options.out)? {
        println!("{}", path.display());
    }
    Ok(())
}

/// Rules and dashboards never contain header values or URLs, so `render` must
/// not need secrets: every `${VAR}` the config names and the environment lacks
/// gets a marker value.
fn with_markers_for_secrets(mut env: EnvVars, config_text: &str) -> EnvVars {
    for piece in config_text.split("${").skip(1) {
        let name: String = piece.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        env.entry(name).or_insert_with(|| "unset-at-render".to_string());
    }
    env
}
