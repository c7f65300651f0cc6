//! Prometheus metrics: the app's registry, built-in and custom families, and
//! the per-scenario handles that samples are recorded into.

mod executor;
mod families;
mod scenario;
mod text;

pub use families::{Families, MetricsError};
pub use scenario::ScenarioMetrics;
pub(crate) use text::float as format_float;

use crate::executor::ExecutorCounters;
use crate::model::families::{self as exported, Family};
use crate::plan::{Plan, PlannedThreshold};
use crate::slo::Verdict;
use prometheus::{Gauge, GaugeVec, IntGauge, Registry};
use std::sync::Arc;

/// The daemon's metrics, created once and kept across config reloads.
pub struct ProberMetrics {
    families: Families,
    executors: executor::ExecutorExport,
    reload_successful: IntGauge,
    reload_success_time: Gauge,
    slo_objective: GaugeVec,
    slo_threshold: GaugeVec,
    slo_compliant: GaugeVec,
    slo_observed: GaugeVec,
    slo_sli: GaugeVec,
}

impl ProberMetrics {
    /// A fresh set of metrics in a registry of its own, shared by a process's loads and its /metrics.
    pub fn shared() -> Result<Arc<ProberMetrics>, MetricsError> {
        ProberMetrics::new(Registry::new()).map(Arc::new)
    }

    pub fn new(registry: Registry) -> Result<ProberMetrics, MetricsError> {
        let families = Families::new(registry);
        let gauge = |f: Family| families.gauge(f.name, f.help, f.labels);
        let int_gauge = |f: Family| families.int_gauge(f.name, f.help, f.labels);
        int_gauge(exported::BUILD_INFO)?.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let reload_successful = int_gauge(exported::CONFIG_RELOAD_SUCCESSFUL)?.with_label_values(&[] as &[&str]);
        let reload_success_time = gauge(exported::CONFIG_RELOAD_SUCCESS_TIME)?.with_label_values(&[] as &[&str]);
        Ok(ProberMetrics {
            slo_objective: gauge(exported::SLO_OBJECTIVE)?,
            slo_threshold: gauge(exported::SLO_THRESHOLD)?,
            slo_compliant: gauge(exported::SLO_COMPLIANT)?,
            slo_observed: gauge(exported::SLO_OBSERVED)?,
            slo_sli: gauge(exported::SLO_SLI)?,
            executors: executor::ExecutorExport::new(&families)?,
            families,
            reload_successful,
            reload_success_time,
        })
    }

    /// Resolves the handles of every scenario of `plan` (same order), exports
    /// the scenarios' executor counters (same order) and publishes the plan's SLOs.
    pub fn for_plan(
        &self,
        plan: &Plan,
        executors: &[Arc<ExecutorCounters>],
    ) -> Result<Vec<Arc<ScenarioMetrics>>, MetricsError> {
        let scenarios = plan
            .scenarios
            .iter()
            .map(|s| ScenarioMetrics::resolve(&self.families, s, &plan.buckets).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        for (scenario, counters) in plan.scenarios.iter().zip(executors) {
            self.executors.watch(&scenario.name, counters.clone());
        }
        for family in [&self.slo_objective, &self.slo_threshold, &self.slo_compliant, &self.slo_observed, &self.slo_sli]
        {
            family.reset();
        }
        for t in &plan.thresholds {
            if let Some(objective) = t.objective {
                self.slo_objective.with_label_values(&[&t.slo]).set(objective.ratio);
                if let Some(seconds) = objective.latency_seconds() {
                    self.slo_threshold.with_label_values(&[&t.slo]).set(seconds);
                }
            }
        }
        Ok(scenarios)
    }

    /// Publishes a live verdict, in base units. Without data the observed
    /// value and SLI are removed, so "no data" shows as no series, never as
    /// a stale or perfect value.
    pub fn publish_verdict(&self, threshold: &PlannedThreshold, verdict: &Verdict) {
        let slo = [threshold.slo.as_str()];
        self.slo_compliant.with_label_values(&slo).set(if verdict.passed { 1.0 } else { 0.0 });
        match verdict.observed {
            Some(observed) => self.slo_observed.with_label_values(&slo).set(observed),
            None => {
                let _ = self.slo_observed.remove_label_values(&slo);
            }
        }
        match verdict.good_ratio {
            Some(good) => self.slo_sli.with_label_values(&slo).set(good),
            None => {
                let _ = self.slo_sli.remove_label_values(&slo);
            }
        }
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
        self.executors.sync();
        text::encode(&self.families.registry().gather())
    }

    /// Every family as it is now, as /metrics would show it.
    pub fn gather(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.executors.sync();
        self.families.registry().gather()
    }

    /// The registry behind [`render`](Self::render).
    pub fn registry(&self) -> &prometheus::Registry {
        self.families.registry()
    }
}
