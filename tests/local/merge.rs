//! Distributed runs: shards of a load, each a real `sloprober run` process,
//! merged by `sloprober merge` into one verdict; the CI outputs (JUnit,
//! GitHub step summary and annotations) of a run and of a merge.

use crate::common::merge::*;
use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// 60 iterations/s for 3 s: exactly 180 iterations in all, however they are split.
fn shard_config(url: &str, thresholds: &str) -> String {
    config_with(url, "", thresholds)
}

/// Plays shard `index` of `count`, as the chart's Indexed Job does (its completion index is the shard).
fn spawn_shard(config: &Path, results: &Path, index: u32, count: u32) -> std::process::Child {
    sloprober_binary()
        .args(["run", "--profile", "test", "--no-progress", "--config"])
        .arg(config)
        .arg("--result")
        .arg(format!("{}/", results.display()))
        .env("SLOPROBER_SHARD_COUNT", count.to_string())
        .env("JOB_COMPLETION_INDEX", index.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn only_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shard_processes_merged_count_what_the_target_served() {
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sloprober.yaml");
    std::fs::write(
        &config,
        shard_config(&target.url(), "  http_req_duration: [\"p(95)<2000\"]\n  checks: [\"rate>0.99\"]\n"),
    )
    .unwrap();
    let results = dir.path().join("results");
    let shards: Vec<_> = (0..3).map(|i| spawn_shard(&config, &results, i, 3)).collect();
    let outputs: Vec<Output> =
        tokio::task::spawn_blocking(move || shards.into_iter().map(|c| c.wait_with_output().unwrap()).collect())
            .await
            .unwrap();
    for (i, output) in outputs.iter().enumerate() {
        assert_eq!(code(output), 0, "shard {i}: {}", text(output));
    }
    let mut files: Vec<String> =
        std::fs::read_dir(&results).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["result-shard-0-of-3.json", "result-shard-1-of-3.json", "result-shard-2-of-3.json"]);
    let per_shard: Vec<u64> =
        files.iter().map(|f| json(&results.join(f))["requests"][0]["stats"]["count"].as_u64().unwrap()).collect();
    assert_eq!(per_shard, [60, 60, 60], "each shard made a third of the load");

    let out = dir.path().join("merged");
    let junit = dir.path().join("junit.xml");
    let merged = sloprober_binary()
        .args(["merge", "--config"])
        .arg(&config)
        .arg(&results)
        .arg("--out")
        .arg(&out)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(code(&merged), 0, "{}", text(&merged));
    let summary = text(&merged);
    assert!(summary.contains("sloprober merge of 3 shards · profile test"), "{summary}");
    let served = target.stat("requests", "embeddings");
    let report = json(&only_dir(&out).join("embed-summary.json"));
    let counted = report["metrics"]["http_reqs"]["values"]["count"].as_f64().unwrap() as u64;
    eprintln!("target served {served}, merged run counted {counted}");
    assert_eq!(served, 180);
    assert_eq!(counted, served, "the merged total is what the target served");
    let checks = report["requests"]["embeddings"]["checks"].as_object().unwrap();
    assert!(checks.values().all(|c| c["passes"] == 180 && c["fails"] == 0), "{checks:?}");
    let timeline = json(&only_dir(&out).join("embed-results.json"));
    let points = timeline["points"].as_array().unwrap();
    let ticked: u64 = points.iter().map(|p| p["requests"].as_u64().unwrap()).sum();
    assert_eq!(ticked, 180, "the shards' seconds add up");
    assert!(
        points.iter().all(|p| p["p95_ms"].is_null() && p.get("request_ms").is_none()),
        "no shard's percentile poses as the run's"
    );
    let markdown = std::fs::read_to_string(only_dir(&out).join("load-test-report.md")).unwrap();
    assert!(markdown.contains("| shards | 3 (merged) |"), "{markdown}");
    let html = std::fs::read_to_string(only_dir(&out).join("load-test-report.html")).unwrap();
    assert!(html.contains("<tr><th>shards</th><td>3 (merged)</td></tr>"), "the HTML report says it is merged");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"0\""), "{xml}");

    // A shard of another config is refused, naming both files.
    std::fs::write(&config, shard_config(&target.url(), "  http_req_duration: [\"p(95)<1000\"]\n")).unwrap();
    let other = dir.path().join("other");
    let output = tokio::task::spawn_blocking({
        let (config, other) = (config.clone(), other.clone());
        move || spawn_shard(&config, &other, 1, 3).wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output));
    let mixed = dir.path().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::copy(results.join("result-shard-0-of-3.json"), mixed.join("a.json")).unwrap();
    std::fs::copy(other.join("result-shard-1-of-3.json"), mixed.join("b.json")).unwrap();
    std::fs::copy(results.join("result-shard-2-of-3.json"), mixed.join("c.json")).unwrap();
    let refused = sloprober_binary().args(["merge", "--config"]).arg(&config).arg(&mixed).output().unwrap();
    assert_eq!(code(&refused), 64, "{}", text(&refused));
    assert!(text(&refused).contains("b.json was recorded with another config"), "{}", text(&refused));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_waits_for_every_shard_and_no_shard_judges_alone() {
    let target = start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sloprober.yaml");
    // 180 requests in all, 60 per shard: each shard alone fails this threshold, the run passes it.
    std::fs::write(&config, shard_config(&target.url(), "  http_reqs: [\"count>150\"]\n")).unwrap();
    let results = dir.path().join("results");
    // The merge starts first, as the chart's merge Job may, and waits.
    let merging = sloprober_binary()
        .args(["merge", "--wait", "60s", "--config"])
        .arg(&config)
        .arg(&results)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // In a CI matrix each shard is a GitHub Actions job: it speaks for its part only.
    let step_summary = dir.path().join("step-summary.md");
    let shards: Vec<_> = (0..3)
        .map(|i| {
            let mut shard = sloprober_binary();
            shard
                .args(["run", "--profile", "test", "--no-progress", "--config"])
                .arg(&config)
                .arg("--result")
                .arg(format!("{}/", results.display()))
                .env("SLOPROBER_SHARD_COUNT", "3")
                .env("SLOPROBER_SHARD_INDEX", i.to_string())
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_STEP_SUMMARY", &step_summary)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            shard.spawn().unwrap()
        })
        .collect();
    let (shards, merged) = tokio::task::spawn_blocking(move || {
        let shards: Vec<Output> = shards.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        (shards, merging.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    for output in &shards {
        assert_eq!(code(output), 0, "{}", text(output));
        assert!(text(output).contains("its own thresholds are not the run's verdict"), "{}", text(output));
        assert!(text(output).contains("✗"), "the shard's summary shows its part failing: {}", text(output));
        assert!(!text(output).contains("::error"), "no annotation from a shard: {}", text(output));
    }
    assert!(!step_summary.exists(), "no step summary from a shard");
    assert_eq!(code(&merged), 0, "{}", text(&merged));
    assert!(text(&merged).contains("waiting for shard results"), "{}", text(&merged));
    assert!(text(&merged).contains("merge of 3 shards"), "{}", text(&merged));

    // A shard that never comes: the wait ends with what is missing.
    std::fs::remove_file(results.join("result-shard-1-of-3.json")).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        sloprober_binary().args(["merge", "--wait", "3s", "--config"]).arg(&config).arg(&results).output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&output), 64, "{}", text(&output));
    assert!(text(&output).contains("shard 1 of 3 missing"), "{}", text(&output));
}
