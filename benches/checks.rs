//! What a check costs per response, expression checks (CEL) beside the
//! json_path check they extend. The goal: at most 1 µs per check. The body
//! is parsed and converted once per response, whatever its checks; that
//! cost is its own row.

use criterion::{criterion_group, criterion_main, Criterion};
use sloprober::check::ResponseView;
use sloprober::config::Loaded;
use sloprober::model::env::EnvVars;

const BODY: &str = r#"{"model": "gpt-4", "completion_tokens": 42, "text": "Photosynthesis is how plants make food",
    "embedding": [0.1, 0.2, 0.3, 0.4], "suggestions": ["photo", "photon", "photosphere"], "scores": [0.9, 0.5, 0.1]}"#;

const CHECKS: [&str; 7] = [
    "{json_path: $.text}",
    "{expr: \"body.completion_tokens <= 64\"}",
    "{expr: \"body.model == model\"}",
    "{expr: \"size(body.embedding) == 4\"}",
    "{expr: \"body.text.startsWith('Photo')\"}",
    "{expr: \"body.text.matches('^Photo[a-z]+ is')\"}",
    "{expr: \"body.suggestions.all(s, s.startsWith('photo'))\"}",
];

fn checks(c: &mut Criterion) {
    let list = CHECKS.join(", ");
    let yaml = format!(
        "target: {{base_url: \"http://127.0.0.1:1\"}}\nvars: {{model: gpt-4}}\nscenarios:\n  s:\n    requests:\n      - {{name: r, path: /r, checks: [{list}]}}\n    profiles: {{p: {{executor: constant-vus, vus: 1, duration: 1s}}}}\n"
    );
    let plan = sloprober::plan::resolve(&Loaded::new("bench", yaml), Some("p"), &EnvVars::new()).unwrap();
    let request = &plan.scenarios[0].requests[0];
    let headers = reqwest::header::HeaderMap::new();
    for check in &request.checks {
        let mut view = ResponseView::new(200, &headers, BODY.as_bytes());
        assert!(check.passes(&mut view, &[]), "{}", check.name);
        c.bench_function(&format!("check: {}", check.name), |b| b.iter(|| check.passes(&mut view, &[])));
    }
    let first_expr = &request.checks[1];
    c.bench_function("per response: parse and convert the body, make the context, one check", |b| {
        b.iter(|| first_expr.passes(&mut ResponseView::new(200, &headers, BODY.as_bytes()), &[]))
    });
}

criterion_group!(benches, checks);
criterion_main!(benches);
