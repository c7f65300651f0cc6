//! Executor counters as Prometheus series. Executors own plain atomics; every
//! scrape copies them into the families, summed over the loads that play a
//! scenario (a reload overlaps the old load's drain with the new one).

use super::families::{Families, MetricsError};
use crate::executor::ExecutorCounters;
use crate::model::families::{self as exported, Family};
use prometheus::{IntCounter, IntGauge};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub struct ExecutorExport {
    vus: prometheus::IntGaugeVec,
    vus_max: prometheus::IntGaugeVec,
    iterations: prometheus::IntCounterVec,
    dropped: prometheus::IntCounterVec,
    scenarios: Mutex<BTreeMap<String, Exported>>,
}

/// One scenario's series and the counters feeding them.
struct Exported {
    vus: IntGauge,
    vus_max: IntGauge,
    iterations: IntCounter,
    dropped: IntCounter,
    /// Counters of the loads playing (or that played) this scenario.
    loads: Vec<Arc<ExecutorCounters>>,
    /// (iterations, dropped) of loads that have ended and were let go.
    settled: (u64, u64),
}

impl ExecutorExport {
    pub fn new(families: &Families) -> Result<ExecutorExport, MetricsError> {
        let gauge = |f: Family| families.int_gauge(f.name, f.help, f.labels);
        let counter = |f: Family| families.int_counter(f.name, f.help, f.labels);
        Ok(ExecutorExport {
            vus: gauge(exported::VUS)?,
            vus_max: gauge(exported::VUS_MAX)?,
            iterations: counter(exported::ITERATIONS)?,
            dropped: counter(exported::DROPPED_ITERATIONS)?,
            scenarios: Mutex::new(BTreeMap::new()),
        })
    }

    /// Exports `counters` as scenario `scenario`'s, from now on; its series exist at once.
    pub fn watch(&self, scenario: &str, counters: Arc<ExecutorCounters>) {
        let mut scenarios = self.scenarios.lock().unwrap_or_else(|p| p.into_inner());
        let exported = scenarios.entry(scenario.to_string()).or_insert_with(|| Exported {
            vus: self.vus.with_label_values(&[scenario]),
            vus_max: self.vus_max.with_label_values(&[scenario]),
            iterations: self.iterations.with_label_values(&[scenario]),
            dropped: self.dropped.with_label_values(&[scenario]),
            loads: Vec::new(),
            settled: (0, 0),
        });
        exported.loads.push(counters);
    }

    /// Brings every series up to its counters, just before a scrape reads them.
    pub fn sync(&self) {
        let mut scenarios = self.scenarios.lock().unwrap_or_else(|p| p.into_inner());
        for exported in scenarios.values_mut() {
            exported.sync();
        }
    }
}

impl Exported {
    fn sync(&mut self) {
        // A load that has ended and that nothing else holds has its final counts: keep only those.
        let (ended, playing): (Vec<_>, Vec<_>) = self.loads.drain(..).partition(|c| Arc::strong_count(c) == 1);
        for counters in ended {
            let values = counters.read();
            self.settled.0 += values.iterations;
            self.settled.1 += values.dropped;
        }
        self.loads = playing;
        let now: Vec<_> = self.loads.iter().map(|c| c.read()).collect();
        let iterations = self.settled.0 + now.iter().map(|v| v.iterations).sum::<u64>();
        let dropped = self.settled.1 + now.iter().map(|v| v.dropped).sum::<u64>();
        self.iterations.inc_by(iterations.saturating_sub(self.iterations.get()));
        self.dropped.inc_by(dropped.saturating_sub(self.dropped.get()));
        self.vus.set(now.iter().map(|v| v.vus).sum());
        if !now.is_empty() {
            self.vus_max.set(now.iter().map(|v| v.vus_max).sum());
        }
    }
}
