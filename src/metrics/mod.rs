//! Prometheus metrics: the app's registry, built-in and custom families, and
//! the per-scenario handles that samples are recorded into.

mod families;
mod scenario;

pub use families::{Families, MetricsError};
pub use scenario::ScenarioMetrics;

use crate::plan::Plan;
use prometheus::{Gauge, GaugeVec, IntGauge, Registry, TextEncoder};
use std::sync::Arc;

/// The daemon's metrics, created once and kept across config reloads.
pub struct ProberMetrics {
    families: Families,
    reload_successful: IntGauge,
    reload_success_time: Gauge,
    slo_objective: GaugeVec,
    slo_threshold: GaugeVec,
}

impl ProberMetrics {
    pub fn new(registry: Registry) -> Result<ProberMetrics, MetricsError> {
        let families = Families::new(registry);
        families
            .int_gauge("sloprober_build_info", "Build information; always 1.", &["version"])?
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let reload_successful = families
            .int_gauge("sloprober_config_last_reload_successful", "Whether the last config (re)load succeeded.", &[])?
            .with_label_values(&[] as &[&str]);
        let reload_success_time = families
            .gauge(
                "sloprober_config_last_reload_success_timestamp_seconds",
                "Time of the last successful config (re)load.",
                &[],
            )?
            .with_label_values(&[] as &[&str]);
        Ok(ProberMetrics {
            slo_objective: families.gauge(
                "sloprober_slo_objective_ratio",
                "SLO objective: the fraction of good events required.",
                &["slo"],
            )?,
            slo_threshold: families.gauge(
                "sloprober_slo_threshold_seconds",
                "Latency threshold of a latency SLO.",
                &["slo"],
            )?,
            families,
            reload_successful,
            reload_success_time,
        })
    }

    /// Resolves the handles of every scenario of `plan` (same order) and publishes its SLOs.
    pub fn for_plan(&self, plan: &Plan) -> Result<Vec<Arc<ScenarioMetrics>>, MetricsError> {
        let scenarios = plan
            .scenarios
            .iter()
            .map(|s| ScenarioMetrics::resolve(&self.families, s, &plan.buckets).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        self.slo_objective.reset();
        self.slo_threshold.reset();
        for t in &plan.thresholds {
            if let Some(objective) = t.objective_ratio() {
                self.slo_objective.with_label_values(&[&t.slo]).set(objective);
            }
            if let Some(seconds) = t.latency_seconds() {
                self.slo_threshold.with_label_values(&[&t.slo]).set(seconds);
            }
        }
        Ok(scenarios)
    }

    pub fn record_reload(&self, successful: bool) {
        self.reload_successful.set(successful as i64);
        if successful {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            self.reload_success_time.set(now.as_secs_f64());
        }
    }

    /// The Prometheus text exposition of everything registered.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.families.registry().gather())
            .unwrap_or_else(|e| format!("# encoding failed: {e}\n"))
    }
}
