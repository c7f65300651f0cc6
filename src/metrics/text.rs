//! The Prometheus text format (0.0.4), written straight into one buffer.
//! The prometheus crate's encoder allocates a string for every value and
//! every bucket bound; with thousands of bucket lines per scrape that was
//! most of a render. Output is line for line what that encoder writes.

use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};
use std::fmt::Write;

/// Renders `families` as the text exposition format.
pub fn encode(families: &[MetricFamily]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let mut labels = String::new();
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
            MetricType::HISTOGRAM => encode_histograms(&mut out, &mut labels, name, metrics),
            MetricType::COUNTER | MetricType::GAUGE => {
                for m in metrics {
                    label_text(&mut labels, m.get_label());
                    let value = match family.get_field_type() {
                        MetricType::COUNTER => m.get_counter().get_value(),
                        _ => m.get_gauge().get_value(),
                    };
                    sample(&mut out, name, "", &labels, None, value);
                }
            }
            // The registry holds only counters, gauges and histograms (see families.rs).
            MetricType::SUMMARY | MetricType::UNTYPED => {}
        }
    }
    out
}

/// `a="1",b="2"` into `text`: a series' labels, written once for all its lines.
fn label_text(text: &mut String, labels: &[LabelPair]) {
    text.clear();
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(label.name());
        text.push_str("=\"");
        push_escaped(text, label.value(), true);
        text.push('"');
    }
}

fn encode_histograms(out: &mut String, labels: &mut String, name: &str, metrics: &[Metric]) {
    // Every series of a family has the same bounds: format them once.
    let mut bounds: Vec<(f64, String)> = Vec::new();
    for metric in metrics {
        label_text(labels, metric.get_label());
        let labels = labels.as_str();
        let histogram = metric.get_histogram();
        let mut saw_infinity = false;
        for (i, bucket) in histogram.get_bucket().iter().enumerate() {
            let bound = bucket.upper_bound();
            if bounds.get(i).is_none_or(|(b, _)| *b != bound) {
                bounds.truncate(i);
                bounds.push((bound, float(bound)));
            }
            saw_infinity |= bound == f64::INFINITY;
            sample(out, name, "_bucket", labels, Some(&bounds[i].1), bucket.cumulative_count() as f64);
        }
        let count = histogram.get_sample_count() as f64;
        if !saw_infinity {
            sample(out, name, "_bucket", labels, Some("+Inf"), count);
        }
        sample(out, name, "_sum", labels, None, histogram.get_sample_sum());
        sample(out, name, "_count", labels, None, count);
    }
}

/// One line: `name{labels,le="bound"} value`, `labels` already written by [`label_text`].
fn sample(out: &mut String, name: &str, suffix: &str, labels: &str, le: Option<&str>, value: f64) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        out.push_str(labels);
        if let Some(le) = le {
            if !labels.is_empty() {
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

pub(crate) fn float(value: f64) -> String {
    let mut text = String::new();
    push_float(&mut text, value);
    text
}

/// As Go's and the prometheus crate's encoders: `+Inf`, `-Inf`, `NaN`, else the shortest decimal.
fn push_float(out: &mut String, value: f64) {
    // Counts are whole numbers: integer formatting writes the same digits, several times faster.
    if value.fract() == 0.0 && value.abs() < 1e15 && !(value == 0.0 && value.is_sign_negative()) {
        let _ = write!(out, "{}", value as i64);
    } else if value == f64::INFINITY {
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
    use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

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
        let gauge = GaugeVec::new(Opts::new("value", "Values of every shape."), &["v"]).unwrap();
        registry.register(Box::new(gauge.clone())).unwrap();
        // (-Inf is left out: the crate writes "-inf", this encoder Go's "-Inf".)
        let shapes = [0.0, -0.0, 3.0, -3.0, 0.5, 1e15, 1e20, 123456789012345.0, f64::NAN];
        for (i, v) in shapes.into_iter().enumerate() {
            gauge.with_label_values(&[&i.to_string()]).set(v);
        }
        let families = registry.gather();
        let expected = TextEncoder::new().encode_to_string(&families).unwrap();
        assert_eq!(super::encode(&families), expected);
        assert!(expected.contains("latency_seconds_bucket{path=\"/x\",le=\"0.0005\"} 1\n"), "{expected}");
    }
}
