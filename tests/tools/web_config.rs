//! The web config tests that run a real tool.

use crate::common::web_config::*;
use crate::common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_over_tls_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_web_config(dir.path(), &format!("  Prometheus: {}\n", bcrypt_2y(PASSWORD)));
    let (_daemon, addr) = start(dir.path(), &dir.path().join("web.yml"));
    let job = |name: &str, password: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config: {{ca_file: {ca}}}\n    basic_auth: {{username: Prometheus, password: {password}}}\n    static_configs: [{{targets: [\"127.0.0.1:{port}\"]}}]\n",
            ca = ca.display(),
            port = addr.port()
        )
    };
    let config = format!(
        "global: {{scrape_interval: 1s}}\nscrape_configs:\n{}{}",
        job("right", PASSWORD),
        job("wrong", "guess")
    );
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let (_prometheus, url) = start_prometheus(&prom_dir, &config, &[]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let up = loop {
        let (_, body) = get(&format!("{url}/api/v1/query?query=up")).await;
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        let by_job: std::collections::BTreeMap<String, String> = parsed["data"]["result"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .map(|r| (r["metric"]["job"].as_str().unwrap().to_string(), r["value"][1].as_str().unwrap().into()))
                    .collect()
            })
            .unwrap_or_default();
        if by_job.len() == 2 || std::time::Instant::now() > deadline {
            break by_job;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(up.get("right").map(String::as_str), Some("1"), "scraped with the right password: {up:?}");
    assert_eq!(up.get("wrong").map(String::as_str), Some("0"), "refused with a wrong one: {up:?}");
    let (_, body) = get(&format!("{url}/api/v1/query?query=sloprober_build_info")).await;
    assert!(body.contains("\"job\":\"right\""), "the scraped series arrived: {body}");
}
