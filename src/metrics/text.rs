//! The Prometheus text format (0.0.4), written straight into one buffer.
//! The prometheus crate's encoder allocates a string for every value and
//! every bucket bound; with thousands of bucket lines per scrape that was
//! most of a render. Output is line for line what that encoder writes.

use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};
use std::fmt::Write;

/// Renders `families` as the text exposition format.
pub fn encode(families: &[MetricFamily]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    for family in families {
        let name = family.name();
        if !family.help().is_empty() {
            out.push_str("# HELP ");
            out.push_str(name);
            out.push(' ');
            push_escaped(&mut out, family.help(), false);
            out.push('\n');
        }
        out.push_str("# TYPE ");
        out.push_str(name);
        out.push_str(match family.get_field_type() {
            MetricType::COUNTER => " counter\n",
            MetricType::GAUGE => " gauge\n",
            MetricType::HISTOGRAM => " histogram\n",
            MetricType::SUMMARY => " summary\n",
            MetricType::UNTYPED => " untyped\n",
        });
        let metrics = family.get_metric();
        match family.get_field_type() {
            MetricType::HISTOGRAM => encode_histograms(&mut out, name, metrics),
            MetricType::COUNTER => metrics
                .iter()
                .for_each(|m| sample(&mut out, name, "", m.get_label(), None, m.get_counter().get_value())),
            MetricType::GAUGE => {
                metrics.iter().for_each(|m| sample(&mut out, name, "", m.get_label(), None, m.get_gauge().get_value()))
            }
            // The registry holds only counters, gauges and histograms (see families.rs).
            MetricType::SUMMARY | MetricType::UNTYPED => {}
        }
    }
    out
}

fn encode_histograms(out: &mut String, name: &str, metrics: &[Metric]) {
    // Every series of a family has the same bounds: format them once.
    let mut bounds: Vec<(f64, String)> = Vec::new();
    for metric in metrics {
        let histogram = metric.get_histogram();
        let mut saw_infinity = false;
        for (i, bucket) in histogram.get_bucket().iter().enumerate() {
            let bound = bucket.upper_bound();
            if bounds.get(i).is_none_or(|(b, _)| *b != bound) {
                bounds.truncate(i);
                bounds.push((bound, float(bound)));
            }
            saw_infinity |= bound == f64::INFINITY;
            sample(out, name, "_bucket", metric.get_label(), Some(&bounds[i].1), bucket.cumulative_count() as f64);
        }
        let count = histogram.get_sample_count() as f64;
        if !saw_infinity {
            sample(out, name, "_bucket", metric.get_label(), Some("+Inf"), count);
        }
        sample(out, name, "_sum", metric.get_label(), None, histogram.get_sample_sum());
        sample(out, name, "_count", metric.get_label(), None, count);
    }
}

/// One line: `name{labels,le="bound"} value`.
fn sample(out: &mut String, name: &str, suffix: &str, labels: &[LabelPair], le: Option<&str>, value: f64) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        for label in labels {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(label.name());
            out.push_str("=\"");
            push_escaped(out, label.value(), true);
            out.push('"');
        }
        if let Some(le) = le {
            if !first {
                out.push(',');
            }
            out.push_str("le=\"");
            out.push_str(le);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    push_float(out, value);
    out.push('\n');
}

fn float(value: f64) -> String {
    let mut text = String::new();
    push_float(&mut text, value);
    text
}

/// As Go's and the prometheus crate's encoders: `+Inf`, `-Inf`, `NaN`, else the shortest decimal.
fn push_float(out: &mut String, value: f64) {
    if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Escapes `\` and newline (and `"` in label values), as the format requires.
fn push_escaped(out: &mut String, text: &str, quote: bool) {
    if !text.contains(['\\', '\n', '"']) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

    #[test]
    fn output_is_what_the_prometheus_crate_writes() {
        let registry = Registry::new();
        let counter =
            IntCounterVec::new(Opts::new("requests_total", "Requests \\ with\nnewline."), &["path", "status"]).unwrap();
        let histogram = HistogramVec::new(
            HistogramOpts::new("latency_seconds", "Latency.").buckets(vec![0.0005, 0.1, 0.3, 1.5]),
            &["path"],
        )
        .unwrap();
        registry.register(Box::new(counter.clone())).unwrap();
        registry.register(Box::new(histogram.clone())).unwrap();
        counter.with_label_values(&["/a\"b\\c\nd", "200"]).inc_by(3);
        counter.with_label_values(&["/", "500"]).inc();
        for value in [0.0001, 0.2, 0.25, 7.0] {
            histogram.with_label_values(&["/x"]).observe(value);
        }
        histogram.with_label_values(&["/y"]);
        let families = registry.gather();
        let expected = TextEncoder::new().encode_to_string(&families).unwrap();
        assert_eq!(super::encode(&families), expected);
        assert!(expected.contains("latency_seconds_bucket{path=\"/x\",le=\"0.0005\"} 1\n"), "{expected}");
    }
}
