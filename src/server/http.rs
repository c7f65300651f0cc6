//! A minimal hyper HTTP/1 server with graceful shutdown, shared by the
//! metrics endpoint and the demo target.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub type HttpResponse = Response<Full<Bytes>>;

/// Returned by a handler to drop the connection without answering
/// (the demo target uses it to simulate resets).
#[derive(Debug)]
pub struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// An answer with no body (204, for example).
pub fn empty(status: StatusCode) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

/// How long a client may take to send a request head: a connection that
/// opens and sends half a head (slowloris) is closed after this, rather than
/// held open for ever.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Prometheus' default for `--web.max-connections`.
pub const MAX_CONNECTIONS: usize = 512;

/// Gives the TLS configuration a new connection is served with.
pub type TlsConfigs = Arc<dyn Fn() -> Arc<rustls::ServerConfig> + Send + Sync>;

/// How connections are served.
#[derive(Clone)]
pub struct Listening {
    /// Open connections at most; a further one waits to be accepted until one closes.
    pub max_connections: usize,
    /// Served over TLS (`--web.config.file`): the server configuration for
    /// each new connection (it may change while serving).
    pub tls: Option<TlsConfigs>,
    /// A request head (and a TLS handshake) must arrive within this.
    pub head_timeout: Duration,
}

impl Default for Listening {
    fn default() -> Self {
        Listening { max_connections: MAX_CONNECTIONS, tls: None, head_timeout: HEAD_TIMEOUT }
    }
}

/// Serves connections until `shutdown` resolves, then gives open connections
/// up to `drain` to finish.
pub async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
    how: Listening,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<HttpResponse, DropConnection>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(how.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            _ = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let tls = how.tls.as_ref().map(|configs| tokio_rustls::TlsAcceptor::from(configs()));
                let (handler, watcher) = (handler.clone(), graceful.watcher());
                let builder = {
                    let mut builder = http1::Builder::new();
                    builder.keep_alive(true).timer(TokioTimer::new()).header_read_timeout(how.head_timeout);
                    builder
                };
                tokio::spawn(async move {
                    let _slot = slot;
                    match tls {
                        None => {
                            let connection = builder.serve_connection(TokioIo::new(stream), service_fn(handler));
                            let _ = watcher.watch(connection).await;
                        }
                        Some(tls) => {
                            let Ok(Ok(stream)) = tokio::time::timeout(how.head_timeout, tls.accept(stream)).await else {
                                return;
                            };
                            let connection = builder.serve_connection(TokioIo::new(stream), service_fn(handler));
                            let _ = watcher.watch(connection).await;
                        }
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    let _ = tokio::time::timeout(drain, graceful.shutdown()).await;
}

/// Reads a whole request body, bounded so a client cannot exhaust memory.
pub async fn read_body(request: Request<Incoming>, limit: usize) -> Option<Bytes> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(request.into_body(), limit);
    limited.collect().await.ok().map(|c| c.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_head_that_never_ends_is_closed_and_a_whole_one_is_answered() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handler = |_request: Request<Incoming>| async { Ok::<_, DropConnection>(text(StatusCode::OK, "ok")) };
        let how = Listening { head_timeout: Duration::from_millis(200), ..Listening::default() };
        let server = tokio::spawn(serve(listener, handler, std::future::pending(), Duration::ZERO, how));
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n").await.unwrap();
        let mut whole = tokio::net::TcpStream::connect(addr).await.unwrap();
        whole.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let mut answer = [0u8; 64];
        let n = whole.read(&mut answer).await.unwrap();
        assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&answer[..n]));
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "the half-sent head is still open after 5 s");
        assert!(started.elapsed() < Duration::from_secs(2), "closed after {:?}", started.elapsed());
        server.abort();
    }

    #[tokio::test]
    async fn past_the_connection_limit_a_connection_waits_for_a_free_slot() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handler = |_request: Request<Incoming>| async { Ok::<_, DropConnection>(text(StatusCode::OK, "ok")) };
        let how = Listening { max_connections: 1, ..Listening::default() };
        let server = tokio::spawn(serve(listener, handler, std::future::pending(), Duration::ZERO, how));
        let holder = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut waiting = tokio::net::TcpStream::connect(addr).await.unwrap();
        waiting.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let mut answer = [0u8; 64];
        let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut answer)).await;
        assert!(early.is_err(), "answered while the only slot was taken");
        drop(holder);
        let n = tokio::time::timeout(Duration::from_secs(5), waiting.read(&mut answer)).await.unwrap().unwrap();
        assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&answer[..n]));
        server.abort();
    }
}
