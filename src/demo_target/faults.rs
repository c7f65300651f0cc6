//! Latency and error injection per endpoint, changeable at run time.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The demo's endpoints, by the names faults and stats use.
pub const ENDPOINTS: &[&str] = &[
    "health",
    "generate",
    "embeddings",
    "create",
    "answer",
    "grade",
    "delete_assessment",
    "suggest",
    "search",
    "index",
    "upload",
    "delete_document",
    "login",
    "me",
];

/// How one endpoint misbehaves. Latency is `delay_ms` plus a uniform `0..jitter_ms`,
/// plus `slow_ms` for a `slow_rate` share of requests. Shares are spread evenly
/// over the endpoint's requests (a low-discrepancy sequence, not dice), so any
/// run of N requests holds the share to within a few requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub delay_ms: f64,
    pub jitter_ms: f64,
    /// Fraction of requests answered with `error_status`.
    pub error_rate: f64,
    pub error_status: u16,
    /// Fraction of requests whose connection is dropped without an answer.
    pub reset_rate: f64,
    /// Fraction of requests answered 200 with a body that is not JSON.
    pub garbage_rate: f64,
    /// Fraction of requests answered with the usual status but a body that
    /// breaks the endpoint's contract (a wrong echo, a missing field, ...).
    #[serde(default)]
    pub contract_rate: f64,
    /// Fraction of requests delayed by a further `slow_ms`.
    pub slow_rate: f64,
    pub slow_ms: f64,
}

impl Fault {
    fn healthy(delay_ms: f64, jitter_ms: f64) -> Fault {
        Fault {
            delay_ms,
            jitter_ms,
            error_rate: 0.0,
            error_status: 500,
            reset_rate: 0.0,
            garbage_rate: 0.0,
            contract_rate: 0.0,
            slow_rate: 0.0,
            slow_ms: 0.0,
        }
    }

    /// The latency of the endpoint's request number `n`.
    pub fn latency(&self, rng: &mut impl Rng, n: u64) -> Duration {
        let jitter = if self.jitter_ms > 0.0 { rng.random_range(0.0..self.jitter_ms) } else { 0.0 };
        let slow = if spread(n, SLOW_STEP) < self.slow_rate { self.slow_ms } else { 0.0 };
        Duration::from_secs_f64((self.delay_ms + jitter + slow).max(0.0) / 1000.0)
    }

    /// Where request number `n` falls in [0, 1) for the failure shares.
    pub fn roll(n: u64) -> f64 {
        spread(n, FAILURE_STEP)
    }
}

/// Steps of two Weyl sequences (golden ratio and silver ratio conjugates):
/// evenly spread in [0, 1) and unrelated to each other.
const FAILURE_STEP: f64 = 0.618_033_988_749_894_9;
const SLOW_STEP: f64 = 0.414_213_562_373_095_1;

fn spread(n: u64, step: f64) -> f64 {
    (n as f64 * step).fract()
}

/// A partial update: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPatch {
    pub delay_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub error_rate: Option<f64>,
    pub error_status: Option<u16>,
    pub reset_rate: Option<f64>,
    pub garbage_rate: Option<f64>,
    pub contract_rate: Option<f64>,
    pub slow_rate: Option<f64>,
    pub slow_ms: Option<f64>,
}

impl FaultPatch {
    fn apply(&self, fault: &mut Fault) {
        let set = |target: &mut f64, value: Option<f64>| {
            if let Some(v) = value {
                *target = v;
            }
        };
        set(&mut fault.delay_ms, self.delay_ms);
        set(&mut fault.jitter_ms, self.jitter_ms);
        set(&mut fault.error_rate, self.error_rate);
        set(&mut fault.reset_rate, self.reset_rate);
        set(&mut fault.garbage_rate, self.garbage_rate);
        set(&mut fault.contract_rate, self.contract_rate);
        set(&mut fault.slow_rate, self.slow_rate);
        set(&mut fault.slow_ms, self.slow_ms);
        if let Some(status) = self.error_status {
            fault.error_status = status;
        }
    }

    fn validate(&self, endpoint: &str) -> Result<(), String> {
        let ratio = |name: &str, v: Option<f64>| match v {
            Some(v) if !(0.0..=1.0).contains(&v) => Err(format!("{endpoint}.{name}: must be between 0 and 1, got {v}")),
            _ => Ok(()),
        };
        ratio("error_rate", self.error_rate)?;
        ratio("reset_rate", self.reset_rate)?;
        ratio("garbage_rate", self.garbage_rate)?;
        ratio("contract_rate", self.contract_rate)?;
        ratio("slow_rate", self.slow_rate)?;
        for (name, v) in [("delay_ms", self.delay_ms), ("jitter_ms", self.jitter_ms), ("slow_ms", self.slow_ms)] {
            if v.is_some_and(|v| !(0.0..=600_000.0).contains(&v)) {
                return Err(format!("{endpoint}.{name}: must be between 0 and 600000"));
            }
        }
        if self.error_status.is_some_and(|s| !(100..=599).contains(&s)) {
            return Err(format!("{endpoint}.error_status: must be an HTTP status (100-599)"));
        }
        Ok(())
    }
}

/// Faults for every endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Faults(pub BTreeMap<String, Fault>);

impl Default for Faults {
    /// Healthy latencies, comfortably inside the AIVO SLOs.
    fn default() -> Faults {
        let table = [
            ("health", 0.0, 1.0),
            ("generate", 20.0, 20.0),
            ("embeddings", 10.0, 10.0),
            ("create", 8.0, 8.0),
            ("answer", 4.0, 6.0),
            ("grade", 15.0, 15.0),
            ("suggest", 2.0, 4.0),
            ("search", 10.0, 10.0),
            ("index", 25.0, 25.0),
            ("upload", 30.0, 30.0),
            ("delete_assessment", 3.0, 2.0),
            ("delete_document", 3.0, 2.0),
            ("login", 5.0, 5.0),
            ("me", 1.0, 2.0),
        ];
        Faults(table.iter().map(|(name, delay, jitter)| (name.to_string(), Fault::healthy(*delay, *jitter))).collect())
    }
}

impl Faults {
    /// Applies `{"generate": {"delay_ms": 200}, "*": {...}}`; `*` means every endpoint.
    /// Nothing changes unless the whole patch is valid.
    pub fn apply(&mut self, patch: &BTreeMap<String, FaultPatch>) -> Result<(), String> {
        for (endpoint, p) in patch {
            if endpoint != "*" && !self.0.contains_key(endpoint) {
                return Err(format!("unknown endpoint \"{endpoint}\"; expected * or one of {}", ENDPOINTS.join(", ")));
            }
            p.validate(endpoint)?;
        }
        for (endpoint, p) in patch {
            for (name, fault) in self.0.iter_mut() {
                if endpoint == "*" || endpoint == name {
                    p.apply(fault);
                }
            }
        }
        Ok(())
    }

    pub fn get(&self, endpoint: &str) -> Fault {
        self.0.get(endpoint).copied().unwrap_or(Fault::healthy(0.0, 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_changes_only_named_fields() {
        let mut faults = Faults::default();
        let patch: BTreeMap<String, FaultPatch> =
            serde_json::from_str(r#"{"generate": {"delay_ms": 200, "error_rate": 0.1}}"#).unwrap();
        faults.apply(&patch).unwrap();
        let g = faults.get("generate");
        assert_eq!((g.delay_ms, g.jitter_ms, g.error_rate), (200.0, 20.0, 0.1));
        assert_eq!(faults.get("search"), Faults::default().get("search"));
    }

    #[test]
    fn shares_are_spread_evenly_over_any_run_of_requests() {
        let fault = Fault { slow_rate: 0.3, slow_ms: 100.0, ..Fault::healthy(0.0, 0.0) };
        let mut rng = rand::rng();
        for start in [0, 17, 1000] {
            let slow = (start..start + 200).filter(|n| fault.latency(&mut rng, *n) > Duration::ZERO).count();
            let failed = (start..start + 200).filter(|n| Fault::roll(*n) < 0.1).count();
            assert!((58..=62).contains(&slow), "{slow} of 200 slow from {start}");
            assert!((18..=22).contains(&failed), "{failed} of 200 failed from {start}");
        }
    }

    #[test]
    fn invalid_patch_changes_nothing() {
        let mut faults = Faults::default();
        let patch: BTreeMap<String, FaultPatch> =
            serde_json::from_str(r#"{"*": {"delay_ms": 5}, "grade": {"error_rate": 2}}"#).unwrap();
        assert_eq!(faults.apply(&patch).unwrap_err(), "grade.error_rate: must be between 0 and 1, got 2");
        assert_eq!(faults, Faults::default());
    }
}
