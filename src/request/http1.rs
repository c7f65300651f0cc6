//! Plain-http targets: keep-alive HTTP/1.1 connections that the VU sending a
//! request drives itself (no task per connection). A request goes out in one write; its
//! answer is parsed in place with `httparse` as it arrives, the header values
//! and the body sharing the bytes read. A general client (hyper's dispatcher,
//! reqwest's pool) passes each request and answer through channels between
//! tasks; on loopback that costs more CPU than the HTTP itself.
//!
//! Between requests a connection waits in its thread's idle list, where the
//! next VU on that thread to send to the same origin picks it up. A process
//! thus holds as many connections as it ever had requests in flight at once,
//! not one per VU.

use super::Response;
use crate::sample::FailReason;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use std::cell::RefCell;
use std::ops::Range;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where a plain-http request connects: host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub host: String,
    pub port: u16,
}

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
    /// The method is idempotent (RFC 9110 9.2.2): sending it twice has the
    /// effect of sending it once, so it may be repeated when nothing answered.
    pub retry_safe: bool,
}

/// Which header lines of an answer end up in [`Response::headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepHeaders {
    None,
    /// Only `set-cookie`, for the VU's cookie jar.
    SetCookie,
    All,
}

impl KeepHeaders {
    fn keeps(self, name: &[u8]) -> bool {
        match self {
            KeepHeaders::None => false,
            KeepHeaders::SetCookie => name.eq_ignore_ascii_case(b"set-cookie"),
            KeepHeaders::All => true,
        }
    }
}

/// Bytes read from a connection at a time, at least.
const READ_CHUNK: usize = 4096;
/// The most header lines an answer may have (as hyper).
const MAX_HEADERS: usize = 100;
/// A head longer than this is not HTTP worth waiting for.
const MAX_HEAD: usize = 64 * 1024;
/// An idle connection unused this long is closed, as reqwest's pool does.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// A connection idle at least this long is checked for a close from the
/// server before it is used; a busier one is used at once.
const CHECK_AFTER_IDLE: Duration = Duration::from_millis(1);

thread_local! {
    /// This thread's idle connections per origin, the most recently used last.
    /// A thread talks to few origins: a scan costs less than hashing the host.
    static IDLE: RefCell<Vec<(Origin, Vec<Conn>)>> = const { RefCell::new(Vec::new()) };
}

/// Sends `request` to `origin` over an idle connection of this thread, or a
/// new one when there is none or the server closed them while idle. A
/// connection goes back to the idle list only after a complete exchange that
/// leaves it open: one that failed, timed out or was interrupted is closed.
///
/// A reused connection can be closed by the server just as a request goes
/// out (its keep-alive timeout, or a close after each answer that it did not
/// announce). A write that fails then reached nothing, so the request goes
/// out once more on a fresh connection. A request written but answered by
/// nothing at all (the connection closed before the first byte of an
/// answer) is sent again likewise when it is safe to repeat
/// ([`Outgoing::retry_safe`]); the answer then says it was retried.
pub async fn send(origin: &Origin, request: &Outgoing<'_>) -> Result<Response, FailReason> {
    let mut retried = false;
    if let Some(mut conn) = take_idle(origin) {
        if conn.write(request).await.is_ok() {
            match conn.finish(request).await {
                Err(Unanswered::Nothing) if request.retry_safe => retried = true,
                other => return other.map_err(Unanswered::reason),
            }
        }
    }
    let mut conn = Conn::connect(origin).await?;
    conn.write(request).await?;
    let mut response = conn.finish(request).await.map_err(Unanswered::reason)?;
    response.retried = retried;
    Ok(response)
}

/// Why an exchange produced no answer: the connection closed before any
/// byte of one arrived, or something went wrong later.
enum Unanswered {
    Nothing,
    Failed(FailReason),
}

impl Unanswered {
    fn reason(self) -> FailReason {
        match self {
            Unanswered::Nothing => FailReason::Reset,
            Unanswered::Failed(reason) => reason,
        }
    }
}

/// The most recently used idle connection to `origin` that is still open.
fn take_idle(origin: &Origin) -> Option<Conn> {
    IDLE.with_borrow_mut(|idle| {
        let (_, list) = idle.iter_mut().find(|(known, _)| known == origin)?;
        while let Some(conn) = list.pop() {
            if conn.idle_since.elapsed() < CHECK_AFTER_IDLE || conn.still_open() {
                return Some(conn);
            }
        }
        None
    })
}

fn put_idle(mut conn: Conn) {
    let now = Instant::now();
    conn.idle_since = now;
    IDLE.with_borrow_mut(|idle| {
        let list = match idle.iter().position(|(origin, _)| *origin == conn.origin) {
            Some(index) => &mut idle[index].1,
            None => {
                idle.push((conn.origin.clone(), Vec::new()));
                &mut idle.last_mut().expect("just pushed").1
            }
        };
        list.push(conn);
        // The oldest is first; it is closed once unused for IDLE_TIMEOUT.
        if list.first().is_some_and(|oldest| now - oldest.idle_since > IDLE_TIMEOUT) {
            list.remove(0);
        }
    });
}

/// One open connection and what it has read but not yet parsed.
struct Conn {
    origin: Origin,
    stream: TcpStream,
    read: BytesMut,
    /// The request being written, reused from one request to the next.
    write: Vec<u8>,
    /// The server closed its side: a read returned nothing.
    eof: bool,
    /// A byte of an answer to the current request arrived (a `1xx` head counts).
    answered: bool,
    idle_since: Instant,
}

/// How the body of an answer is delimited.
#[derive(Debug, PartialEq)]
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// What the head of an answer says, with header values as ranges of the head.
struct Head {
    len: usize,
    status: u16,
    headers: Vec<(HeaderName, Range<usize>)>,
    framing: Framing,
    keep_alive: bool,
}

impl Conn {
    async fn connect(origin: &Origin) -> Result<Conn, FailReason> {
        let stream = TcpStream::connect((origin.host.as_str(), origin.port)).await.map_err(|_| FailReason::Connect)?;
        stream.set_nodelay(true).map_err(|_| FailReason::Connect)?;
        Ok(Conn {
            origin: origin.clone(),
            stream,
            read: BytesMut::new(),
            write: Vec::new(),
            eof: false,
            answered: false,
            idle_since: Instant::now(),
        })
    }

    /// False when the server closed the connection (or sent something
    /// unasked) while it was idle.
    fn still_open(&self) -> bool {
        matches!(self.stream.try_read(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// Writes the whole request in one call where the socket takes it.
    async fn write(&mut self, request: &Outgoing<'_>) -> Result<(), FailReason> {
        self.answered = false;
        self.write.clear();
        self.write.extend_from_slice(request.head);
        if !request.body.is_empty() || request.announce_empty_body {
            self.write.extend_from_slice(b"content-length: ");
            self.write.extend_from_slice(itoa(request.body.len(), &mut [0u8; 20]));
            self.write.extend_from_slice(b"\r\n");
        }
        self.write.extend_from_slice(b"\r\n");
        self.write.extend_from_slice(request.body);
        self.stream.write_all(&self.write).await.map_err(|_| FailReason::Reset)
    }

    /// Reads the answer to the request just written; the connection goes back
    /// to the idle list when it may carry another.
    async fn finish(mut self, request: &Outgoing<'_>) -> Result<Response, Unanswered> {
        let head = match self.read_head(request.is_head, request.keep_headers).await {
            Ok(head) => head,
            Err(FailReason::Reset) if self.read.is_empty() && !self.answered => return Err(Unanswered::Nothing),
            Err(reason) => return Err(Unanswered::Failed(reason)),
        };
        let mut headers = HeaderMap::new();
        // Only when a header was kept: splitting the head off would make the
        // read buffer allocate anew for the next answer.
        if !head.headers.is_empty() {
            let head_bytes = self.read.split_to(head.len).freeze();
            headers.reserve(head.headers.len());
            for (name, range) in head.headers {
                let value = HeaderValue::from_maybe_shared(head_bytes.slice(range))
                    .map_err(|_| Unanswered::Failed(FailReason::Body))?;
                headers.append(name, value);
            }
        } else {
            self.read.advance(head.len);
        }
        let body = self.read_body(&head.framing).await;
        let reusable = head.keep_alive && head.framing != Framing::UntilClose && self.read.is_empty();
        if body.is_ok() && reusable {
            put_idle(self);
        }
        Ok(Response { status: head.status, head_bytes: head.len as u64, headers, body, retried: false })
    }

    /// Reads until a final (non-1xx) head is complete.
    async fn read_head(&mut self, is_head_request: bool, keep_headers: KeepHeaders) -> Result<Head, FailReason> {
        loop {
            match parse_head(&self.read, is_head_request, keep_headers)? {
                Some(head) if (100..200).contains(&head.status) && head.status != 101 => {
                    self.read.advance(head.len);
                }
                Some(head) => return Ok(head),
                None if self.read.len() > MAX_HEAD => return Err(FailReason::Body),
                None => self.fill(READ_CHUNK).await?,
            }
        }
    }

    async fn read_body(&mut self, framing: &Framing) -> Result<Bytes, FailReason> {
        match *framing {
            Framing::Empty => Ok(Bytes::new()),
            Framing::Length(len) => {
                while self.read.len() < len {
                    self.fill(len - self.read.len()).await?;
                }
                Ok(self.read.split_to(len).freeze())
            }
            Framing::Chunked => self.read_chunks().await,
            Framing::UntilClose => loop {
                match self.fill(READ_CHUNK).await {
                    Ok(()) => {}
                    Err(_) if self.eof => return Ok(self.read.split().freeze()),
                    Err(reason) => return Err(reason),
                }
            },
        }
    }

    /// A chunked body, its trailer fields skipped.
    async fn read_chunks(&mut self) -> Result<Bytes, FailReason> {
        let mut body = BytesMut::new();
        loop {
            let (line, size) = match httparse::parse_chunk_size(&self.read) {
                Ok(httparse::Status::Complete(found)) => found,
                Ok(httparse::Status::Partial) => {
                    self.fill(READ_CHUNK).await?;
                    continue;
                }
                Err(_) => return Err(FailReason::Body),
            };
            if size == 0 {
                self.read.advance(line);
                return self.skip_trailers().await.map(|()| body.freeze());
            }
            let size = usize::try_from(size).map_err(|_| FailReason::Body)?;
            let end = line.checked_add(size).and_then(|n| n.checked_add(2)).ok_or(FailReason::Body)?;
            while self.read.len() < end {
                self.fill(end - self.read.len()).await?;
            }
            if &self.read[end - 2..end] != b"\r\n" {
                return Err(FailReason::Body);
            }
            body.extend_from_slice(&self.read[line..end - 2]);
            self.read.advance(end);
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
    /// ending first is a reset.
    async fn fill(&mut self, want: usize) -> Result<(), FailReason> {
        self.read.reserve(want.clamp(READ_CHUNK, 1 << 20));
        match self.stream.read_buf(&mut self.read).await {
            Ok(0) => {
                self.eof = true;
                Err(FailReason::Reset)
            }
            Ok(_) => {
                self.answered = true;
                Ok(())
            }
            Err(_) => Err(FailReason::Reset),
        }
    }
}

/// Parses the head at the start of `buf`; None while it is incomplete. The
/// header lines are kept only when asked (`keep_headers`).
fn parse_head(buf: &[u8], is_head_request: bool, keep_headers: KeepHeaders) -> Result<Option<Head>, FailReason> {
    // Uninitialised slots: zeroing 100 of them costs more than parsing a small head.
    let mut slots = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut response, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(FailReason::Body),
    };
    let status = response.code.ok_or(FailReason::Body)?;
    let mut keep_alive = response.version == Some(1);
    let mut length = None;
    let mut chunked = false;
    let mut encoded = false;
    let mut headers =
        if keep_headers == KeepHeaders::All { Vec::with_capacity(response.headers.len()) } else { Vec::new() };
    for header in response.headers.iter() {
        let (name, value) = (header.name.as_bytes(), header.value);
        if name.eq_ignore_ascii_case(b"content-length") {
            let parsed = std::str::from_utf8(value).ok().and_then(|v| v.trim().parse::<usize>().ok());
            match (parsed, length) {
                (None, _) => return Err(FailReason::Body),
                (Some(n), Some(seen)) if n != seen => return Err(FailReason::Body),
                (n, _) => length = n,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            encoded = true;
            chunked = value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection")
            && value.split(|b| *b == b',').any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            keep_alive = false;
        }
        if keep_headers.keeps(name) {
            let name = HeaderName::from_bytes(name).map_err(|_| FailReason::Body)?;
            let start = value.as_ptr() as usize - buf.as_ptr() as usize;
            headers.push((name, start..start + value.len()));
        }
    }
    let framing = if is_head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if encoded {
        Framing::UntilClose
    } else if let Some(len) = length {
        Framing::Length(len)
    } else {
        Framing::UntilClose
    };
    Ok(Some(Head { len, status, headers, framing, keep_alive }))
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
mod tests {
    use super::*;
    use crate::demo_target::fixed_delay::read_request;
    use std::io::Write;

    /// A server that answers each request on a connection with the next of
    /// `answers`, each written in the pieces given, then closes; it returns
    /// the requests it read.
    fn serve(answers: Vec<Vec<&'static [u8]>>) -> (Origin, std::thread::JoinHandle<Vec<String>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut writer = stream.try_clone().unwrap();
            let mut reader = std::io::BufReader::new(stream);
            let mut requests = Vec::new();
            for pieces in answers {
                let Some((head, body)) = read_request(&mut reader).unwrap() else {
                    return requests;
                };
                requests.push(format!("{head}\r\n{}", String::from_utf8(body).unwrap()));
                for piece in pieces {
                    writer.write_all(piece).unwrap();
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            requests
        });
        (Origin { host: "127.0.0.1".into(), port }, server)
    }

    fn get(head: &[u8]) -> Outgoing<'_> {
        Outgoing {
            head,
            body: b"",
            announce_empty_body: false,
            is_head: false,
            keep_headers: KeepHeaders::All,
            retry_safe: true,
        }
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: test\r\n";

    #[tokio::test]
    async fn bodies_framed_every_way_are_read_whole_and_the_connection_kept() {
        let (origin, server) = serve(vec![
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: 1\r\n\r\nhello", b" world"],
            vec![b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhel", b"lo\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n"],
            vec![b"HTTP/1.1 204 No Content\r\n\r\n"],
            vec![b"HTTP/1.1 304 Not Modified\r\ncontent-length: 99\r\n\r\n"],
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n"],
            vec![b"HTTP/1.1 200 OK\r\n\r\nuntil ", b"close"],
        ])
        ;
        let first = send(&origin, &get(GET)).await.unwrap();
        assert_eq!((first.status, first.body.unwrap()), (200, Bytes::from("hello world")));
        assert_eq!(first.headers.get("x-a").unwrap(), "1");
        assert_eq!(first.head_bytes, b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: 1\r\n\r\n".len() as u64);
        // Headers not kept: still framed by them, and only the final head counts.
        let chunked = send(&origin, &Outgoing { keep_headers: KeepHeaders::None, ..get(GET) }).await.unwrap();
        assert_eq!((chunked.status, chunked.body.unwrap()), (201, Bytes::from("hello world")));
        assert!(chunked.headers.is_empty());
        assert_eq!(chunked.head_bytes, b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n".len() as u64);
        let empty = send(&origin, &get(GET)).await.unwrap();
        assert_eq!((empty.status, empty.body.unwrap()), (204, Bytes::new()));
        let unmodified = send(&origin, &get(GET)).await.unwrap();
        assert_eq!((unmodified.status, unmodified.body.unwrap()), (304, Bytes::new()), "a 304 has no body");
        let head = Outgoing { is_head: true, ..get(b"HEAD / HTTP/1.1\r\nhost: test\r\n") };
        let headed = send(&origin, &head).await.unwrap();
        assert_eq!((headed.status, headed.body.unwrap()), (200, Bytes::new()), "a HEAD answer has no body");
        let last = send(&origin, &get(GET)).await.unwrap();
        assert_eq!(last.body.unwrap(), Bytes::from("until close"));
        let requests = server.join().unwrap();
        assert_eq!(requests.len(), 6, "all six over the one connection the server accepted");
        assert!(requests[4].starts_with("HEAD / HTTP/1.1\r\nhost: test\r\n\r\n"));
    }

    #[tokio::test]
    async fn a_body_is_announced_and_sent_with_the_head() {
        let (origin, server) = serve(vec![vec![b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"]]);
        let post = Outgoing { body: b"body", announce_empty_body: true, ..get(b"POST /x HTTP/1.1\r\nhost: test\r\n") };
        assert_eq!(send(&origin, &post).await.unwrap().status, 200);
        assert_eq!(server.join().unwrap(), ["POST /x HTTP/1.1\r\nhost: test\r\ncontent-length: 4\r\n\r\nbody"]);
    }

    #[tokio::test]
    async fn broken_answers_are_told_apart() {
        let cases: [(&'static [u8], FailReason); 4] = [
            (b"this is not HTTP at all\r\n\r\n", FailReason::Body),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", FailReason::Reset),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", FailReason::Body),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab", FailReason::Body),
        ];
        for (answer, reason) in cases {
            let (origin, _server) = serve(vec![vec![answer]]);
            let outcome = send(&origin, &get(GET)).await;
            let got = match outcome {
                Err(reason) => reason,
                Ok(answer) => answer.body.unwrap_err(),
            };
            assert_eq!(got, reason, "{}", String::from_utf8_lossy(answer));
        }
        let (origin, _server) = serve(vec![vec![]]);
        assert_eq!(send(&origin, &get(GET)).await.err(), Some(FailReason::Reset), "closed without an answer");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 4096, usize::MAX] {
            assert_eq!(itoa(n, &mut [0u8; 20]), n.to_string().as_bytes());
        }
    }
}
