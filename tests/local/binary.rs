//! The real binary as a user runs it: secrets never leak, SIGHUP reloads,
//! SIGTERM stops cleanly, `demo` serves live metrics.

use crate::common::spawn_listening;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "sk-live-7c2e91d0b4a3";

fn sloprober() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sloprober"));
    command.env_remove("TEST_TYPE").env_remove("BASE_URL").env_remove("SLOPROBER_LOG");
    command
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

fn get(url: &str) -> Option<(u16, String)> {
    fetch(reqwest::Method::GET, url)
}

/// POST with no body: (status, body).
fn post(url: &str) -> Option<(u16, String)> {
    fetch(reqwest::Method::POST, url)
}

/// One request on a runtime of its own.
fn fetch(method: reqwest::Method, url: &str) -> Option<(u16, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new().request(method, url).timeout(Duration::from_secs(2)).send().await.ok()?;
        Some((response.status().as_u16(), response.text().await.ok()?))
    })
}

fn wait_for(url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some((200, body)) = get(url) {
            return body;
        }
        assert!(Instant::now() < deadline, "{url} never answered 200");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// True once `condition` holds, polling for up to 10 s.
fn poll(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

fn config(target_port: u16, scenarios: &[&str]) -> String {
    let mut yaml = format!(
        "target:\n  base_url: http://127.0.0.1:{target_port}\n  headers:\n    Authorization: \"Bearer ${{API_KEY}}\"\n    X-Api-Key: \"${{API_KEY}}\"\nscenarios:\n"
    );
    for name in scenarios {
        yaml.push_str(&format!(
            "  {name}:\n    requests:\n      - name: health\n        path: /api/v1/health\n        checks: [{{status: 200}}]\n    profiles:\n      continuous: {{executor: constant-arrival-rate, rate: 20, duration: 1m, pre_allocated_vus: 5}}\n"
        ));
    }
    yaml
}

#[test]
fn secrets_stay_out_of_logs_metrics_and_check_output_and_signals_work() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("probe.yaml");
    let log_path = dir.path().join("daemon.log");
    let (_target, target) = spawn_listening(
        sloprober().args(["demo-target", "--listen", "127.0.0.1:0"]).env("API_KEY", SECRET),
        &dir.path().join("target.log"),
        "listen",
    );
    let target_port = target.port();
    std::fs::write(&config_path, config(target_port, &["first"])).unwrap();
    let (mut daemon, metrics) = spawn_listening(
        sloprober()
            .args(["--log-format", "json", "--log-level", "debug", "daemon", "--config"])
            .arg(&config_path)
            .args(["--listen", "127.0.0.1:0"])
            .env("API_KEY", SECRET),
        &log_path,
        "listen",
    );
    let logs = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let metrics_addr = metrics;
    let metrics_url = format!("http://{metrics}/metrics");
    wait_for(&format!("http://{metrics}/ready"));
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = wait_for(&metrics_url);
    assert!(
        metrics.contains("sloprober_http_reqs_total{request=\"health\",scenario=\"first\",status=\"200\"}"),
        "the target accepted the key: {metrics}"
    );
    assert!(!metrics.contains("status=\"401\""), "no request was refused");
    // Without --web.enable-lifecycle, HTTP cannot reload the config (SIGHUP still does).
    let (status, body) = post(&format!("http://{metrics_addr}/-/reload")).expect("an answer");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("--web.enable-lifecycle"), "{body}");

    // A reload that fails on the header holding the key must not print it.
    let broken = config(target_port, &["first"]).replace("\"${API_KEY}\"", "\"${API_KEY}\\u0001\"");
    std::fs::write(&config_path, broken).unwrap();
    signal(&daemon.0, "HUP");
    let rejected = poll(|| wait_for(&metrics_url).contains("sloprober_config_last_reload_successful 0"));
    assert!(rejected, "the broken reload was rejected:\n{}", logs());

    // A good reload on SIGHUP brings in the new scenario.
    std::fs::write(&config_path, config(target_port, &["first", "second"])).unwrap();
    signal(&daemon.0, "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    // The new scenario's series exist at 0 as soon as the reload resolves them: wait for traffic.
    let second_ok = |text: &str| {
        text.lines().any(|l| l.contains("scenario=\"second\",status=\"200\"}") && !l.ends_with(" 0"))
            && text.contains("sloprober_config_last_reload_successful 1")
    };
    let metrics = loop {
        let text = wait_for(&metrics_url);
        if second_ok(&text) || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(second_ok(&metrics), "SIGHUP loaded the second scenario:\n{metrics}\n{}", logs());
    assert!(!metrics.contains(SECRET));

    let check = sloprober().args(["check", "--config"]).arg(&config_path).env("API_KEY", SECRET).output().unwrap();
    let check_out = String::from_utf8_lossy(&check.stdout).to_string() + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{check_out}");
    assert!(check_out.contains("Authorization: Bearer ${API_KEY}"), "the plan shows the template: {check_out}");
    assert!(!check_out.contains(SECRET));

    let stopping = Instant::now();
    signal(&daemon.0, "TERM");
    let status = daemon.0.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
    assert!(stopping.elapsed() < Duration::from_secs(12), "stopped within the shutdown grace");
    let logs = logs();
    assert!(logs.contains("config reload rejected"), "{logs}");
    assert!(logs.contains("target.headers.X-Api-Key"), "the rejected reload names the header: {logs}");
    assert!(logs.contains("sloprober daemon stopped"), "{logs}");
    assert!(logs.lines().all(|l| l.starts_with('{')), "--log-format json writes JSON lines");
    assert!(!logs.contains(SECRET), "the API key leaked into the logs");
}

#[test]
fn both_demo_targets_stop_on_sigterm_while_a_connection_is_open() {
    let dir = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--fixed-delay", "10ms"][..]] {
        let (mut target, addr) = spawn_listening(
            sloprober().args(["demo-target", "--listen", "127.0.0.1:0"]).args(extra),
            &dir.path().join("target.log"),
            "listen",
        );
        let _idle_client = std::net::TcpStream::connect(addr).unwrap();
        signal(&target.0, "TERM");
        let stopped = poll(|| matches!(target.0.try_wait(), Ok(Some(_))));
        assert!(stopped, "demo-target {extra:?} was still running 10 s after SIGTERM");
    }
}

#[test]
fn demo_serves_live_metrics_for_all_three_services() {
    let dir = tempfile::tempdir().unwrap();
    let (mut demo, metrics) = spawn_listening(
        sloprober()
            .args(["demo", "--listen", "127.0.0.1:0", "--target-listen", "127.0.0.1:0"])
            .env_remove("API_KEY")
            .env("SLOPROBER_VU_THREADS", "3"),
        &dir.path().join("demo.log"),
        "listen",
    );
    let url = format!("http://{metrics}/metrics");
    wait_for(&url);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = wait_for(&url);
        let live = ["gateway", "assessment", "search"].iter().all(|s| {
            text.lines().any(|l| {
                l.starts_with("sloprober_http_reqs_total")
                    && l.contains(&format!("scenario=\"{s}\""))
                    && !l.ends_with(" 0")
                    && !l.contains("\"error\"")
            })
        });
        if live {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    for scenario in ["gateway", "assessment", "search"] {
        assert!(
            text.lines().any(|l| l.starts_with("sloprober_http_reqs_total")
                && l.contains(&format!("scenario=\"{scenario}\""))
                && !l.ends_with(" 0")),
            "{scenario} has traffic:\n{text}"
        );
    }
    assert!(!text.contains("status=\"401\""), "the demo key matches the target's");
    assert!(
        text.contains("generate_duration_seconds_bucket{expected_response=\"true\",scenario=\"gateway\",le=\"0.3\"}")
    );
    let vu_threads = std::fs::read_dir(format!("/proc/{}/task", demo.0.id()))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .filter(|name| name.starts_with("sloprober-vus-"))
        .count();
    assert_eq!(vu_threads, 3, "SLOPROBER_VU_THREADS sets how many threads run VUs");
    signal(&demo.0, "INT");
    assert!(demo.0.wait().unwrap().success());
}

#[test]
fn bad_flags_and_missing_files_are_clear_errors() {
    let out = sloprober().args(["check", "--config", "/nonexistent/sloprober.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: cannot read config /nonexistent/sloprober.yaml:"), "{stderr}");

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = sloprober()
        .args(["daemon", "--config", &format!("{root}/config/minimal.yaml"), "--listen", &format!("127.0.0.1:{port}")])
        .env("API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("cannot listen on 127.0.0.1:{port}")));
}

#[test]
fn invalid_flags_exit_64_naming_the_flag() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/minimal.yaml");
    let cases: [(&[&str], &str); 6] = [
        (&["check", "--config", config, "--bogus"], "--bogus"),
        (&["check"], "--config"),
        (&["--log-format", "xml", "check", "--config", config], "--log-format"),
        (&["daemon", "--config", config, "--listen", "127.0.0.1:99999"], "--listen"),
        (&["--log-level", "loud", "check", "--config", config], "--log-level"),
        (&["run", "--config", config, "--await-first-scrape", "5s"], "--listen"),
    ];
    for (args, named) in cases {
        let out = sloprober().args(args).env("API_KEY", "k").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?} names {named}: {stderr}");
    }
    let out = sloprober()
        .args(["check", "--config", config])
        .env("API_KEY", "k")
        .env("SLOPROBER_VU_THREADS", "many")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("SLOPROBER_VU_THREADS") && stderr.contains("\"many\""), "{stderr}");
    let help = sloprober().arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0), "--help is not an error");
}

fn smoke_config(thresholds: &str) -> String {
    format!(
        r#"target:
  base_url: http://127.0.0.1:9
  headers: {{Authorization: "Bearer ${{API_KEY}}"}}
metrics:
  custom: {{errors: rate, generate_duration: trend}}
scenarios:
  gateway:
    requests:
      - name: generate
        method: POST
        path: /api/v1/generate
        json: {{model: gpt-4, prompt: hello}}
        checks: [{{status: 200}}, {{json_path: $.text}}]
        trend: generate_duration
        rate: errors
    profiles:
      smoke: {{executor: constant-vus, vus: 2, duration: 2s}}
  search:
    requests:
      - name: suggest
        path: /api/v1/search/suggest?q=alg
        checks: [{{status: 200}}]
        rate: errors
    profiles:
      smoke: {{executor: constant-vus, vus: 1, duration: 2s}}
thresholds:
{thresholds}"#
    )
}

/// `scripts/run-load-tests.sh smoke <service> local` with its own demo target; returns (exit code, stdout).
fn run_script(config: &std::path::Path, service: &str, results: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/run-load-tests.sh"))
        .args(["smoke", service, "local"])
        .env("SLOPROBER_BIN", env!("CARGO_BIN_EXE_sloprober"))
        .env("SLOPROBER_CONFIG", config)
        .env("RESULTS_DIR", results)
        .env("DEMO_PORT", "0")
        .env("K6_SUMMARY_EXPORT", results.join("summary-export.json"))
        .env_remove("BASE_URL")
        .env_remove("API_KEY")
        .stderr(Stdio::null())
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn run_script_passes_fails_with_99_and_writes_reports() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("suite.yaml");
    std::fs::write(&config, smoke_config("  generate_duration: [\"p(95)<=300\"]\n  errors: [\"rate<0.01\"]\n"))
        .unwrap();
    let results = dir.path().join("results");
    let (code, stdout) = run_script(&config, "gateway", &results);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("result: PASSED"), "{stdout}");
    let runs: Vec<_> = std::fs::read_dir(&results).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    assert_eq!(runs.len(), 1, "one timestamped directory");
    let mut files: Vec<String> =
        std::fs::read_dir(&runs[0]).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(
        files,
        [
            "gateway-results.json",
            "gateway-slo-report.json",
            "gateway-summary.json",
            "load-test-report.html",
            "load-test-report.md",
            "result.json"
        ],
        "only the gateway scenario ran"
    );

    std::fs::write(&config, smoke_config("  generate_duration: [\"p(95)<=300\"]\n  http_reqs: [\"count>1000000\"]\n"))
        .unwrap();
    let (code, stdout) = run_script(&config, "all", &results);
    assert_eq!(code, Some(99), "a failed threshold exits 99: {stdout}");
    assert!(stdout.contains("result: FAILED: 1 of 2 thresholds failed: http_reqs_count"), "{stdout}");
    // k6's --summary-export (here from K6_SUMMARY_EXPORT, as k6 reads it): a threshold is true when it failed.
    let export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("summary-export.json")).unwrap()).unwrap();
    assert_eq!(export["metrics"]["http_reqs"]["thresholds"]["count>1000000"], true, "{export:#}");
    assert_eq!(export["metrics"]["generate_duration"]["thresholds"]["p(95)<=300"], false, "{export:#}");
    assert!(export["metrics"]["http_reqs"]["count"].as_f64().unwrap() > 0.0);
    assert_eq!(export["root_group"]["path"], "");

    let out = sloprober()
        .args(["run", "--scenario", "checkout", "--config"])
        .arg(&config)
        .env("API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no scenario is named \"checkout\"; defined: gateway, search, or all"));
}

#[test]
fn a_plan_needing_more_connections_than_the_open_files_limit_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let run_with_vus = |vus: u32| {
        let config = dir.path().join(format!("vus{vus}.yaml"));
        let yaml = format!(
            "target: {{base_url: \"http://127.0.0.1:9\"}}\nscenarios:\n  many:\n    sleep: 1s\n    requests: [{{name: r, path: /}}]\n    profiles:\n      smoke: {{executor: constant-vus, vus: {vus}, duration: 1s}}\n"
        );
        std::fs::write(&config, yaml).unwrap();
        let out = Command::new("sh")
            .args(["-c", "ulimit -n 512 && exec \"$0\" run --config \"$1\" --profile smoke --no-progress"])
            .arg(env!("CARGO_BIN_EXE_sloprober"))
            .arg(&config)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let stderr = run_with_vus(2000);
    assert!(stderr.contains("open-files limit") && stderr.contains("vus=2000"), "{stderr}");
    assert!(stderr.contains("limit=512"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "logs to a pipe are plain text, without colour codes: {stderr}");
    let stderr = run_with_vus(10);
    assert!(!stderr.contains("open-files limit"), "10 VUs fit in 512 descriptors: {stderr}");
}

/// A Dockerfile's instructions: (keyword, arguments), continuation lines joined, comments dropped.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .map(|line| {
            let (keyword, args) = line.split_once(' ').unwrap_or((&line, ""));
            (keyword.to_ascii_uppercase(), args.trim().to_string())
        })
        .collect()
}

#[test]
fn the_dockerfile_copies_what_exists_and_its_command_starts_the_daemon() {
    let root = crate::common::repo_root();
    let instructions = dockerfile_instructions(&std::fs::read_to_string(root.join("Dockerfile")).unwrap());
    let ignored: Vec<String> = std::fs::read_to_string(root.join(".dockerignore"))
        .unwrap()
        .lines()
        .map(|l| l.trim().trim_end_matches('/').to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let stages: Vec<&String> = instructions.iter().filter(|(k, _)| k == "FROM").map(|(_, a)| a).collect();
    assert_eq!(stages.len(), 2, "a build stage, then a small runtime image: {stages:?}");
    assert_eq!(stages[1], "gcr.io/distroless/cc-debian12:nonroot", "the runtime has no shell and runs as non-root");
    // Every COPY from the build context names something the context holds.
    let mut copied_to = std::collections::BTreeMap::new();
    for (keyword, args) in &instructions {
        if keyword != "COPY" {
            continue;
        }
        let parts: Vec<&str> = args.split_whitespace().collect();
        let (destination, sources) = parts.split_last().unwrap();
        if parts[0].starts_with("--from=") {
            copied_to.insert(destination.to_string(), sources[1].to_string());
            continue;
        }
        for source in sources {
            assert!(root.join(source).exists(), "COPY {source}: not in the repository");
            let excluded = ignored.iter().any(|i| source == i || source.starts_with(&format!("{i}/")));
            assert!(!excluded, "COPY {source}: .dockerignore leaves it out of the context");
            copied_to.insert(destination.to_string(), source.to_string());
        }
    }
    // The binary copied out of the build stage is where `cargo build --release` in its WORKDIR puts it.
    let workdir = instructions.iter().find(|(k, _)| k == "WORKDIR").map(|(_, a)| a.clone()).unwrap();
    assert!(instructions.iter().any(|(k, a)| k == "RUN" && a.contains("cargo build --release --locked")));
    assert_eq!(copied_to["/usr/local/bin/sloprober"], format!("{workdir}/target/release/sloprober"));
    let user = instructions.iter().find(|(k, _)| k == "USER").map(|(_, a)| a.as_str());
    assert_eq!(user, Some("65532:65532"), "non-root");
    let exposed = instructions.iter().find(|(k, _)| k == "EXPOSE").map(|(_, a)| a.as_str()).unwrap();
    assert_eq!(Some(exposed), sloprober::model::defaults::METRICS_LISTEN.rsplit(':').next(), "the metrics port");

    // The image's command, run by the real binary with the config the image
    // ships (from the repository), serves /metrics and is ready.
    let json = |keyword: &str| -> Vec<String> {
        let args = instructions.iter().find(|(k, _)| k == keyword).map(|(_, a)| a.as_str()).unwrap();
        serde_json::from_str(args).unwrap()
    };
    let (entrypoint, cmd) = (json("ENTRYPOINT"), json("CMD"));
    assert_eq!(entrypoint, ["/usr/local/bin/sloprober"]);
    let args: Vec<String> = cmd
        .iter()
        .map(|arg| match copied_to.get(arg.as_str()) {
            Some(source) => root.join(source).display().to_string(),
            None => arg.clone(),
        })
        .collect();
    assert!(
        args.iter().any(|a| a.ends_with("config/aivo.yaml")),
        "the command reads the config the image ships: {cmd:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, addr) = spawn_listening(
        sloprober()
            .args(&args)
            .args(["--listen", "127.0.0.1:0"])
            .env("BASE_URL", "http://127.0.0.1:9")
            .env("API_KEY", "image-test-key"),
        &dir.path().join("daemon.log"),
        "listen",
    );
    assert!(poll(|| get(&format!("http://{addr}/ready")).is_some_and(|(status, _)| status == 200)), "ready");
    let (status, metrics) = get(&format!("http://{addr}/metrics")).unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("sloprober_build_info{"), "{metrics}");
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(log.lines().any(|l| l.starts_with('{')), "logs in JSON, as the command asks:\n{log}");
}

#[test]
fn what_a_scenario_logs_names_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sloprober.yaml");
    let empty_store = dir.path().join("no-cas.pem");
    std::fs::write(&empty_store, "").unwrap();
    let scenario = |name: &str, tls: &str| {
        format!(
            "  {name}:\n    base_url: https://127.0.0.1:1\n    tls: {tls}\n    requests: [{{name: r, path: /}}]\n    profiles: {{test: {{executor: per-vu-iterations, vus: 1, iterations: 1}}}}\n"
        )
    };
    let yaml = format!(
        "target: {{base_url: \"http://127.0.0.1:1\"}}\nscenarios:\n{}{}",
        scenario("secure", "{}"),
        scenario("loose", "{insecure_skip_verify: true}")
    );
    std::fs::write(&config, yaml).unwrap();
    let output = sloprober()
        .args(["--log-format", "json", "run", "--profile", "test", "--no-progress", "--config"])
        .arg(&config)
        .env("SSL_CERT_FILE", &empty_store)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    let line =
        |text: &str| logs.lines().find(|l| l.contains(text)).unwrap_or_else(|| panic!("no {text:?} in:\n{logs}"));
    assert!(line("no system CA certificates found").contains("\"scenario\":\"secure\""), "{logs}");
    assert!(line("insecure_skip_verify is set").contains("\"scenario\":\"loose\""), "{logs}");
}

/// k6's `--iterations`, `--vus`, `--duration` and `-e` on `run`: they replace
/// every selected scenario's executor, and `-e` fills `${VAR}` over the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k6s_run_flags_replace_every_scenarios_executor() {
    let target = crate::common::start_target("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("flags.yaml");
    // Each scenario alone would run 60 s; the flags make them short.
    let scenario = |name: &str| {
        format!(
            "  {name}:\n    requests: [{{name: health, path: /health}}]\n    profiles:\n      smoke: {{executor: constant-vus, vus: 1, duration: 60s}}\n"
        )
    };
    std::fs::write(
        &config,
        format!(
            "target: {{base_url: \"${{BASE}}\", headers: {{Authorization: \"Bearer ${{API_KEY}}\"}}}}\nscenarios:\n{}{}",
            scenario("first"),
            scenario("second")
        ),
    )
    .unwrap();
    let run = |flags: &[&str], out: &std::path::Path| {
        let started = Instant::now();
        let output = sloprober()
            .args(["run", "--no-progress", "--config"])
            .arg(&config)
            .args(flags)
            .arg("-e")
            .arg(format!("BASE={}", target.url()))
            .args(["-e", &format!("API_KEY={}", crate::common::API_KEY)])
            .arg("--out")
            .arg(out)
            .env("BASE", "http://127.0.0.1:1")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        let dir = std::fs::read_dir(out).unwrap().next().unwrap().unwrap().path();
        let summary = |name: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}-summary.json"))).unwrap()).unwrap()
        };
        (started.elapsed(), summary("first"), summary("second"))
    };

    let (took, first, second) = run(&["--iterations", "7", "--vus", "2"], &dir.path().join("iterations"));
    assert!(took < Duration::from_secs(30), "shared-iterations, not the profile's 60 s: {took:?}");
    for summary in [&first, &second] {
        assert_eq!(summary["metrics"]["iterations"]["values"]["count"], 7.0, "{summary:#}");
        assert_eq!(summary["metrics"]["http_req_failed"]["values"]["passes"], 0.0, "-e BASE won over the environment");
        assert!(summary["executor"].as_str().unwrap().starts_with("shared-iterations"), "{}", summary["executor"]);
    }

    let (took, first, _) = run(&["-d", "1s", "-u", "3"], &dir.path().join("duration"));
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(first["executor"].as_str().unwrap().starts_with("constant-vus"), "{}", first["executor"]);
    assert_eq!(first["metrics"]["vus_max"]["values"]["value"], 3.0, "{first:#}");

    let bad = sloprober().args(["run", "--config"]).arg(&config).args(["-e", "NOEQUALS"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("\"NOEQUALS\" is not KEY=VALUE"));
}
