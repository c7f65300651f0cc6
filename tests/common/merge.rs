//! A config of shards and the output of the real binary.
#![allow(dead_code)]

use std::process::Output;

/// The shards' config with `requests` added after the embeddings request.
pub fn config_with(url: &str, requests: &str, thresholds: &str) -> String {
    format!(
        r#"target:
  base_url: {url}
  headers: {{Authorization: "Bearer ${{API_KEY}}"}}
scenarios:
  embed:
    requests:
      - name: embeddings
        method: POST
        path: /api/v1/embeddings
        json: {{input: "fractions"}}
        checks: [{{status: 200}}, {{json_path: $.embedding}}]
{requests}    profiles:
      test: {{executor: constant-arrival-rate, rate: 60, duration: 3s, pre_allocated_vus: 6, max_vus: 20}}
thresholds:
{thresholds}"#
    )
}

/// The exit code of a finished process (-1 when a signal ended it).
pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// What a finished process printed: stdout, then stderr.
pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
