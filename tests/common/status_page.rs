//! A daemon with a failing upstream and its status page read as JSON.
#![allow(dead_code)]

use super::*;
use serde_json::Value;
use std::time::Duration;

/// An upstream that fails every request with a 503 whose headers and body
/// echo the API key, as an error page that quotes the request does.
pub fn echoing_upstream() -> String {
    let body = format!(
        "{{\"error\":\"upstream unavailable\",\"you sent\":\"Authorization: Bearer {API_KEY}\",\"pad\":\"{}\"}}",
        "p".repeat(3000)
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nx-echo-auth: Bearer {API_KEY}\r\n\
         set-cookie: session=s3cr3t-session-9; Path=/\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    format!("http://{}", answering_server(answer.into_bytes(), true).0)
}

/// A daemon with a healthy scenario and one whose upstream fails; verdicts over a 4 s window.
/// The first request of scenario `scenario` in a status document.
pub fn first_request<'d>(doc: &'d Value, scenario: &str) -> &'d Value {
    let scenarios = doc["scenarios"].as_array().map(Vec::as_slice).unwrap_or_default();
    scenarios.iter().find(|s| s["name"] == scenario).map_or(&Value::Null, |s| &s["requests"][0])
}

pub fn live_config(demo: &str, upstream: &str) -> String {
    format!(
        r#"target:
  base_url: {demo}
  headers: {{Authorization: "Bearer ${{API_KEY}}"}}
  timeout: 2s
daemon: {{shutdown_grace: 2s, slo_window: 4s}}
scenarios:
  gateway:
    requests:
      - {{name: embeddings, method: POST, path: /api/v1/embeddings, json: {{input: x}}, checks: [{{status: 200}}]}}
    profiles:
      live: {{executor: constant-arrival-rate, rate: 30, duration: 1h, pre_allocated_vus: 5, max_vus: 20}}
  upstream:
    base_url: {upstream}
    requests:
      - {{name: orders, path: /orders}}
    profiles:
      live: {{executor: constant-arrival-rate, rate: 10, duration: 1h, pre_allocated_vus: 5, max_vus: 20}}
  down:
    base_url: http://127.0.0.1:1
    requests:
      - {{name: refused, path: /}}
    profiles:
      live: {{executor: constant-arrival-rate, rate: 2, duration: 1h, pre_allocated_vus: 2}}
thresholds:
  "http_req_duration{{request:embeddings}}": ["p(95)<500"]
  "http_req_failed{{scenario:upstream}}": ["rate<0.01"]
"#
    )
}

pub async fn status(addr: std::net::SocketAddr) -> Value {
    serde_json::from_str(&get(&format!("http://{addr}/status.json")).await.1).unwrap()
}

/// The status once `ready` holds of it (within 30 s; `what` names the wait when it does not).
pub async fn status_when(addr: std::net::SocketAddr, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let doc = status(addr).await;
        if ready(&doc) {
            return doc;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {doc}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn history_len(doc: &Value) -> usize {
    doc["history"]["t"].as_array().map_or(0, Vec::len)
}

/// The status once it has `points` evaluations in its history and failures listed.
pub async fn settled_status(addr: std::net::SocketAddr, points: usize) -> Value {
    status_when(addr, "the status did not fill in", |doc| {
        let failed = first_request(doc, "upstream")["recent_failures"].as_array().map_or(0, Vec::len);
        history_len(doc) >= points && failed > 0
    })
    .await
}
