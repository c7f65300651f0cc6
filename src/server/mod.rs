//! The prober's HTTP endpoints: the status page at `/` (and its
//! `/status.json`), `/metrics`, `/health`, `/ready`, `POST /-/reload`,
//! served the same way by the daemon and by `run --listen`.

pub mod http;
pub mod web_config;

use crate::metrics::ProberMetrics;
use crate::status::StatusBoard;
use http::{text, DropConnection, HttpResponse};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
pub use web_config::{LiveWebConfig, WebConfig};

/// A reload request; the answer is Ok or the problems found in the new config.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct ListenError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Binds an address to serve on (port 0 picks a free one: read it from the listener).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr).await.map_err(|source| ListenError { addr, source })
}

/// The endpoints being served; [`stop`](Server::stop) closes them.
pub struct Server {
    pub endpoints: Arc<Endpoints>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// What `POST /-/reload` does.
pub enum HttpReload {
    /// A daemon started with `--web.enable-lifecycle`: requests go here.
    Enabled(mpsc::Sender<ReloadRequest>),
    /// A daemon without it: refused with 403, as Prometheus does.
    Disabled,
    /// A one-shot run: it has no config to reload.
    OneShot,
}

/// How the endpoints are served: `--web.config.file` and `--web.max-connections`.
#[derive(Clone)]
pub struct Web {
    /// None: plain http, no users.
    pub config: Option<Arc<LiveWebConfig>>,
    pub max_connections: usize,
}

impl Default for Web {
    fn default() -> Self {
        Web { config: None, max_connections: http::MAX_CONNECTIONS }
    }
}

/// Serves `metrics` and the status `board` on `listener`; `reload` says
/// what `POST /-/reload` does. Open connections get `drain` to finish at the stop.
pub fn start(
    listener: TcpListener,
    metrics: Arc<ProberMetrics>,
    board: Arc<StatusBoard>,
    reload: HttpReload,
    drain: Duration,
    web: &Web,
) -> Server {
    let endpoints = Arc::new(Endpoints {
        metrics,
        board,
        ready: false.into(),
        reload,
        scrapes: Scrapes::default(),
        web_config: web.config.clone(),
    });
    let stop = CancellationToken::new();
    let serving = endpoints.clone();
    let stopped = stop.clone();
    let how = http::Listening {
        max_connections: web.max_connections,
        tls: web.config.as_ref().and_then(|c| c.tls()),
        ..Default::default()
    };
    let task = tokio::spawn(http::serve(
        listener,
        move |request| serving.clone().handle(request),
        async move { stopped.cancelled().await },
        drain,
        how,
    ));
    Server { endpoints, stop, task }
}

impl Server {
    /// What `/ready` answers.
    pub fn set_ready(&self, ready: bool) {
        self.endpoints.ready.store(ready, Ordering::Release);
    }

    pub fn scrapes(&self) -> &Scrapes {
        &self.endpoints.scrapes
    }

    /// Stops accepting, lets open connections drain, and waits.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// What the endpoints read.
pub struct Endpoints {
    metrics: Arc<ProberMetrics>,
    board: Arc<StatusBoard>,
    /// Config loaded and executors running.
    ready: AtomicBool,
    reload: HttpReload,
    scrapes: Scrapes,
    /// Its `basic_auth_users`: every endpoint but `/health` and `/ready` asks for them.
    web_config: Option<Arc<LiveWebConfig>>,
}

/// Scrapes of /metrics seen, so a run can wait for its final counts to be scraped.
#[derive(Default)]
pub struct Scrapes {
    count: AtomicU64,
    /// (first, last) scrape.
    seen: Mutex<Option<(Instant, Instant)>>,
    notify: Notify,
}

impl Scrapes {
    fn record(&self) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        *seen = Some(seen.map_or((now, now), |(first, _)| (first, now)));
        self.count.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_waiters();
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// The mean time between the scrapes seen so far.
    pub fn interval(&self) -> Option<Duration> {
        let count = self.count();
        let seen = *self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.filter(|_| count > 1).map(|(first, last)| (last - first) / (count - 1) as u32)
    }

    /// Waits for a scrape that starts after this call, at most `limit`; true when one came.
    pub async fn next(&self, limit: Duration) -> bool {
        let notified = self.notify.notified();
        tokio::time::timeout(limit, notified).await.is_ok()
    }
}

impl Endpoints {
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Result<HttpResponse, DropConnection> {
        let probe = matches!(request.uri().path(), "/health" | "/ready");
        let auth = self.web_config.as_ref().filter(|_| !probe).and_then(|c| c.current().auth);
        if let Some(auth) = auth {
            if !auth.allows(request.headers().get(hyper::header::AUTHORIZATION)).await {
                let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
                response.headers_mut().insert(
                    hyper::header::WWW_AUTHENTICATE,
                    hyper::header::HeaderValue::from_static("Basic realm=\"sloprober\""),
                );
                return Ok(response);
            }
        }
        let response = match (request.method(), request.uri().path()) {
            (&Method::GET, "/metrics") => {
                self.scrapes.record();
                let mut response = text(StatusCode::OK, self.metrics.render());
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
            (&Method::GET, "/") => page(crate::status::page(), "text/html; charset=utf-8"),
            (&Method::GET, "/status.json") => {
                page(serde_json::to_string(&self.board.document()).unwrap_or_default(), "application/json")
            }
            (&Method::GET, "/health") => text(StatusCode::OK, "ok\n"),
            (&Method::GET, "/ready") if self.ready.load(Ordering::Acquire) => text(StatusCode::OK, "ready\n"),
            (&Method::GET, "/ready") => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
            (&Method::POST, "/-/reload") => self.reload().await,
            (_, "/" | "/status.json" | "/metrics" | "/health" | "/ready" | "/-/reload") => {
                text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
            }
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        };
        Ok(response)
    }

    async fn reload(&self) -> HttpResponse {
        let reload = match &self.reload {
            HttpReload::Enabled(reload) => reload,
            HttpReload::Disabled => {
                return text(
                    StatusCode::FORBIDDEN,
                    "reload over HTTP is off; start the daemon with --web.enable-lifecycle, or send SIGHUP\n",
                )
            }
            HttpReload::OneShot => return text(StatusCode::BAD_REQUEST, "a one-shot run does not reload its config\n"),
        };
        let (tx, rx) = oneshot::channel();
        if reload.send(tx).await.is_err() {
            return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
        }
        match rx.await {
            Ok(Ok(())) => text(StatusCode::OK, "config reloaded\n"),
            Ok(Err(problems)) => {
                text(StatusCode::BAD_REQUEST, format!("{problems}\nthe previous config keeps running\n"))
            }
            Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
        }
    }
}

/// The status page or its data: never cached, and (for the page) allowed
/// to load nothing but itself and `status.json`.
fn page(body: String, content_type: &'static str) -> HttpResponse {
    use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
    let mut response = text(StatusCode::OK, body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(crate::status::CONTENT_SECURITY_POLICY));
    response
}
