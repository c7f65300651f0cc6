//! The status page tests that run a real tool.

use crate::common::status_page::*;
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_draws_in_chromium_and_agrees_with_its_json() {
    let _serial = serial().await;
    let target = start_target("{}").await;
    let daemon = start_daemon(&live_config(&target.url(), &echoing_upstream()), "live").await;
    settled_status(daemon.addr, 4).await;
    let url = format!("http://{}/", daemon.addr);
    let screenshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots/status-page.png");
    let seen = {
        let screenshot = screenshot.clone();
        tokio::task::spawn_blocking(move || open_in_chromium(&url, &screenshot)).await.unwrap()
    };
    let doc = status(daemon.addr).await;
    daemon.stop().await;

    assert_drawn_offline(
        &seen,
        &[
            "gateway: requests per second",
            "gateway: VUs",
            "gateway/embeddings: latency (ms)",
            "upstream/orders: latency (ms)",
            "upstream: failed share of requests",
        ],
    );
    let (page, mut json) = (slo_verdicts(&seen["slos"]), slo_verdicts(&doc["slos"]));
    assert_eq!(page[0], ("http_req_failed_upstream_rate".to_string(), false), "a failing SLO first: {page:?}");
    assert!(page.windows(2).all(|w| !w[0].1 || w[1].1), "no failing SLO below a passing one: {page:?}");
    let mut sorted = page.clone();
    sorted.sort();
    json.sort();
    assert_eq!(sorted, json, "the page shows the verdicts of its JSON");
    assert_eq!(seen["slos"][0]["observed"], "100.00%", "a rate as a percentage, as the rest of the page");
    let at = |heading: &str| text_of(&seen).find(heading).unwrap_or_else(|| panic!("no {heading}"));
    assert!(at("Last failures") < at("Recent evaluations"), "failures before the charts");
    let text = text_of(&seen);
    assert!(text.contains("upstream/orders:") && text.contains("failed since start"), "{text}");
    assert!(text.contains("Iterations and groups") && text.contains("dropped since start"), "{text}");
    assert!(text.contains("HTTP 503") && text.contains("\"you sent\":\"Authorization: <redacted>\""), "{text}");
    assert!(text.contains("no answer: connecting to the server 127.0.0.1:1: Connection refused"), "{text}");
    assert!(!text.contains(API_KEY), "{text}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000, "a screenshot for a person to look at");
}

fn text_of(seen: &serde_json::Value) -> &str {
    seen["text"].as_str().unwrap()
}
