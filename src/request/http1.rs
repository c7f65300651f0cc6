//! Plain-http targets: keep-alive HTTP/1.1 connections that the VU sending a
//! request drives from its own task. Sending a request and reading its answer
//! then wake one task, where a shared pool (reqwest) wakes a connection task,
//! a pool and the VU's task through channels: on loopback that difference is
//! half of the generator's CPU.
//!
//! Between requests a connection waits in its thread's idle list, where the
//! next VU on that thread to send to the same origin picks it up. A process
//! thus holds as many connections as it ever had requests in flight at once,
//! not one per VU.

use super::outcome;
use crate::sample::FailReason;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Where a plain-http request connects: host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub host: String,
    pub port: u16,
}

type Driver = Connection<TokioIo<TcpStream>, Full<Bytes>>;
type Request = http::Request<Full<Bytes>>;

struct Open {
    origin: Origin,
    sender: SendRequest<Full<Bytes>>,
    driver: Pin<Box<Driver>>,
    /// The connection ended (closed by either side); it takes no more requests.
    ended: bool,
    idle_since: Instant,
}

/// A response head and its whole body.
pub struct Answer {
    pub head: http::response::Parts,
    pub body: Result<Bytes, FailReason>,
}

/// Bytes read from a connection at a time.
const READ_BUFFER: usize = 4096;

/// An idle connection unused this long is closed, as reqwest's pool does.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

thread_local! {
    /// This thread's idle connections per origin, the most recently used last.
    static IDLE: RefCell<HashMap<Origin, Vec<Open>>> = RefCell::new(HashMap::new());
}

/// Sends `request` to `origin` over an idle connection of this thread, or a
/// new one when there is none or the server closed them while idle. A
/// connection goes back to the idle list only after a complete exchange: one
/// that failed, timed out or was interrupted is closed.
pub async fn send(origin: &Origin, request: Request) -> Result<Answer, FailReason> {
    let mut kept = None;
    while let Some(open) = take_idle(origin) {
        kept = open.ready().await;
        if kept.is_some() {
            break;
        }
    }
    let reused = kept.is_some();
    let mut open = match kept {
        Some(open) => open,
        None => Open::connect(origin).await?,
    };
    let answer = match open.exchange(request).await {
        // The server closed the kept connection just as the request went
        // out, and hyper says not a byte of it was written: a fresh
        // connection may send it.
        Err((_, Some(unsent))) if reused => {
            open = Open::connect(origin).await?;
            open.exchange(unsent).await
        }
        other => other,
    };
    let answer = answer.map_err(|(reason, _)| reason);
    if matches!(&answer, Ok(Answer { body: Ok(_), .. })) && !open.ended {
        put_idle(open);
    }
    answer
}

/// The most recently used idle connection to `origin`.
fn take_idle(origin: &Origin) -> Option<Open> {
    IDLE.with_borrow_mut(|idle| idle.get_mut(origin)?.pop())
}

fn put_idle(mut open: Open) {
    open.idle_since = Instant::now();
    IDLE.with_borrow_mut(|idle| {
        // Looked up before inserting: the key is cloned only for a new origin.
        let list = match idle.get_mut(&open.origin) {
            Some(list) => list,
            None => idle.entry(open.origin.clone()).or_default(),
        };
        list.push(open);
        // The oldest is first; it is closed once unused for IDLE_TIMEOUT.
        if list.first().is_some_and(|oldest| oldest.idle_since.elapsed() > IDLE_TIMEOUT) {
            list.remove(0);
        }
    });
}

impl Open {
    async fn connect(origin: &Origin) -> Result<Open, FailReason> {
        let stream = TcpStream::connect((origin.host.as_str(), origin.port)).await.map_err(|_| FailReason::Connect)?;
        stream.set_nodelay(true).map_err(|_| FailReason::Connect)?;
        let (sender, driver) = http1::Builder::new()
            // Reads of at most 4 KiB rather than hyper's adaptive 8 KiB and up: a
            // burst of thousands of connections costs half the memory, and answers
            // to probes are small.
            .read_buf_exact_size(Some(READ_BUFFER))
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|_| FailReason::Connect)?;
        Ok(Open { origin: origin.clone(), sender, driver: Box::pin(driver), ended: false, idle_since: Instant::now() })
    }

    /// The connection, if it can take a request now. Driving it once lets it
    /// read a close that arrived while it was idle.
    async fn ready(mut self) -> Option<Open> {
        // The driver first: a ready sender does not mean the server is still there.
        poll_fn(|cx| {
            self.ended = self.ended || self.driver.as_mut().poll(cx).is_ready();
            Poll::Ready(())
        })
        .await;
        let sender = &mut self.sender;
        let ready = drive(&mut self.driver, &mut self.ended, poll_fn(|cx| sender.poll_ready(cx))).await;
        (matches!(ready, Some(Ok(()))) && !self.ended).then_some(self)
    }

    /// One request and its answer. A failure carries the request back if it
    /// was never written.
    async fn exchange(&mut self, request: Request) -> Result<Answer, (FailReason, Option<Request>)> {
        let sent = self.sender.try_send_request(request);
        let response = match drive(&mut self.driver, &mut self.ended, sent).await {
            None => return Err((FailReason::Reset, None)),
            Some(Err(mut failed)) => return Err((outcome::classify_hyper(failed.error()), failed.take_message())),
            Some(Ok(response)) => response,
        };
        let (head, body) = response.into_parts();
        let body = drive(&mut self.driver, &mut self.ended, body.collect()).await.ok_or(FailReason::Reset);
        let body = body.and_then(|read| read.map(|c| c.to_bytes()).map_err(|e| outcome::classify_hyper(&e)));
        Ok(Answer { head, body })
    }
}

/// Runs `work` while driving the connection (writing the request, reading the
/// answer) on the same task. None when the connection ended first: what `work`
/// waits for will never come.
async fn drive<F: Future>(driver: &mut Pin<Box<Driver>>, ended: &mut bool, work: F) -> Option<F::Output> {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if !*ended && driver.as_mut().poll(cx).is_ready() {
            *ended = true;
        }
        // The connection may have just delivered what `work` waits for.
        match work.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending if *ended => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
