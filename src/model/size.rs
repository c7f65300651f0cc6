//! Byte sizes as written in a config (`64KiB`, `1MiB`, `10MB`, or a bare number of bytes).

use serde::{Deserialize, Deserializer};

/// Parses a size; the error says what a valid one looks like.
pub fn parse(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let unit_bytes: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return Err(invalid(text)),
    };
    let count: u64 = digits.parse().map_err(|_| invalid(text))?;
    count.checked_mul(unit_bytes).and_then(|n| usize::try_from(n).ok()).ok_or_else(|| invalid(text))
}

fn invalid(text: &str) -> String {
    format!("invalid size \"{text}\"; expected a whole number of bytes or one with a unit, like 64KiB, 1MiB or 10MB")
}

/// A size as written: text with a unit, or a number of bytes.
#[derive(Deserialize)]
#[serde(untagged, expecting = "a size like 64KiB, 1MiB or 10MB")]
enum Written {
    Text(String),
    Bytes(u64),
}

/// serde `deserialize_with` for a required size.
pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    match Written::deserialize(deserializer)? {
        Written::Text(text) => parse(&text).map_err(serde::de::Error::custom),
        Written::Bytes(n) => usize::try_from(n).map_err(|_| serde::de::Error::custom(invalid(&n.to_string()))),
    }
}

/// serde `deserialize_with` for an optional size (`#[serde(default)]` gives None).
pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<usize>, D::Error> {
    required(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_and_without_units() {
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("512"), Ok(512));
        assert_eq!(parse("64KiB"), Ok(65_536));
        assert_eq!(parse("1 MiB"), Ok(1_048_576));
        assert_eq!(parse("10MB"), Ok(10_000_000));
        assert_eq!(parse("2GiB"), Ok(2 << 30));
        for bad in ["", "1.5MiB", "ten", "1 TB", "-1", "99999999999999999999GiB"] {
            assert!(parse(bad).unwrap_err().contains("invalid size"), "{bad}");
        }
    }
}
