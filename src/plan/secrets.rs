//! The values a config sends that must never be shown: what its `${VAR}`
//! references resolve to and its sensitive header values (API keys, tokens,
//! cookies). A failed request's answer often echoes them (an error page that
//! quotes the request), so they are cut out of it before the status page
//! shows it.

use crate::model::env::EnvVars;
use crate::plan::ScenarioPlan;
use std::borrow::Cow;

/// What stands where a secret was.
pub const REDACTED: &str = "<redacted>";
/// Shorter values are not treated as secrets: cutting every `1` or `on` out
/// of an answer would hide it and protect nothing.
const SHORTEST: usize = 4;

/// The secret values of a plan, longest first (so a secret that holds
/// another is cut whole).
#[derive(Clone, Default, PartialEq)]
pub struct Secrets {
    values: Vec<Box<str>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} values, redacted)", self.values.len())
    }
}

impl Secrets {
    /// The values of every `${VAR}` the config text names, and the sensitive
    /// header values of its scenarios (target headers, request headers
    /// written with `${VAR}`), whole and their last word (`Bearer <token>`).
    pub fn of(config_text: &str, env: &EnvVars, scenarios: &[ScenarioPlan]) -> Secrets {
        let mut secrets = Secrets::default();
        for name in referenced_variables(config_text) {
            if let Some(value) = env.get(name) {
                secrets.add(value);
            }
        }
        for scenario in scenarios {
            let request_headers = scenario.requests.iter().flat_map(|r| r.headers.values());
            for value in scenario.headers.values().chain(request_headers).filter(|v| v.is_sensitive()) {
                if let Ok(text) = value.to_str() {
                    secrets.add(text);
                }
            }
        }
        secrets
    }

    /// Adds `value` and, for a value of several words, its last word.
    pub fn add(&mut self, value: &str) {
        let mut add_one = |v: &str| {
            if v.len() >= SHORTEST && !self.values.iter().any(|known| &**known == v) {
                self.values.push(v.into());
            }
        };
        add_one(value);
        if let Some((_, last)) = value.trim().rsplit_once(' ') {
            add_one(last);
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// `text` with every secret, and every one of `more`, replaced by [`REDACTED`].
    pub fn redact<'t>(&self, text: &'t str, more: &[&str]) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        let extra = more.iter().copied().filter(|v| v.len() >= SHORTEST);
        let mut all: Vec<&str> = self.values.iter().map(|v| &**v).chain(extra).collect();
        all.sort_by_key(|v| std::cmp::Reverse(v.len()));
        for secret in all {
            if out.contains(secret) {
                out = Cow::Owned(out.replace(secret, REDACTED));
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The names in every `${NAME}` and `${NAME:-default}` of `text`.
fn referenced_variables(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = &after[..end];
        let name = inner.split_once(":-").map_or(inner, |(name, _)| name);
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.push(name);
        }
        rest = &after[end + 1..];
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_the_config_references_are_cut_out_longest_first() {
        let env: EnvVars = [("API_KEY", "sk-live-123456"), ("REGION", "eu"), ("UNUSED", "never-named")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let text = "headers: {Authorization: \"Bearer ${API_KEY}\"}\nregion: ${REGION:-us}\n";
        let mut secrets = Secrets::of(text, &env, &[]);
        secrets.add("Bearer sk-live-123456");
        let answer = "{\"error\":\"bad key sk-live-123456\",\"auth\":\"Bearer sk-live-123456\",\"region\":\"eu\"}";
        assert_eq!(
            secrets.redact(answer, &[]),
            "{\"error\":\"bad key <redacted>\",\"auth\":\"<redacted>\",\"region\":\"eu\"}",
            "a value shorter than 4 characters (eu) is left"
        );
        assert_eq!(secrets.redact("never-named session-abcdef", &["session-abcdef"]), "never-named <redacted>");
        assert!(!format!("{secrets:?}").contains("sk-live"));
    }
}
