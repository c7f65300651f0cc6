//! Rendering /metrics for a large config: 20 scenarios x 10 requests, every
//! series populated (each request has also failed, so the failed-latency
//! series exist too). The goal is under 2 ms per scrape.

use criterion::{criterion_group, criterion_main, Criterion};
use sloprober::config::Loaded;
use sloprober::metrics::ProberMetrics;
use sloprober::model::env::EnvVars;
use sloprober::model::sample::{FailReason, Sample, SampleSink};
use std::time::Duration;

fn large_config() -> String {
    let mut yaml = String::from(
        "target: {base_url: \"http://127.0.0.1:1\"}\nmetrics: {custom: {errors: rate, latency: trend}}\nscenarios:\n",
    );
    for s in 0..20 {
        yaml.push_str(&format!("  s{s}:\n    requests:\n"));
        for r in 0..10 {
            yaml.push_str(&format!(
                "      - {{name: r{r}, path: /r{r}, checks: [{{status: 200}}, {{json_path: $.ok}}], trend: latency, rate: errors}}\n"
            ));
        }
        yaml.push_str("    profiles: {p: {executor: constant-vus, vus: 1, duration: 1s}}\n");
    }
    yaml.push_str("thresholds:\n  latency: [\"p(95)<300\"]\n  errors: [\"rate<0.01\"]\n");
    yaml
}

fn render(c: &mut Criterion) {
    let text: &'static str = Box::leak(large_config().into_boxed_str());
    let plan = sloprober::plan::resolve(&Loaded::new("bench", text), Some("p"), &EnvVars::new()).unwrap();
    let metrics = ProberMetrics::new(prometheus::Registry::new()).unwrap();
    let executors: Vec<_> = plan.scenarios.iter().map(|_| sloprober::executor::ExecutorCounters::new()).collect();
    let scenarios = metrics.for_plan(&plan, &executors).unwrap();
    for scenario in &scenarios {
        for request in 0..10 {
            for (status, ms) in [(200, 12), (200, 250), (500, 40)] {
                scenario.record(&Sample {
                    latency: Duration::from_millis(ms),
                    status: Some(status),
                    failure: (status == 500).then_some(FailReason::Status),
                    rate_true: Some(status == 500),
                    checks_passed: 0b11,
                    bytes_sent: 100,
                    bytes_received: 200,
                    schedule_lag: Some(Duration::from_micros(50)),
                    ..Sample::new(request)
                });
            }
        }
    }
    let lines = metrics.render().lines().count();
    c.bench_function(&format!("render_20x10 ({lines} lines)"), |b| b.iter(|| metrics.render()));
    // The part of a render that collects the values, before any text is written.
    c.bench_function("gather_20x10", |b| b.iter(|| metrics.registry().gather()));
}

criterion_group!(benches, render);
criterion_main!(benches);
