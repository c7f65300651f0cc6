//! HTTP/2, where a server's ALPN picks it: hyper's client on the TLS
//! connection, one session per origin in a pool ([`super::pool`]), its
//! requests sent as streams. A request is laid out from the same HTTP/1.1 head the
//! other transport writes, so headers, bytes counted and checks agree; the
//! answer is read as far as `keep_body` keeps it and the rest dropped.

use super::body::{keep_prefix, Encoding};
use super::connect::Stream;
use super::http1::{KeepHeaders, Outgoing};
use super::outcome;
use super::transport::{Marks, Unanswered};
use super::Response;
use crate::model::sample::FailReason;
use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, HOST, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::time::Instant;

/// A handle on an HTTP/2 session: cloned for each stream.
pub type Sender = SendRequest<Full<Bytes>>;

/// Starts a session over a connection whose handshake chose `h2`; its
/// connection is driven by a task of its own until every handle is dropped.
pub async fn handshake(stream: Stream) -> Result<Sender, FailReason> {
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| outcome::h2_reason(&e))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends `request` as a stream of the session `sender` belongs to.
pub async fn send(mut sender: Sender, request: &Outgoing<'_>) -> Result<Response, Unanswered> {
    let Some(laid_out) = lay_out(request) else {
        return Err(Unanswered::Failed(FailReason::Connect));
    };
    sender.ready().await.map_err(|e| unanswered(&e))?;
    // The request leaves as its stream opens: no time of its own for sending.
    let wrote = Instant::now();
    let mut answer = sender.send_request(laid_out).await.map_err(|e| unanswered(&e))?;
    let marks = Marks { ready: Some(wrote), wrote, first_byte: Instant::now() };
    let status = answer.status().as_u16();
    let (keep_headers, keep_body) = request.keeps(status);
    let all = std::mem::take(answer.headers_mut());
    let encoding = all.get(CONTENT_ENCODING).map_or(Encoding::Identity, |v| Encoding::of(v.as_bytes()));
    // The head as HTTP/1.1 would carry it (status line, `name: value` lines, blank line).
    let mut received = 17 + all.iter().map(|(n, v)| (n.as_str().len() + v.len() + 4) as u64).sum::<u64>();
    let location = request.keep_location && (300..400).contains(&status);
    let location = all.get(LOCATION).filter(|_| location).cloned();
    let mut headers = match keep_headers {
        KeepHeaders::All => all,
        KeepHeaders::SetCookie => all.get_all(SET_COOKIE).iter().map(|v| (SET_COOKIE, v.clone())).collect(),
        KeepHeaders::None => HeaderMap::new(),
    };
    if let Some(location) = location {
        headers.insert(LOCATION, location);
    }
    let mut kept = BytesMut::new();
    let body = loop {
        match answer.body_mut().frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    received += data.len() as u64;
                    keep_prefix(&mut kept, data, keep_body);
                }
            }
            None => break Ok(kept.freeze()),
            Some(Err(e)) => break Err(outcome::h2_reason(&e)),
        }
    };
    Ok(Response { status, received, headers, body, encoding, retried: false, marks })
}

/// Why a stream got no answer. A stream the server refused or never
/// processed (GOAWAY, REFUSED_STREAM: RFC 9113 8.7) may be sent again
/// whatever its method; a session that closed under it, as an idle
/// HTTP/1.1 connection that closes.
fn unanswered(error: &hyper::Error) -> Unanswered {
    let h2_error = std::error::Error::source(error).and_then(|s| s.downcast_ref::<h2::Error>());
    if error.is_canceled() || h2_error.is_some_and(|e| e.is_go_away() || e.reason() == Some(h2::Reason::REFUSED_STREAM))
    {
        return Unanswered::Refused;
    }
    match outcome::h2_reason(error) {
        FailReason::Reset if error.is_closed() || h2_error.is_some_and(|e| e.is_io()) => Unanswered::Nothing,
        reason => Unanswered::Failed(reason),
    }
}

/// The HTTP/2 request for an HTTP/1.1 head: `host` becomes the authority,
/// and the fields HTTP/2 forbids (RFC 9113 8.2.2) are left out.
fn lay_out(request: &Outgoing<'_>) -> Option<Request<Full<Bytes>>> {
    let mut wire = Vec::with_capacity(request.head.len() + 2);
    wire.extend_from_slice(request.head);
    wire.extend_from_slice(b"\r\n");
    let mut slots = vec![httparse::EMPTY_HEADER; wire.iter().filter(|b| **b == b'\n').count()];
    let mut parsed = httparse::Request::new(&mut slots);
    parsed.parse(&wire).ok()?.is_complete().then_some(())?;
    let host = parsed.headers.iter().find(|h| h.name.eq_ignore_ascii_case("host"))?.value;
    let uri = http::Uri::builder().scheme("https").authority(host).path_and_query(parsed.path?).build().ok()?;
    let mut laid_out = Request::builder().method(parsed.method?).uri(uri).version(http::Version::HTTP_2);
    let headers = laid_out.headers_mut()?;
    for header in parsed.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        let forbidden = name == HOST
            || ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]
                .contains(&name.as_str())
            || (name == http::header::TE && !header.value.eq_ignore_ascii_case(b"trailers"));
        if !forbidden {
            headers.append(name, HeaderValue::from_bytes(header.value).ok()?);
        }
    }
    if !request.body.is_empty() || request.announce_empty_body {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(request.body.len()));
    }
    laid_out.body(Full::new(Bytes::copy_from_slice(request.body))).ok()
}
