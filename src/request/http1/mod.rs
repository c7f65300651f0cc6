//! Plain-http targets: keep-alive HTTP/1.1 connections that the VU sending a
//! request drives itself (no task per connection). A request goes out in one write; its
//! answer is parsed in place with `httparse` as it arrives, the header values
//! and the body sharing the bytes read. A general client (hyper's dispatcher,
//! reqwest's pool) passes each request and answer through channels between
//! tasks; on loopback that costs more CPU than the HTTP itself.
//!
//! Between requests a connection waits in a [`super::pool::Pool`].

#[cfg(test)]
mod fuzz;
mod head;

use super::answer;
use super::body::{keep_prefix, Encoding};
use super::connect::{Origin, Stream};
use super::outcome;
use super::transport::{Marks, Unanswered};
use super::Response;
use crate::model::sample::FailReason;
use bytes::{Buf, Bytes, BytesMut};
pub use head::KeepHeaders;
use head::{parse_head, status_line, BadHead, Framing, Head, MAX_HEAD};
use http::HeaderMap;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A request ready to write: its head up to the last header (request line,
/// `host` and the other headers), and its body.
pub struct Outgoing<'a> {
    pub head: &'a [u8],
    pub body: &'a [u8],
    /// The method is one whose empty body is still announced (`content-length: 0`).
    pub announce_empty_body: bool,
    /// A HEAD request: the answer has no body whatever its headers say.
    pub is_head: bool,
    /// Which of the answer's headers the caller reads; the few that frame
    /// the answer are looked at in any case.
    pub keep_headers: KeepHeaders,
    /// Redirects are followed: a 3xx answer's `location` is kept too.
    pub keep_location: bool,
    /// The method is idempotent (RFC 9110 9.2.2): sending it twice has the
    /// effect of sending it once, so it may be repeated when nothing answered.
    pub retry_safe: bool,
    /// How many bytes of the answer's body to keep; the rest is read and dropped.
    pub keep_body: usize,
    /// The statuses the request expects (`expected_statuses`; empty: any
    /// 2xx or 3xx). An answer with another keeps all its headers and at
    /// least [`answer::BODY_KEPT`] bytes of body, to show why it failed.
    pub expected_statuses: &'a [u16],
}

impl Outgoing<'_> {
    /// What is kept of an answer with `status`: (headers, body bytes).
    pub fn keeps(&self, status: u16) -> (KeepHeaders, usize) {
        if crate::plan::request::expects(self.expected_statuses, status) {
            (self.keep_headers, self.keep_body)
        } else {
            (KeepHeaders::All, self.keep_body.max(answer::BODY_KEPT))
        }
    }
}

/// Bytes read from a connection at a time, at least.
const READ_CHUNK: usize = 4096;
/// A body up to this long is read whole even when little of it is kept; a
/// longer one is read, counted and dropped a buffer at a time.
const READ_WHOLE: usize = 64 * 1024;
/// The most of a body that is being dropped read at a time.
const DROP_CHUNK: usize = 256 * 1024;
/// A request longer than this is written while watching for an early answer.
const WATCH_WHILE_WRITING: usize = 64 * 1024;
/// A connection idle at least this long is checked for a close from the
/// server before it is used; a busier one is used at once.
const CHECK_AFTER_IDLE: Duration = Duration::from_millis(1);

/// One open connection and what it has read but not yet parsed. It goes
/// back to the idle list only after a complete exchange that leaves it
/// open: one that failed, timed out or was interrupted is closed.
pub struct Conn {
    origin: Origin,
    stream: Stream,
    read: BytesMut,
    /// The request being written, reused from one request to the next.
    write: Vec<u8>,
    /// The server closed its side: a read returned nothing.
    eof: bool,
    /// When the first byte of an answer to the current request arrived (a `1xx` head counts).
    first_byte_at: Option<Instant>,
    /// When the current request was written.
    wrote_at: Instant,
    /// Bytes read since the current request was written.
    received: u64,
    /// The whole current request went out (a long one may get an answer before).
    sent_whole: bool,
    idle_since: Instant,
}

impl Conn {
    /// A new connection to `origin` over `stream`.
    pub fn new(origin: &Origin, stream: Stream) -> Conn {
        Conn {
            origin: origin.clone(),
            stream,
            read: BytesMut::new(),
            write: Vec::new(),
            eof: false,
            first_byte_at: None,
            wrote_at: Instant::now(),
            received: 0,
            sent_whole: false,
            idle_since: Instant::now(),
        }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Marks the connection idle from now.
    pub fn mark_idle(&mut self, now: Instant) {
        self.idle_since = now;
    }

    /// Frees the buffers of an idle connection (they are made again for its next request).
    pub fn free_buffers(&mut self) {
        if self.read.is_empty() {
            self.read = BytesMut::new();
        }
        self.write = Vec::new();
    }

    /// When the connection last became idle.
    pub fn idle_since(&self) -> Instant {
        self.idle_since
    }

    /// False when the server closed the connection (or sent something
    /// unasked) while it was idle for `idle`; not looked at when that was brief.
    pub fn usable_after_idle(&mut self, idle: Duration) -> bool {
        idle < CHECK_AFTER_IDLE || self.stream.still_open()
    }

    /// Writes the whole request in one call where the socket takes it.
    pub async fn write(&mut self, request: &Outgoing<'_>) -> Result<(), FailReason> {
        self.first_byte_at = None;
        self.received = 0;
        self.write.clear();
        self.write.extend_from_slice(request.head);
        if !request.body.is_empty() || request.announce_empty_body {
            self.write.extend_from_slice(b"content-length: ");
            self.write.extend_from_slice(itoa(request.body.len(), &mut [0u8; 20]));
            self.write.extend_from_slice(b"\r\n");
        }
        self.write.extend_from_slice(b"\r\n");
        self.write.extend_from_slice(request.body);
        let written = if self.write.len() <= WATCH_WHILE_WRITING {
            self.sent_whole = true;
            match self.stream.write_all(&self.write).await {
                Ok(()) => self.stream.flush().await.map_err(|_| FailReason::Reset),
                Err(_) => Err(FailReason::Reset),
            }
        } else {
            // Boxed: its state would otherwise make every request's future larger.
            Box::pin(self.write_watching()).await
        };
        self.wrote_at = Instant::now();
        written
    }

    /// Writes a long request while watching for an answer: a server may
    /// answer (a 413, a 401) before it has taken the whole body, and stop
    /// reading. The first bytes of such an answer end the write, and the
    /// answer is read as any other; the connection is not used again.
    async fn write_watching(&mut self) -> Result<(), FailReason> {
        self.sent_whole = false;
        let (mut written, mut watching) = (0, true);
        poll_fn(|cx| {
            if watching {
                match self.poll_early(cx) {
                    Some(true) => return Poll::Ready(Ok(())),
                    Some(false) => watching = false,
                    None => {}
                }
            }
            while written < self.write.len() {
                match Pin::new(&mut self.stream).poll_write(cx, &self.write[written..]) {
                    Poll::Ready(Ok(n)) if n > 0 => written += n,
                    // Refused mid-way: an answer may be waiting all the same.
                    Poll::Ready(_) => {
                        let answered = self.poll_early(cx) == Some(true);
                        return Poll::Ready(if answered { Ok(()) } else { Err(FailReason::Reset) });
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            match Pin::new(&mut self.stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.sent_whole = true;
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(_)) => Poll::Ready(Err(FailReason::Reset)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// While a long request is written: Some(true) when answer bytes
    /// arrived, Some(false) when the server closed, None for nothing yet.
    fn poll_early(&mut self, cx: &mut std::task::Context<'_>) -> Option<bool> {
        self.read.reserve(READ_CHUNK);
        match tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.read) {
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                Some(false)
            }
            Poll::Ready(Ok(n)) => {
                self.first_byte_at.get_or_insert_with(Instant::now);
                self.received += n as u64;
                Some(true)
            }
            Poll::Ready(Err(_)) => Some(false),
            Poll::Pending => None,
        }
    }

    /// Reads the answer to the request just written; the connection comes
    /// back with it when it may carry another.
    pub async fn finish(mut self, request: &Outgoing<'_>) -> Result<(Response, Option<Conn>), Unanswered> {
        let head = match self.read_head(request).await {
            Ok(head) => head,
            Err(HeadFailure::Read(FailReason::Reset)) if self.read.is_empty() && self.first_byte_at.is_none() => {
                return Err(Unanswered::Nothing)
            }
            Err(HeadFailure::Read(reason)) => return Err(Unanswered::Failed(reason)),
            Err(HeadFailure::Bad(BadHead { status: None })) => return Err(Unanswered::Failed(FailReason::Header)),
            Err(HeadFailure::Bad(BadHead { status: Some(status) })) => {
                return Ok((self.answer(status, HeaderMap::new(), Err(FailReason::Header), Encoding::Identity), None))
            }
        };
        let (_, keep_body) = request.keeps(head.status);
        let mut headers = HeaderMap::new();
        // Only when a header was kept: splitting the head off would make the
        // read buffer allocate anew for the next answer.
        if !head.headers.is_empty() {
            let head_bytes = self.read.split_to(head.len).freeze();
            headers.reserve(head.headers.len());
            for (name, range) in head.headers {
                match head::header_value(head_bytes.slice(range)) {
                    Ok(value) => headers.append(name, value),
                    Err(_) => {
                        return Ok((self.answer(head.status, headers, Err(FailReason::Header), head.encoding), None))
                    }
                };
            }
        } else {
            self.read.advance(head.len);
        }
        let body = match head.framing {
            // A small answer that arrived whole with its head: no await.
            Framing::Length(len) if len <= self.read.len() && len <= keep_body.max(READ_WHOLE) => {
                Ok(self.split_body(len, keep_body))
            }
            _ => self.read_body(&head.framing, keep_body).await,
        };
        let reusable =
            head.keep_alive && head.framing != Framing::UntilClose && self.read.is_empty() && self.sent_whole;
        let response = self.answer(head.status, headers, body, head.encoding);
        let reusable = response.body.is_ok() && reusable;
        Ok((response, reusable.then_some(self)))
    }

    fn answer(&self, status: u16, headers: HeaderMap, body: Result<Bytes, FailReason>, encoding: Encoding) -> Response {
        let marks =
            Marks { ready: None, wrote: self.wrote_at, first_byte: self.first_byte_at.unwrap_or(self.wrote_at) };
        Response { status, received: self.received, headers, body, encoding, retried: false, marks }
    }

    /// Reads until a final (non-1xx) head is complete.
    async fn read_head(&mut self, request: &Outgoing<'_>) -> Result<Head, HeadFailure> {
        let keep = |status| (request.keeps(status).0, request.keep_location);
        loop {
            match parse_head(&self.read, request.is_head, keep).map_err(HeadFailure::Bad)? {
                Some(head) if (100..200).contains(&head.status) && head.status != 101 => {
                    self.read.advance(head.len);
                }
                Some(head) => return Ok(head),
                None if self.read.len() > MAX_HEAD => {
                    return Err(HeadFailure::Bad(BadHead { status: status_line(&self.read) }))
                }
                None => self.fill(READ_CHUNK).await.map_err(HeadFailure::Read)?,
            }
        }
    }

    /// The body as `framing` delimits it, its first `keep` bytes kept.
    async fn read_body(&mut self, framing: &Framing, keep: usize) -> Result<Bytes, FailReason> {
        let mut kept = BytesMut::new();
        match *framing {
            Framing::Empty => return Ok(Bytes::new()),
            Framing::Length(len) if len <= keep.max(READ_WHOLE) => {
                while self.read.len() < len {
                    self.fill(len - self.read.len()).await?;
                }
                return Ok(self.split_body(len, keep));
            }
            Framing::Length(len) => self.read_part(len, &mut kept, keep).await?,
            Framing::Chunked => self.read_chunks(&mut kept, keep).await?,
            Framing::UntilClose => loop {
                let available = self.read.len();
                self.take(available, &mut kept, keep);
                match self.fill(DROP_CHUNK).await {
                    Ok(()) => {}
                    Err(_) if self.eof => break,
                    Err(reason) => return Err(reason),
                }
            },
        }
        Ok(kept.freeze())
    }

    /// A body of `len` bytes that is all in the buffer, without a copy; its first `keep` bytes.
    fn split_body(&mut self, len: usize, keep: usize) -> Bytes {
        if keep == 0 {
            // Nothing reads it: splitting would share the buffer, and the next read allocate anew.
            self.read.advance(len);
            return Bytes::new();
        }
        let mut body = self.read.split_to(len).freeze();
        body.truncate(keep);
        body
    }

    /// The next `len` bytes of a body, as many of them added to `kept` as fit in `keep`.
    async fn read_part(&mut self, mut len: usize, kept: &mut BytesMut, keep: usize) -> Result<(), FailReason> {
        while len > 0 {
            if self.read.is_empty() {
                self.fill(len.min(DROP_CHUNK)).await?;
            }
            let n = len.min(self.read.len());
            self.take(n, kept, keep);
            len -= n;
        }
        Ok(())
    }

    /// Moves `n` read bytes off the buffer, keeping what fits in `keep`.
    fn take(&mut self, n: usize, kept: &mut BytesMut, keep: usize) {
        keep_prefix(kept, &self.read[..n], keep);
        self.read.advance(n);
    }

    /// A chunked body, its trailer fields skipped; a chunk of any size is read a buffer at a time.
    async fn read_chunks(&mut self, kept: &mut BytesMut, keep: usize) -> Result<(), FailReason> {
        loop {
            let (line, size) = match httparse::parse_chunk_size(&self.read) {
                Ok(httparse::Status::Complete(found)) => found,
                Ok(httparse::Status::Partial) if self.read.len() > MAX_HEAD => return Err(FailReason::Body),
                Ok(httparse::Status::Partial) => {
                    self.fill(READ_CHUNK).await?;
                    continue;
                }
                Err(_) => return Err(FailReason::Body),
            };
            self.read.advance(line);
            if size == 0 {
                return self.skip_trailers().await;
            }
            let size = usize::try_from(size).map_err(|_| FailReason::Body)?;
            self.read_part(size, kept, keep).await?;
            while self.read.len() < 2 {
                self.fill(2).await?;
            }
            if &self.read[..2] != b"\r\n" {
                return Err(FailReason::Body);
            }
            self.read.advance(2);
        }
    }

    /// Trailer lines up to and including the empty line that ends the body.
    async fn skip_trailers(&mut self) -> Result<(), FailReason> {
        loop {
            match self.read.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.read.advance(2);
                    return Ok(());
                }
                Some(end) => self.read.advance(end + 2),
                None if self.read.len() > MAX_HEAD => return Err(FailReason::Body),
                None => self.fill(READ_CHUNK).await?,
            }
        }
    }

    /// Reads at least one more byte (room for `want` more); the connection
    /// ending first is a reset. A TLS connection closed without
    /// `close_notify` counts as closed, as curl and browsers take it.
    async fn fill(&mut self, want: usize) -> Result<(), FailReason> {
        self.read.reserve(want.clamp(READ_CHUNK, 1 << 20));
        match self.stream.read_buf(&mut self.read).await {
            Ok(n) if n > 0 => {
                self.first_byte_at.get_or_insert_with(Instant::now);
                self.received += n as u64;
                Ok(())
            }
            Ok(_) => {
                self.eof = true;
                Err(FailReason::Reset)
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && matches!(self.stream, Stream::Tls(_)) => {
                self.eof = true;
                Err(FailReason::Reset)
            }
            Err(e) => Err(outcome::io_reason(&e, false)),
        }
    }
}

/// Why no head was read: the connection failed, or what arrived is not a head.
enum HeadFailure {
    Read(FailReason),
    Bad(BadHead),
}

/// `n` in decimal, written into `buf`.
fn itoa(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

#[cfg(test)]
mod tests;
