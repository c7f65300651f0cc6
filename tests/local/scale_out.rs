//! Scale-out: N daemons with the Helm chart's shard environment make,
//! together, exactly the configured load.

use crate::common::*;
use std::time::Duration;
use tokio::time::Instant;

async fn total_requests(daemons: &[Daemon]) -> f64 {
    let mut total = 0.0;
    for daemon in daemons {
        total += value(&daemon.scrape().await, "sloprober_http_reqs_total", &[]);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_sum_to_the_configured_rate() {
    let target = start_target("{}").await;
    let url = target.url();
    let yaml = config(&[("gateway", &url, EMBEDDINGS)], 90, "");
    let mut daemons = Vec::new();
    for pod in ["sloprober-0", "sloprober-1", "sloprober-2"] {
        // As the chart sets it: the replica count, and the pod name whose ordinal is the shard.
        daemons.push(start_daemon_with_env(&yaml, "test", &[("SLOPROBER_SHARD_COUNT", "3"), ("POD_NAME", pod)]).await);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (start, before) = (Instant::now(), total_requests(&daemons).await);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (elapsed, after) = (start.elapsed().as_secs_f64(), total_requests(&daemons).await);
    let rate = (after - before) / elapsed;
    eprintln!("3 shards of 90/s: {rate:.2}/s in sum ({:+.2} %)", (rate / 90.0 - 1.0) * 100.0);
    assert!((rate / 90.0 - 1.0).abs() < 0.02, "summed rate {rate:.2}/s is not within 2 % of 90/s");
    for daemon in &daemons {
        let own = value(&daemon.scrape().await, "sloprober_http_reqs_total", &[]);
        assert!(own > 0.0, "every shard makes load");
    }
    for daemon in daemons {
        daemon.stop().await;
    }
}
