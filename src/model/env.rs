//! `${VAR}` and `${VAR:-default}` interpolation of environment variables.
//!
//! Applied to header values, `vars` and `base_url` when the plan is built.
//! The config keeps the template text, so anything printed (the plan, errors)
//! shows `${API_KEY}` and never the secret it resolves to.

use std::collections::HashMap;

/// A snapshot of environment variables; tests pass their own.
pub type EnvVars = HashMap<String, String>;

/// The process environment, as a snapshot.
pub fn process_env() -> EnvVars {
    std::env::vars().collect()
}

/// Replaces each `${NAME}` / `${NAME:-default}` in `template`.
/// An unset variable without a default is an error naming it.
pub fn interpolate(template: &str, env: &EnvVars) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed \"${{\" in \"{template}\""))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid variable name \"{name}\" in \"{template}\""));
        }
        match (env.get(name), default) {
            (Some(value), Some(_)) if value.is_empty() => out.push_str(default.unwrap_or("")),
            (Some(value), _) => out.push_str(value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!(
                    "environment variable {name} is not set (write ${{{name}:-default}} to make it optional)"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn substitutes_and_defaults() {
        let e = env(&[("API_KEY", "k1")]);
        assert_eq!(interpolate("Bearer ${API_KEY}", &e).unwrap(), "Bearer k1");
        assert_eq!(interpolate("${TENANT_ID:-test-tenant}", &e).unwrap(), "test-tenant");
        assert_eq!(interpolate("plain", &e).unwrap(), "plain");
    }

    #[test]
    fn empty_value_takes_the_default() {
        let e = env(&[("TENANT_ID", "")]);
        assert_eq!(interpolate("${TENANT_ID:-t}", &e).unwrap(), "t");
    }

    #[test]
    fn unset_variable_is_named() {
        let err = interpolate("Bearer ${API_KEY}", &env(&[])).unwrap_err();
        assert!(err.starts_with("environment variable API_KEY is not set"), "{err}");
    }
}
