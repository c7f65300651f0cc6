//! Plain-http targets: each VU keeps its own keep-alive HTTP/1.1 connection,
//! as a k6 VU does, and drives it from its own task. Sending a request and
//! reading its answer then wake one task, where a shared pool (reqwest) wakes
//! a connection task, a pool and the VU's task through channels: on loopback
//! that difference is half of the generator's CPU.

use super::outcome;
use crate::sample::FailReason;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use tokio::net::TcpStream;

/// Where a plain-http request connects: host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub host: String,
    pub port: u16,
}

/// One VU's connection, if it has one open.
#[derive(Default)]
pub struct VuConnection(Option<Open>);

type Driver = Connection<TokioIo<TcpStream>, Full<Bytes>>;
type Request = http::Request<Full<Bytes>>;

struct Open {
    origin: Origin,
    sender: SendRequest<Full<Bytes>>,
    driver: Pin<Box<Driver>>,
    /// The connection ended (closed by either side); it takes no more requests.
    ended: bool,
}

/// A response head and its whole body.
pub struct Answer {
    pub head: http::response::Parts,
    pub body: Result<Bytes, FailReason>,
}

impl VuConnection {
    /// Sends `request` to `origin` over this VU's connection, opening one when
    /// there is none, it goes elsewhere, or the server closed it while idle.
    /// The connection is kept only after a complete exchange: one that failed,
    /// timed out or was interrupted is dropped, and the next request starts on
    /// a fresh one.
    pub async fn send(&mut self, origin: &Origin, request: Request) -> Result<Answer, FailReason> {
        let kept = match self.0.take().filter(|open| open.origin == *origin) {
            Some(open) => open.ready().await,
            None => None,
        };
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
            self.0 = Some(open);
        }
        answer
    }
}

impl Open {
    async fn connect(origin: &Origin) -> Result<Open, FailReason> {
        let stream = TcpStream::connect((origin.host.as_str(), origin.port)).await.map_err(|_| FailReason::Connect)?;
        stream.set_nodelay(true).map_err(|_| FailReason::Connect)?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream)).await.map_err(|_| FailReason::Connect)?;
        Ok(Open { origin: origin.clone(), sender, driver: Box::pin(driver), ended: false })
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
