//! Metric families registered by name in the app's own registry.
//!
//! A config reload asks for the same families again and gets the same ones
//! back, so counters keep counting. A histogram whose buckets change (a new
//! latency threshold) is replaced: Prometheus reads that as a counter reset.

use prometheus::{CounterVec, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("metric {name} is already registered with another type or labels")]
    Conflict { name: String },
    #[error("metric {name}: {source}")]
    Prometheus { name: String, source: prometheus::Error },
}

#[derive(Clone)]
enum Family {
    IntCounter(IntCounterVec),
    Counter(CounterVec),
    IntGauge(IntGaugeVec),
    Gauge(GaugeVec),
    Histogram(HistogramVec, Vec<f64>),
}

impl Family {
    fn collector(&self) -> Box<dyn prometheus::core::Collector> {
        match self {
            Family::IntCounter(f) => Box::new(f.clone()),
            Family::Counter(f) => Box::new(f.clone()),
            Family::IntGauge(f) => Box::new(f.clone()),
            Family::Gauge(f) => Box::new(f.clone()),
            Family::Histogram(f, _) => Box::new(f.clone()),
        }
    }
}

pub struct Families {
    registry: Registry,
    by_name: Mutex<HashMap<String, (Vec<String>, Family)>>,
}

impl Families {
    pub fn new(registry: Registry) -> Families {
        Families { registry, by_name: Mutex::new(HashMap::new()) }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Returns the family called `name`, registering it with `make` the first
    /// time, or again when `reuse` rejects the existing one.
    fn family<T>(
        &self,
        name: &str,
        labels: &[&str],
        make: impl FnOnce() -> prometheus::Result<Family>,
        pick: impl Fn(&Family) -> Option<T>,
        reuse: impl Fn(&Family) -> bool,
    ) -> Result<T, MetricsError> {
        // Registration happens at start-up and reload only; a poisoned lock still holds a valid map.
        let mut map = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        if let Some((existing_labels, existing)) = map.get(name) {
            let picked = pick(existing).filter(|_| *existing_labels == labels);
            match picked {
                Some(found) if reuse(existing) => return Ok(found),
                Some(_) => {
                    let _ = self.registry.unregister(existing.collector());
                }
                None => return Err(MetricsError::Conflict { name: name.to_string() }),
            }
        }
        let wrap = |source| MetricsError::Prometheus { name: name.to_string(), source };
        let family = make().map_err(wrap)?;
        self.registry.register(family.collector()).map_err(wrap)?;
        let picked = pick(&family).ok_or_else(|| MetricsError::Conflict { name: name.to_string() })?;
        map.insert(name.to_string(), (labels, family));
        Ok(picked)
    }

    pub fn int_counter(&self, name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, MetricsError> {
        self.family(
            name,
            labels,
            || IntCounterVec::new(Opts::new(name, help), labels).map(Family::IntCounter),
            |f| match f {
                Family::IntCounter(c) => Some(c.clone()),
                _ => None,
            },
            |_| true,
        )
    }

    pub fn counter(&self, name: &str, help: &str, labels: &[&str]) -> Result<CounterVec, MetricsError> {
        self.family(
            name,
            labels,
            || CounterVec::new(Opts::new(name, help), labels).map(Family::Counter),
            |f| match f {
                Family::Counter(c) => Some(c.clone()),
                _ => None,
            },
            |_| true,
        )
    }

    pub fn int_gauge(&self, name: &str, help: &str, labels: &[&str]) -> Result<IntGaugeVec, MetricsError> {
        self.family(
            name,
            labels,
            || IntGaugeVec::new(Opts::new(name, help), labels).map(Family::IntGauge),
            |f| match f {
                Family::IntGauge(g) => Some(g.clone()),
                _ => None,
            },
            |_| true,
        )
    }

    pub fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> Result<GaugeVec, MetricsError> {
        self.family(
            name,
            labels,
            || GaugeVec::new(Opts::new(name, help), labels).map(Family::Gauge),
            |f| match f {
                Family::Gauge(g) => Some(g.clone()),
                _ => None,
            },
            |_| true,
        )
    }

    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> Result<HistogramVec, MetricsError> {
        self.family(
            name,
            labels,
            || {
                HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels)
                    .map(|h| Family::Histogram(h, buckets.to_vec()))
            },
            |f| match f {
                Family::Histogram(h, _) => Some(h.clone()),
                _ => None,
            },
            |f| matches!(f, Family::Histogram(_, b) if b.as_slice() == buckets),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_family_is_returned_and_keeps_counting() {
        let families = Families::new(Registry::new());
        let a = families.int_counter("x_total", "x", &["scenario"]).unwrap();
        a.with_label_values(&["s"]).inc();
        let b = families.int_counter("x_total", "x", &["scenario"]).unwrap();
        assert_eq!(b.with_label_values(&["s"]).get(), 1);
    }

    #[test]
    fn type_conflict_is_an_error() {
        let families = Families::new(Registry::new());
        families.int_counter("x", "x", &["scenario"]).unwrap();
        assert!(matches!(families.gauge("x", "x", &["scenario"]), Err(MetricsError::Conflict { .. })));
    }

    #[test]
    fn histogram_with_new_buckets_replaces_the_old() {
        let families = Families::new(Registry::new());
        families.histogram("h_seconds", "h", &["s"], &[0.1, 1.0]).unwrap().with_label_values(&["a"]).observe(0.5);
        let h = families.histogram("h_seconds", "h", &["s"], &[0.1, 0.3, 1.0]).unwrap();
        h.with_label_values(&["a"]).observe(0.2);
        let text = prometheus::TextEncoder::new().encode_to_string(&families.registry().gather()).unwrap();
        assert!(text.contains("h_seconds_bucket{s=\"a\",le=\"0.3\"} 1"), "{text}");
        assert!(text.contains("h_seconds_count{s=\"a\"} 1"), "{text}");
    }
}
