//! Collecting every config problem, each with its path, before reporting.

use std::fmt;

/// One thing wrong with a config, at a path such as `scenarios.search.profiles.smoke.executor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// An accumulator that validation steps add to instead of returning early.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn add(&mut self, path: impl Into<String>, message: impl ToString) {
        self.0.push(Problem { path: path.into(), message: message.to_string() });
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }

    /// Ok(value) when nothing was added, else every problem found.
    pub fn finish<T>(self, source: &str, value: T) -> Result<T, ConfigError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.into_error(source))
        }
    }

    pub fn into_error(self, source: &str) -> ConfigError {
        ConfigError::Invalid { config: source.to_string(), problems: self.0 }
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{}", invalid_message(.config, .problems))]
    Invalid { config: String, problems: Vec<Problem> },
}

fn invalid_message(source: &str, problems: &[Problem]) -> String {
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    let mut out = format!("config {source} has {count} {noun}:");
    for problem in problems {
        out.push_str("\n  ");
        out.push_str(&problem.to_string());
    }
    out
}
