//! Prometheus remote write 1.0: the `WriteRequest` protobuf message (only
//! the fields a sender fills), and the registry's families laid out as its
//! time series, exactly the series /metrics exposes.

use prometheus::proto::{LabelPair, MetricFamily, MetricType};

/// `prometheus.WriteRequest` (prompb/remote.proto).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries` (prompb/types.proto): labels sorted by name, `__name__` first among them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The series of `families` at `timestamp_ms`, each with `extra` labels
/// added (histograms as `_bucket` with `le`, `_sum` and `_count`).
pub fn write_request(families: &[MetricFamily], extra: &[(String, String)], timestamp_ms: i64) -> WriteRequest {
    let mut timeseries = Vec::new();
    let mut push = |name: String, labels: &[LabelPair], le: Option<String>, value: f64| {
        let mut all: Vec<Label> = Vec::with_capacity(labels.len() + extra.len() + 2);
        all.push(Label { name: "__name__".into(), value: name });
        all.extend(labels.iter().map(|l| Label { name: l.name().into(), value: l.value().into() }));
        all.extend(extra.iter().map(|(n, v)| Label { name: n.clone(), value: v.clone() }));
        if let Some(le) = le {
            all.push(Label { name: "le".into(), value: le });
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        timeseries.push(TimeSeries { labels: all, samples: vec![Sample { value, timestamp: timestamp_ms }] });
    };
    for family in families {
        let name = family.name();
        for metric in family.get_metric() {
            let labels = metric.get_label();
            match family.get_field_type() {
                MetricType::COUNTER => push(name.to_string(), labels, None, metric.get_counter().get_value()),
                MetricType::GAUGE => push(name.to_string(), labels, None, metric.get_gauge().get_value()),
                MetricType::HISTOGRAM => {
                    let histogram = metric.get_histogram();
                    let count = histogram.get_sample_count() as f64;
                    let mut saw_infinity = false;
                    for bucket in histogram.get_bucket() {
                        let bound = bucket.upper_bound();
                        saw_infinity |= bound == f64::INFINITY;
                        let le = crate::metrics::format_float(bound);
                        push(format!("{name}_bucket"), labels, Some(le), bucket.cumulative_count() as f64);
                    }
                    if !saw_infinity {
                        push(format!("{name}_bucket"), labels, Some("+Inf".into()), count);
                    }
                    push(format!("{name}_sum"), labels, None, histogram.get_sample_sum());
                    push(format!("{name}_count"), labels, None, count);
                }
                // The registry holds only counters, gauges and histograms.
                MetricType::SUMMARY | MetricType::UNTYPED => {}
            }
        }
    }
    WriteRequest { timeseries }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn series_match_the_text_exposition() {
        let registry = prometheus::Registry::new();
        let histogram = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new("lat_seconds", "h").buckets(vec![0.1, 0.5]),
            &["scenario"],
        )
        .unwrap();
        registry.register(Box::new(histogram.clone())).unwrap();
        let counter = prometheus::IntCounterVec::new(prometheus::Opts::new("reqs_total", "c"), &["scenario"]).unwrap();
        registry.register(Box::new(counter.clone())).unwrap();
        histogram.with_label_values(&["s"]).observe(0.2);
        histogram.with_label_values(&["s"]).observe(0.05);
        counter.with_label_values(&["s"]).inc_by(7);
        let request = write_request(&registry.gather(), &[("testid".into(), "t1".into())], 1_700_000_000_000);
        let shown: Vec<String> = request
            .timeseries
            .iter()
            .map(|t| {
                let labels: Vec<String> = t.labels.iter().map(|l| format!("{}={}", l.name, l.value)).collect();
                format!("{} {}", labels.join(","), t.samples[0].value)
            })
            .collect();
        assert_eq!(
            shown,
            [
                "__name__=lat_seconds_bucket,le=0.1,scenario=s,testid=t1 1",
                "__name__=lat_seconds_bucket,le=0.5,scenario=s,testid=t1 2",
                "__name__=lat_seconds_bucket,le=+Inf,scenario=s,testid=t1 2",
                "__name__=lat_seconds_sum,scenario=s,testid=t1 0.25",
                "__name__=lat_seconds_count,scenario=s,testid=t1 2",
                "__name__=reqs_total,scenario=s,testid=t1 7",
            ]
        );
        let bytes = request.encode_to_vec();
        assert_eq!(WriteRequest::decode(bytes.as_slice()).unwrap(), request);
    }
}
