//! The daemon's HTTP endpoints: `/metrics`, `/health`, `/ready`, `POST /-/reload`.

use crate::http_server::{text, DropConnection, HttpResponse};
use crate::metrics::ProberMetrics;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A reload request; the answer is Ok or the problems found in the new config.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// What the endpoints read.
pub struct Endpoints {
    pub metrics: Arc<ProberMetrics>,
    /// Config loaded and executors running.
    pub ready: AtomicBool,
    pub reload: mpsc::Sender<ReloadRequest>,
}

impl Endpoints {
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Result<HttpResponse, DropConnection> {
        let response = match (request.method(), request.uri().path()) {
            (&Method::GET, "/metrics") => {
                let mut response = text(StatusCode::OK, self.metrics.render());
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
            (&Method::GET, "/health") => text(StatusCode::OK, "ok\n"),
            (&Method::GET, "/ready") if self.ready.load(Ordering::Acquire) => text(StatusCode::OK, "ready\n"),
            (&Method::GET, "/ready") => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
            (&Method::POST, "/-/reload") => self.reload().await,
            (_, "/metrics" | "/health" | "/ready" | "/-/reload") => {
                text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
            }
            (_, "/") => text(StatusCode::OK, "sloprober: see /metrics, /health, /ready, POST /-/reload\n"),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        };
        Ok(response)
    }

    async fn reload(&self) -> HttpResponse {
        let (tx, rx) = oneshot::channel();
        if self.reload.send(tx).await.is_err() {
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
