//! The connection's exchanges against servers that answer in given pieces.

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
    (Origin { host: "127.0.0.1".into(), port, tls: None, proxy: None }, server)
}

fn get(head: &[u8]) -> Outgoing<'_> {
    Outgoing {
        head,
        body: b"",
        announce_empty_body: false,
        is_head: false,
        keep_headers: KeepHeaders::All,
        keep_location: false,
        retry_safe: true,
        keep_body: 1 << 20,
        expected_statuses: &[],
    }
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: test\r\n";

#[tokio::test]
async fn bodies_framed_every_way_are_read_whole_and_the_connection_kept() {
    let (origin, server) = serve(vec![
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: 1\r\n\r\nhello", b" world"],
        vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhel",
            b"lo\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n",
        ],
        vec![b"HTTP/1.1 204 No Content\r\n\r\n"],
        vec![b"HTTP/1.1 304 Not Modified\r\ncontent-length: 99\r\n\r\n"],
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n"],
        vec![b"HTTP/1.1 200 OK\r\n\r\nuntil ", b"close"],
    ]);
    let first = send(&origin, &get(GET)).await.unwrap();
    assert_eq!((first.status, first.body.unwrap()), (200, Bytes::from("hello world")));
    assert_eq!(first.headers.get("x-a").unwrap(), "1");
    assert_eq!(first.received, b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: 1\r\n\r\nhello world".len() as u64);
    // Headers not kept: still framed by them, and only the final head counts.
    let chunked = send(&origin, &Outgoing { keep_headers: KeepHeaders::None, ..get(GET) }).await.unwrap();
    assert_eq!((chunked.status, chunked.body.unwrap()), (201, Bytes::from("hello world")));
    assert!(chunked.headers.is_empty());
    // Every byte on the wire counts: the 1xx head, the chunk framing, the trailer.
    let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n";
    assert_eq!(chunked.received, wire.len() as u64);
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
    let cases: [(&'static [u8], FailReason, Option<u16>); 6] = [
        (b"this is not HTTP at all\r\n\r\n", FailReason::Header, None),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", FailReason::Reset, Some(200)),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", FailReason::Body, Some(200)),
        (b"HTTP/1.1 503 No\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab", FailReason::Header, Some(503)),
        (b"HTTP/1.1 404 No\r\ncontent-length: 1, 2\r\n\r\nab", FailReason::Header, Some(404)),
        (b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n", FailReason::Header, Some(200)),
    ];
    for (answer, reason, status) in cases {
        let (origin, _server) = serve(vec![vec![answer]]);
        let got = match send(&origin, &get(GET)).await {
            Err(reason) => (reason, None),
            Ok(answer) => (answer.body.unwrap_err(), Some(answer.status)),
        };
        assert_eq!(got, (reason, status), "{}", String::from_utf8_lossy(answer));
    }
    let (origin, _server) = serve(vec![vec![]]);
    assert_eq!(send(&origin, &get(GET)).await.err(), Some(FailReason::Reset), "closed without an answer");
}

#[tokio::test]
async fn heads_curl_reads_are_read() {
    let many: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\n{}content-length: 2\r\n\r\nok", "x-many: 1\r\n".repeat(150)).into_bytes().into(),
    );
    let (origin, server) = serve(vec![
        vec![many],
        vec![b"HTTP/1.1 200 OK\r\nx-folded: one\r\n  two\r\ncontent-length: 11, 11\r\n\r\nhello world"],
        vec![b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n"],
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"],
    ]);
    let crowded = send(&origin, &get(GET)).await.unwrap();
    assert_eq!((crowded.headers.get_all("x-many").iter().count(), crowded.body.unwrap()), (150, Bytes::from("ok")));
    let folded = send(&origin, &get(GET)).await.unwrap();
    assert_eq!(folded.headers.get("x-folded").unwrap(), "one    two");
    assert_eq!(folded.body.unwrap(), Bytes::from("hello world"));
    assert_eq!(send(&origin, &get(GET)).await.unwrap().status, 101);
    // The 101 ended HTTP on that connection: the next request opens another.
    let after = send(&origin, &get(GET)).await;
    assert!(after.is_err(), "the test server accepts one connection only");
    assert_eq!(server.join().unwrap().len(), 3);
}

#[tokio::test]
async fn a_long_body_is_counted_whole_and_kept_only_in_part() {
    let long: &'static [u8] = Box::leak(vec![b'x'; 3 << 20].into_boxed_slice());
    let chunk_head: &'static [u8] = Box::leak(format!("{:x}\r\n", long.len()).into_bytes().into());
    let (origin, _server) = serve(vec![
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 3145728\r\n\r\n", long],
        vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", chunk_head, long, b"\r\n0\r\n\r\n"],
        vec![b"HTTP/1.1 200 OK\r\n\r\n", long],
    ]);
    for (keep, framing) in [(10, "length"), (0, "chunked"), (100, "until close")] {
        let answer = send(&origin, &Outgoing { keep_body: keep, ..get(GET) }).await.unwrap();
        let body = answer.body.unwrap();
        assert_eq!((body.len(), &body[..]), (keep, &long[..keep]), "{framing}");
        assert!(answer.received > long.len() as u64, "{framing}: {} bytes counted", answer.received);
    }
}

#[test]
fn numbers_are_written_in_decimal() {
    for n in [0, 7, 10, 4096, usize::MAX] {
        assert_eq!(itoa(n, &mut [0u8; 20]), n.to_string().as_bytes());
    }
}

/// Sends over the shared transport; the answer without its phases.
async fn send(origin: &Origin, request: &Outgoing<'_>) -> Result<Response, FailReason> {
    crate::request::transport::send(crate::request::pool::Conns::Thread, origin, request)
        .await
        .map(|(response, _)| response)
        .map_err(|f| f.reason)
}
