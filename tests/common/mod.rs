//! Helpers for tests that run the daemon and the demo target in-process on 127.0.0.1:0.
#![allow(dead_code)]

pub mod merge;
pub mod status_page;
pub mod tls;
pub mod web_config;

use sloprober::config::ConfigSource;
use sloprober::daemon::{self, DaemonOptions};
use sloprober::demo_target::{self, DemoTarget, FaultPatch, Faults};
use sloprober::metrics::ProberMetrics;
use sloprober::model::env::EnvVars;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const API_KEY: &str = "test-key-4f1c";

pub struct Target {
    pub addr: SocketAddr,
    pub state: Arc<DemoTarget>,
    stop: CancellationToken,
}

impl Target {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A number from the target's /admin/stats, e.g. ("requests", "generate").
    pub fn stat(&self, section: &str, endpoint: &str) -> u64 {
        self.state.stats()[section][endpoint].as_u64().unwrap_or(0)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the demo target with faults given as JSON (`{}` for healthy defaults, all zero-latency).
pub async fn start_target(faults: &str) -> Target {
    let mut all = Faults::default();
    let zero: BTreeMap<String, FaultPatch> = serde_json::from_str(r#"{"*": {"delay_ms": 0, "jitter_ms": 0}}"#).unwrap();
    all.apply(&zero).unwrap();
    let patch: BTreeMap<String, FaultPatch> = serde_json::from_str(faults).unwrap();
    all.apply(&patch).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = DemoTarget::new(API_KEY, all);
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(demo_target::serve(listener, state.clone(), async move { token.cancelled().await }));
    Target { addr, state, stop }
}

pub struct Daemon {
    pub addr: SocketAddr,
    pub metrics: Arc<ProberMetrics>,
    pub config: PathBuf,
    stop: CancellationToken,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    pub async fn scrape(&self) -> String {
        get(&format!("http://{}/metrics", self.addr)).await.1
    }

    /// Stops the load, waits for it to drain, and returns the final metrics.
    pub async fn stop(self) -> String {
        self.stop.cancel();
        self.task.await.unwrap();
        self.metrics.render()
    }
}

/// Writes `yaml` to a temp file and starts the daemon on it with `profile`.
pub async fn start_daemon(yaml: &str, profile: &str) -> Daemon {
    start_daemon_with_env(yaml, profile, &[]).await
}

/// As `start_daemon`, with extra environment variables (e.g. the chart's shard settings).
pub async fn start_daemon_with_env(yaml: &str, profile: &str, extra: &[(&str, &str)]) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sloprober.yaml");
    std::fs::write(&config, yaml).unwrap();
    let env: EnvVars =
        [("API_KEY", API_KEY)].iter().chain(extra).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let options = DaemonOptions {
        source: ConfigSource::File(config.clone()),
        profile: Some(profile.to_string()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        env,
        vu_threads: vu_threads(),
        http_reload: true,
        web: Default::default(),
        run_id: None,
    };
    let plan = options.plan().unwrap_or_else(|e| panic!("{e}"));
    let listener = daemon::bind(&plan).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = sloprober::metrics::ProberMetrics::shared().unwrap();
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn({
        let metrics = metrics.clone();
        async move {
            daemon::run(options, listener, plan, metrics, async move { token.cancelled().await }).await.unwrap();
        }
    });
    Daemon { addr, metrics, config, stop, task, _dir: dir }
}

/// 2 VUs x 5 requests to `target` through `proxy`.
pub fn proxied_config(target: std::net::SocketAddr, proxy: &str) -> String {
    format!(
        "target:\n  base_url: http://{target}\n  proxy: \"{proxy}\"\nscenarios:\n  proxied:\n    requests:\n      - {{name: hello, path: /hello, checks: [{{status: 200}}]}}\n    profiles:\n      test: {{executor: per-vu-iterations, vus: 2, iterations: 5}}\n"
    )
}

/// A daemon on `yaml` (profile `test`) that has played `seconds` of its load, and its /metrics then.
pub async fn run_for(yaml: &str, seconds: f64) -> (Daemon, String) {
    let daemon = start_daemon(yaml, "test").await;
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let live = daemon.scrape().await;
    (daemon, live)
}

/// One VU thread shared by every load a test binary starts, as a process has.
pub fn vu_threads() -> sloprober::executor::VuThreads {
    static THREADS: std::sync::OnceLock<sloprober::executor::VuThreads> = std::sync::OnceLock::new();
    THREADS.get_or_init(|| sloprober::executor::VuThreads::start(1)).clone()
}

pub async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub async fn post(url: &str) -> (u16, String) {
    let response = reqwest::Client::new().post(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Sum of every sample of `name` whose labels include all of `labels`.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    series(text, name, labels).iter().map(|(_, v)| v).sum()
}

/// The samples of `name` whose labels include all of `labels`, as (labels, value).
pub fn series(text: &str, name: &str, labels: &[(&str, &str)]) -> Vec<(String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (head, number) = line.rsplit_once(' ')?;
            let (metric, label_text) = match head.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (head, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels.iter().all(|(k, v)| label_text.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
            all.then(|| (label_text.to_string(), number.parse().unwrap()))
        })
        .collect()
}

/// A config with one scenario per (name, base_url, request yaml), each at `rate`/s, no think time.
pub fn config(scenarios: &[(&str, &str, &str)], rate: u32, extra: &str) -> String {
    let mut yaml = String::from(
        "target:\n  base_url: http://127.0.0.1:9\n  headers: {Authorization: \"Bearer ${API_KEY}\"}\n  timeout: 2s\n",
    );
    yaml.push_str("metrics:\n  custom: {errors: rate, generate_duration: trend}\n");
    yaml.push_str("daemon: {on_end: hold, shutdown_grace: 5s}\nscenarios:\n");
    for (name, base_url, requests) in scenarios {
        yaml.push_str(&format!(
            "  {name}:\n    base_url: {base_url}\n    requests:\n{requests}    profiles:\n      test: {{executor: constant-arrival-rate, rate: {rate}, duration: 1h, pre_allocated_vus: 20, max_vus: 100, graceful_stop: 5s}}\n"
        ));
    }
    yaml.push_str(extra);
    yaml
}

pub const GENERATE: &str = r#"      - name: generate
        method: POST
        path: /api/v1/generate
        json: {model: "{{ random_choice('gpt-3.5-turbo', 'gpt-4') }}", prompt: "hello {{ uuid }}"}
        checks: [{status: 200}, {json_path: $.text}]
        trend: generate_duration
        rate: errors
"#;

pub const EMBEDDINGS: &str = r#"      - name: embeddings
        method: POST
        path: /api/v1/embeddings
        json: {input: "fractions"}
        checks: [{status: 200}, {json_path: $.embedding}]
        rate: errors
"#;

/// A server that answers every request after exactly `delay` (the demo target's fixed-delay mode).
pub fn precise_server(delay: std::time::Duration) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    sloprober::demo_target::fixed_delay::spawn(listener, delay).unwrap()
}

/// A keep-alive HTTP/1.1 server answering `200 ok` on a thread per
/// connection, and some paths otherwise: `/echo` answers the request's header
/// lines; `/moved` is a 302 to `/`, `/loop` a 302 to itself, `/see-other` a
/// 303 and `/temporary` a 307 to `/echo`, `/to/PORT/PATH` a 302 to
/// `http://127.0.0.1:PORT/PATH`. It counts the connections it accepts, and closes any that stay
/// idle for `idle_close` (as servers do after their keep-alive timeout),
/// without a `Connection: close` header.
pub fn counting_server(idle_close: Option<Duration>) -> (SocketAddr, Arc<AtomicUsize>) {
    let (addr, accepted, _) = serve_counting(idle_close);
    (addr, accepted)
}

/// The heads of the requests a server received, in order.
pub type Heads = Arc<std::sync::Mutex<Vec<String>>>;

/// As [`counting_server`], also keeping every request's head (request line and header lines).
pub fn recording_server() -> (SocketAddr, Heads) {
    let (addr, _, heads) = serve_counting(None);
    (addr, heads)
}

fn serve_counting(idle_close: Option<Duration>) -> (SocketAddr, Arc<AtomicUsize>, Heads) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let heads = Heads::default();
    let (count, recorded) = (accepted.clone(), heads.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let recorded = recorded.clone();
            std::thread::spawn(move || answer_until_idle(stream, idle_close, recorded));
        }
    });
    (addr, accepted, heads)
}

fn answer_until_idle(stream: std::net::TcpStream, idle_close: Option<Duration>, heads: Heads) -> std::io::Result<()> {
    use std::io::Write;
    stream.set_read_timeout(idle_close)?;
    let mut writer = stream.try_clone()?;
    let mut reader = std::io::BufReader::new(stream);
    // EOF, or no request within `idle_close` (an error): the connection closes.
    while let Some((head, _)) = sloprober::demo_target::fixed_delay::read_request(&mut reader)? {
        heads.lock().unwrap().push(head.clone());
        if let Some(headers) = head.strip_prefix("GET /echo ").and_then(|rest| rest.split_once("\r\n")) {
            let headers = headers.1;
            writer.write_all(
                format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{headers}", headers.len()).as_bytes(),
            )?;
        } else if let Some(location) = redirect_of(&head) {
            let status = if head.contains(" /see-other ") {
                "303 See Other"
            } else if head.contains(" /temporary ") {
                "307 Temporary Redirect"
            } else {
                "302 Found"
            };
            let cookie = if head.contains(" /bake/") { "set-cookie: baked=1; Path=/\r\n" } else { "" };
            writer.write_all(
                format!("HTTP/1.1 {status}\r\nlocation: {location}\r\n{cookie}content-length: 0\r\n\r\n").as_bytes(),
            )?;
        } else {
            writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")?;
        }
    }
    Ok(())
}

/// Where [`counting_server`] redirects the request with head `head`, if it does.
fn redirect_of(head: &str) -> Option<String> {
    let target = head.split(' ').nth(1)?;
    match target {
        "/moved" => Some("/".into()),
        "/loop" => Some("/loop".into()),
        "/see-other" | "/temporary" => Some("/echo".into()),
        _ => {
            // `/to/PORT/PATH` and `/bake/PORT/PATH` (which sets a cookie) go to
            // 127.0.0.1:PORT, `/to-localhost/PORT/PATH` to localhost:PORT (another host).
            let (host, rest) = [("/to/", "127.0.0.1"), ("/bake/", "127.0.0.1"), ("/to-localhost/", "localhost")]
                .iter()
                .find_map(|(prefix, host)| Some((*host, target.strip_prefix(prefix)?)))?;
            let (port, path) = rest.split_once('/')?;
            Some(format!("http://{host}:{port}/{path}"))
        }
    }
}

/// A server that answers each connection's first request with `200 ok` and
/// then closes it without saying so (no `Connection: close`), as a server
/// whose keep-alive is off or broken does. It counts the requests it read.
pub fn closing_server() -> (SocketAddr, Arc<AtomicUsize>) {
    answering_server(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(), false)
}

/// A server that answers every request with `answer`, on a connection it
/// keeps open for the next when `keep_alive`, else closes; it counts the requests.
pub fn answering_server(answer: Vec<u8>, keep_alive: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    let answer: Arc<[u8]> = answer.into();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (count, answer) = (count.clone(), answer.clone());
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut writer = stream.try_clone()?;
                let mut reader = std::io::BufReader::new(stream);
                while sloprober::demo_target::fixed_delay::read_request(&mut reader)?.is_some() {
                    count.fetch_add(1, Ordering::SeqCst);
                    writer.write_all(&answer)?;
                    if !keep_alive {
                        break;
                    }
                }
                Ok(())
            });
        }
    });
    (addr, requests)
}

/// The requests each connection of a server carried, in the order it accepted them.
pub type PerConnection = Arc<std::sync::Mutex<Vec<usize>>>;

/// A keep-alive server answering every request with `200 ok` after `delay`
/// that counts the requests of each connection it accepts.
pub fn per_connection_server(delay: Duration) -> (SocketAddr, PerConnection) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let carried = PerConnection::default();
    let counts = carried.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let index = {
                let mut counts = counts.lock().unwrap();
                counts.push(0);
                counts.len() - 1
            };
            let counts = counts.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut writer = stream.try_clone()?;
                let mut reader = std::io::BufReader::new(stream);
                while sloprober::demo_target::fixed_delay::read_request(&mut reader)?.is_some() {
                    counts.lock().unwrap()[index] += 1;
                    std::thread::sleep(delay);
                    writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")?;
                }
                Ok(())
            });
        }
    });
    (addr, carried)
}

/// One test of a file at a time: they measure latency and rates and compare
/// exact counts, and one test's load would show in another's on a 2-core machine.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// A child process (Prometheus, Alertmanager, a `sloprober run`) killed when dropped.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The repository's root: committed files, scripts and fixtures are read from here.
pub fn repo_root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `command` to success and returns what it printed (stdout, then stderr).
pub fn run_ok(command: &mut std::process::Command) -> String {
    let out = command.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{command:?} failed:\n{text}");
    text
}

/// The first of `names` on PATH; scripts/test.sh installs them.
pub fn installed(names: &[&str]) -> PathBuf {
    let paths: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    names.iter().flat_map(|n| paths.iter().map(move |p| p.join(n))).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("{names:?} is needed: bash scripts/install-test-tools.sh installs it (scripts/test.sh runs that)")
    })
}

/// A port free now, for a program of someone else's that binds its own
/// listener and cannot report the port it got (Prometheus, Alertmanager).
/// Our own servers bind port 0 instead: see [`spawn_listening`].
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts one of our binary's servers, told to listen on port 0, with its
/// stderr into `log`; returns it and the address it logged as `field`
/// (`listen=ADDR`, or `"listen":"ADDR"` in JSON logs) once it is serving.
pub fn spawn_listening(
    command: &mut std::process::Command,
    log: &std::path::Path,
    field: &str,
) -> (Process, SocketAddr) {
    let file = std::fs::File::create(log).unwrap();
    let process = Process(command.stdout(std::process::Stdio::null()).stderr(file).spawn().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(addr) = logged_addr(&text, field) {
            return (process, addr);
        }
        assert!(std::time::Instant::now() < deadline, "no {field} address was logged:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn logged_addr(log: &str, field: &str) -> Option<SocketAddr> {
    [format!("{field}="), format!("\"{field}\":\"")].iter().find_map(|marker| {
        let at = log.find(marker.as_str())? + marker.len();
        let addr: String = log[at..].chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
        addr.parse().ok()
    })
}

/// The real binary as CI runs it: API_KEY set, nothing else that changes a run inherited.
pub fn sloprober_binary() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sloprober"));
    for name in [
        "TEST_TYPE",
        "BASE_URL",
        "SLOPROBER_LOG",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "SLOPROBER_RESULT",
        "SLOPROBER_RUN_ID",
    ] {
        command.env_remove(name);
    }
    command.env("API_KEY", API_KEY);
    command
}

/// Starts `program` with `args`, its stderr into `log`.
pub fn spawn_logged(program: PathBuf, args: &[String], log: &std::path::Path) -> Process {
    let log = std::fs::File::create(log).unwrap();
    Process(
        std::process::Command::new(program).args(args).stdout(std::process::Stdio::null()).stderr(log).spawn().unwrap(),
    )
}

/// Starts Debian's Prometheus in `dir` with `config` as its prometheus.yml
/// (and `extra` flags); returns it and its URL once it is ready.
pub async fn start_prometheus(dir: &std::path::Path, config: &str, extra: &[&str]) -> (Process, String) {
    start_prometheus_on(free_port(), dir, config, extra).await
}

/// [`start_prometheus`] on a port chosen beforehand.
pub async fn start_prometheus_on(port: u16, dir: &std::path::Path, config: &str, extra: &[&str]) -> (Process, String) {
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let d = dir.display();
    let mut args = vec![
        format!("--config.file={d}/prometheus.yml"),
        format!("--storage.tsdb.path={d}/prom-data"),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let process = spawn_logged(installed(&["prometheus"]), &args, &dir.join("prometheus.log"));
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{url}/-/ready")).await;
    (process, url)
}

/// The value of an instant PromQL query that returns one series (None: no series).
pub async fn promql_value(prometheus: &str, query: &str) -> Option<f64> {
    let url = reqwest::Url::parse_with_params(&format!("{prometheus}/api/v1/query"), [("query", query)]).unwrap();
    let body: serde_json::Value =
        serde_json::from_str(&reqwest::get(url).await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(body["status"], "success", "{query}: {body}");
    let result = body["data"]["result"].as_array().unwrap();
    assert!(result.len() <= 1, "{query} returned {} series: {body}", result.len());
    result.first().map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
}

/// Waits until `url` answers 2xx, at most 30 s.
pub async fn wait_ready(url: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if reqwest::get(url).await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{url} never became ready");
}

/// Options for `sloprober run` of `yaml` (written under `dir`) with profile `test`, no progress output.
pub fn run_options(dir: &std::path::Path, yaml: &str, scenarios: &[&str]) -> sloprober::run::RunOptions {
    let path = dir.join("run.yaml");
    std::fs::write(&path, yaml).unwrap();
    sloprober::run::RunOptions {
        await_first_scrape: None,
        config: ConfigSource::File(path).load().unwrap(),
        profile: Some("test".into()),
        scenarios: scenarios.iter().map(|s| s.to_string()).collect(),
        listen: None,
        progress: sloprober::run::ProgressMode::Off,
        env: [("API_KEY".to_string(), API_KEY.to_string())].into(),
        vu_threads: vu_threads(),
        web: Default::default(),
        run_id: None,
        shortcuts: Default::default(),
    }
}

/// Plays a run in-process; its outcome and the final /metrics text.
pub async fn play(options: &sloprober::run::RunOptions) -> (sloprober::report::RunOutcome, String) {
    let metrics = ProberMetrics::shared().unwrap();
    let plan = sloprober::run::plan_for(options).unwrap_or_else(|e| panic!("{e}"));
    let outcome = sloprober::run::execute(plan, options, metrics.clone()).await.unwrap();
    (outcome, metrics.render())
}

/// Debian's tinyproxy on 127.0.0.1, with basic auth when `credentials` are
/// given; it logs every request it relays (`connect` lines for tunnels) to `dir/tinyproxy.log`.
pub async fn start_tinyproxy(dir: &std::path::Path, credentials: Option<(&str, &str)>) -> (Process, u16) {
    let port = free_port();
    let auth = credentials.map(|(user, password)| format!("BasicAuth {user} {password}\n")).unwrap_or_default();
    let config = dir.join("tinyproxy.conf");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 200\nAllow 127.0.0.1\nLogLevel Connect\n\
             LogFile \"{log}\"\nPidFile \"{pid}\"\nDisableViaHeader Yes\n{auth}",
            log = dir.join("tinyproxy.log").display(),
            pid = dir.join("tinyproxy.pid").display(),
        ),
    )
    .unwrap();
    let child = std::process::Command::new(installed(&["tinyproxy"]))
        .args(["-d", "-c"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let process = Process(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return (process, port);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "tinyproxy did not listen on {port}: {}",
        std::fs::read_to_string(dir.join("tinyproxy.log")).unwrap_or_default()
    );
}

/// What `scripts/check-report-page.mjs` saw of a page.
pub fn open_in_chromium(url: &str, screenshot: &std::path::Path) -> serde_json::Value {
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/check-report-page.mjs");
    let output = std::process::Command::new("node").arg(script).arg(url).arg(screenshot).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Asserts what `open_in_chromium` saw: no console error, no request that
/// left the page's origin, and each chart of `titles` drawn from at least 3
/// points (coloured series pixels on its canvas).
pub fn assert_drawn_offline(seen: &serde_json::Value, titles: &[&str]) {
    assert_eq!(seen["console_errors"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["foreign_requests"], serde_json::json!([]), "{seen}");
    let charts = seen["charts"].as_array().unwrap();
    let drawn: Vec<&str> = charts.iter().map(|c| c["title"].as_str().unwrap()).collect();
    for expected in titles {
        let chart =
            charts.iter().find(|c| c["title"] == *expected).unwrap_or_else(|| panic!("no {expected} in {drawn:?}"));
        assert!(chart["points"].as_u64().unwrap() >= 3, "{expected} has data: {chart}");
        assert!(chart["series_pixels"].as_u64().unwrap() > 100, "{expected} drew its series: {chart}");
    }
}

/// `(slo, passed)` of each entry of a JSON list of SLOs (a page's table as
/// `open_in_chromium` read it, an SLO report, `status.json`).
pub fn slo_verdicts(slos: &serde_json::Value) -> Vec<(String, bool)> {
    slos.as_array()
        .unwrap()
        .iter()
        .map(|s| (s["slo"].as_str().unwrap().to_string(), s["passed"].as_bool().unwrap()))
        .collect()
}
