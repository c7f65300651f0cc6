//! Opening a connection to an origin: the TCP connect (to the proxy, when the
//! target has one, and for https a `CONNECT` tunnel through it), and for
//! https the TLS handshake with the scenario's client configuration, which
//! also says (by ALPN) whether the server speaks HTTP/2 on it. One [`Stream`]
//! type carries both, so plain http and https share the HTTP/1.1 exchange.

use super::outcome::{self, Failed};
use crate::model::sample::FailReason;
use crate::plan::proxy::ProxyPlan;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

/// Where a request connects: host and port, for https how to shake hands,
/// and the proxy it goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub host: String,
    pub port: u16,
    pub tls: Option<TlsOrigin>,
    pub proxy: Option<Arc<ProxyPlan>>,
}

/// The TLS side of an https origin: the scenario's client configuration and
/// the name the server's certificate is verified for (sent as SNI).
#[derive(Clone)]
pub struct TlsOrigin {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// Two https origins are the same when they share the scenario's
/// configuration (one `Arc` per scenario and reload) and the server name.
impl PartialEq for TlsOrigin {
    fn eq(&self, other: &TlsOrigin) -> bool {
        Arc::ptr_eq(&self.config, &other.config) && self.server_name == other.server_name
    }
}

impl Eq for TlsOrigin {}

impl std::fmt::Debug for TlsOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOrigin").field("server_name", &self.server_name).finish()
    }
}

/// A connection's byte stream: plain TCP, or TLS over it (boxed: a TLS
/// session is some kilobytes, and a plain connection should not carry room for one).
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The protocol the server agreed to speak on a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    /// Chosen by ALPN during the TLS handshake.
    Http2,
}

/// A new connection and how long it took to make (k6's `http_req_connecting`
/// and `http_req_tls_handshaking`).
pub struct Connected {
    pub stream: Stream,
    pub protocol: Protocol,
    pub connecting: Duration,
    pub tls_handshaking: Duration,
}

/// Connects to `origin`: name lookup and TCP connect (a failure is
/// `connect`, as is a proxy that refuses the tunnel), then for https the
/// handshake (a failure is `tls`). A failure says what went wrong.
pub async fn connect(origin: &Origin) -> Result<Connected, Failed> {
    let started = Instant::now();
    let (host, port) = match &origin.proxy {
        Some(proxy) => (proxy.host.as_str(), proxy.port),
        None => (origin.host.as_str(), origin.port),
    };
    let what = || if origin.proxy.is_some() { "the proxy" } else { "the server" };
    let mut tcp = TcpStream::connect((host, port)).await.map_err(|e| {
        Failed::because(FailReason::Connect, format_args!("connecting to {} {host}:{port}: {e}", what()))
    })?;
    tcp.set_nodelay(true).map_err(|e| Failed::because(FailReason::Connect, e))?;
    if let (Some(proxy), Some(_)) = (&origin.proxy, &origin.tls) {
        tunnel(&mut tcp, origin, proxy).await?;
    }
    let connecting = started.elapsed();
    let Some(tls) = &origin.tls else {
        return Ok(Connected {
            stream: Stream::Plain(tcp),
            protocol: Protocol::Http1,
            connecting,
            tls_handshaking: Duration::ZERO,
        });
    };
    let shaking = Instant::now();
    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
    let stream = connector
        .connect(tls.server_name.clone(), tcp)
        .await
        .map_err(|e| Failed::because(outcome::io_reason(&e, true), format_args!("TLS handshake: {e}")))?;
    let protocol = match stream.get_ref().1.alpn_protocol() {
        Some(b"h2") => Protocol::Http2,
        _ => Protocol::Http1,
    };
    Ok(Connected { stream: Stream::Tls(Box::new(stream)), protocol, connecting, tls_handshaking: shaking.elapsed() })
}

/// Asks `proxy` for a tunnel to `origin` (RFC 9110 9.3.6); any answer but
/// 2xx is a `connect` failure (a 407 when its credentials are missing or wrong).
async fn tunnel(tcp: &mut TcpStream, origin: &Origin, proxy: &ProxyPlan) -> Result<(), Failed> {
    let authority = match origin.host.contains(':') {
        true => format!("[{}]:{}", origin.host, origin.port),
        false => format!("{}:{}", origin.host, origin.port),
    };
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n").into_bytes();
    if let Some(authorization) = &proxy.authorization {
        request.extend_from_slice(b"proxy-authorization: ");
        request.extend_from_slice(authorization.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    let refused = |why: String| Failed::because(FailReason::Connect, format_args!("proxy tunnel: {why}"));
    tcp.write_all(&request).await.map_err(|e| refused(e.to_string()))?;
    // The answer's head, read a byte at a time: what follows it is the server's.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || tcp.read_u8().await.map(|b| head.push(b)).is_err() {
            return Err(refused("no answer to CONNECT".into()));
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut answer = httparse::Response::new(&mut headers);
    match answer.parse(&head) {
        Ok(httparse::Status::Complete(_)) if answer.code.is_some_and(|c| (200..300).contains(&c)) => Ok(()),
        Ok(httparse::Status::Complete(_)) => {
            Err(refused(format!("the proxy answered HTTP {}", answer.code.unwrap_or(0))))
        }
        _ => Err(refused("the proxy's answer is not HTTP".into())),
    }
}

impl Stream {
    /// False when the server closed the connection (or sent something
    /// unasked) while it was idle. Over TLS, records that carry no data (a
    /// TLS 1.3 session ticket) are taken in and do not count.
    pub fn still_open(&mut self) -> bool {
        match self {
            Stream::Plain(tcp) => {
                matches!(tcp.try_read(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Stream::Tls(tls) => {
                let mut byte = [0u8; 1];
                let mut buf = ReadBuf::new(&mut byte);
                let mut cx = Context::from_waker(Waker::noop());
                matches!(Pin::new(tls.as_mut()).poll_read(&mut cx, &mut buf), Poll::Pending)
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
