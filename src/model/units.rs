//! The units thresholds are written in and Prometheus exports, and the one
//! rounding every number shown or rendered goes through.

/// The unit a threshold's numbers are written in, and the base unit Prometheus exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Written in milliseconds (as in k6), exported in seconds.
    Milliseconds,
    Bytes,
    /// Counts, ratios and plain values.
    None,
}

impl Unit {
    /// A value written in this unit (`300` ms), in base units (`0.3` s).
    /// Milliseconds go through whole nanoseconds, far finer than any latency
    /// measured, so 50.943 ms is exported as 0.050943 and not as
    /// 0.050942999999999995.
    pub fn to_base(self, written: f64) -> f64 {
        match self {
            Unit::Milliseconds => (written * 1e6).round() / 1e9,
            _ => written,
        }
    }

    /// A value in base units, in the unit thresholds are written in.
    pub fn to_written(self, base: f64) -> f64 {
        match self {
            Unit::Milliseconds => base * 1000.0,
            _ => base,
        }
    }

    /// How reports name the written unit.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Milliseconds => "ms",
            Unit::Bytes => "B",
            Unit::None => "",
        }
    }
}

/// Rounds `value` to `digits` decimals. [`NOISE_FREE`] digits drop float
/// noise (0.30000000000000004 becomes 0.3) and keep everything measured;
/// fewer are for display.
pub fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// Decimals that keep every measured value and drop float noise.
pub const NOISE_FREE: i32 = 9;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_become_seconds_without_float_noise() {
        for (ms, text) in [(50.943, "0.050943"), (0.1, "0.0001"), (1234.5678, "1.2345678"), (300.0, "0.3")] {
            assert_eq!(Unit::Milliseconds.to_base(ms).to_string(), text, "{ms} ms");
        }
    }

    #[test]
    fn rounding_drops_float_noise_or_rounds_for_display() {
        assert_eq!(round(0.1 + 0.2, NOISE_FREE).to_string(), "0.3");
        assert_eq!(round(2.0 / 3.0, 3), 0.667);
        assert_eq!(round(-0.0004, 3).to_string(), "-0");
    }
}
