//! k6-style durations (`500ms`, `30s`, `2m`, `1h30m`) for serde fields.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Parses a k6-style duration; the error says what a valid one looks like.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(trimmed).map_err(|_| {
        format!("invalid duration \"{text}\"; expected a number with a unit, like 500ms, 30s, 2m or 1h30m")
    })
}

/// Formats a duration the way a user would write it (`1h30m`, `250ms`).
pub fn format(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".to_string();
    }
    humantime::format_duration(duration).to_string().replace(' ', "")
}

/// A duration as written: text, or a bare number that lacks its unit.
#[derive(Deserialize)]
#[serde(untagged, expecting = "a duration like 500ms, 30s, 2m or 1h30m")]
enum Written {
    Text(String),
    Number(f64),
}

impl Written {
    fn parse(self) -> Result<Duration, String> {
        match self {
            Written::Text(text) => parse(&text),
            Written::Number(0.0) => Ok(Duration::ZERO),
            Written::Number(n) => Err(format!("invalid duration {n}: add a unit, like {n}s or {n}ms")),
        }
    }
}

/// serde `deserialize_with` for a required duration.
pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    Written::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
}

/// serde `deserialize_with` for an optional duration.
pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    match Option::<Written>::deserialize(deserializer)? {
        None => Ok(None),
        Some(written) => written.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_k6_durations() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_numbers_without_unit() {
        assert!(parse("30").unwrap_err().contains("expected a number with a unit"));
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format(Duration::from_millis(250)), "250ms");
    }
}
