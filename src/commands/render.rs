//! `sloprober render`: rules, rule tests and dashboards from a config, or
//! (with `--check`) whether the committed ones are up to date.

use super::CommandError;
use crate::config::ConfigSource;
use crate::model::env::EnvVars;
use crate::model::problems::ConfigError;
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
    let text = std::fs::read_to_string(options.config)
        .map_err(|e| ConfigError::Read { path: options.config.display().to_string(), reason: e.to_string() })?;
    let env = with_markers_for_secrets(env, &text);
    let source = ConfigSource::Text { name: options.config.display().to_string(), text: text.clone() };
    let plan = crate::plan::resolve(&source, options.profile, &env)?;
    if options.check {
        let drift = crate::render::drift(&plan, &text, options.out);
        if !drift.is_empty() {
            return Err(CommandError::Drift(drift));
        }
        println!("rendered files are up to date");
        return Ok(());
    }
    for path in crate::render::write(&plan, &text, options.out)? {
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
