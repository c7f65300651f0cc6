//! Property tests of answer parsing, each for a bounded time: 2 s by
//! default, `SLOPROBER_FUZZ_SECS=600 cargo test http1::fuzz` for longer.
//! Every run starts from a random seed, printed when a property fails;
//! `SLOPROBER_FUZZ_SEED=N` replays it. [`REGRESSIONS`] holds inputs that
//! once went wrong, or sit on a limit, and runs before anything random.
//!
//! - Heads generated with random statuses, versions, header lines (folded,
//!   repeated, more than the stack slots) and framing parse to exactly what
//!   was generated; every strict prefix of one is incomplete, never an error.
//! - Arbitrary and mutated bytes never panic, and whatever parses stays
//!   inside the bytes given.
//! - Chunked bodies of random chunk sizes (some larger than a read), with
//!   extensions and trailers, written in random pieces over a socket, come
//!   out as the body that was sent, kept to the limit asked, every byte
//!   counted; mutated framing ends in an answer or a failure, never a hang.

use super::head::{parse_head, Framing, KeepHeaders};
use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::io::Write;

/// Heads that went wrong once or sit on a limit: each must parse or fail cleanly.
const REGRESSIONS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551616\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-length: ,\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-length: 1,\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n x-starts-folded: 1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx-a: 1\r\n \r\n\r\n",
    b"HTTP/1.1 999 Nine\r\n\r\n",
    b"HTTP/1.1 099 Low\r\n\r\n",
    b"HTTP/1.1 200\r\n\r\n",
    b"HTTP/1.1 200 OK\n\n",
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: ,\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx-\xff: \xff\r\n\r\n",
];

fn budget() -> Duration {
    let secs = std::env::var("SLOPROBER_FUZZ_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}

/// A seeded generator, and the seed to replay it.
fn rng() -> (SmallRng, u64) {
    let seed = std::env::var("SLOPROBER_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    (SmallRng::seed_from_u64(seed), seed)
}

/// A head made for the test, and what parsing it must give.
struct Generated {
    bytes: Vec<u8>,
    status: u16,
    /// Names and values as a kept header must read (folds as spaces).
    headers: Vec<(String, String)>,
    framing: Framing,
    keep_alive: bool,
}

fn token(rng: &mut SmallRng) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_!#$%&'*+.^`|~";
    (0..rng.random_range(1..12)).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}

/// A value without leading or trailing whitespace (which the parser trims).
fn field_value(rng: &mut SmallRng) -> String {
    let len = rng.random_range(0..40);
    let mut value: String = (0..len).map(|_| rng.random_range(0x21u8..0x7f) as char).collect();
    if len > 2 && rng.random_bool(0.2) {
        value.insert(len / 2, ' ');
    }
    value
}

fn generate(rng: &mut SmallRng) -> Generated {
    let status = match rng.random_range(0..10) {
        0 => [100, 101, 103, 204, 304][rng.random_range(0..5)],
        _ => rng.random_range(200..600),
    };
    let http10 = rng.random_bool(0.1);
    let mut bytes = format!("HTTP/1.{} {status} {}\r\n", if http10 { 0 } else { 1 }, token(rng)).into_bytes();
    let mut headers = Vec::new();
    // Past the 100 stack slots now and then.
    let lines = if rng.random_bool(0.05) { rng.random_range(100..160) } else { rng.random_range(0..12) };
    for _ in 0..lines {
        let name = match rng.random_range(0..4) {
            0 => ["x-trace-id", "set-cookie", "cache-control", "vary"][rng.random_range(0..4)].to_string(),
            _ => format!("x-{}", token(rng)),
        };
        let (wire, read) = if rng.random_bool(0.1) {
            // Folded: the line break and the indent read as spaces.
            let (first, second) = (format!("a{}", field_value(rng)), format!("b{}", field_value(rng)));
            (format!("{first}\r\n {second}"), format!("{first}   {second}"))
        } else {
            let value = field_value(rng);
            (value.clone(), value)
        };
        bytes.extend_from_slice(format!("{name}: {wire}\r\n").as_bytes());
        headers.push((name, read));
    }
    let body_framing = match rng.random_range(0..4) {
        0 => {
            bytes.extend_from_slice(b"transfer-encoding: chunked\r\n");
            headers.push(("transfer-encoding".into(), "chunked".into()));
            Framing::Chunked
        }
        1 => {
            let len = rng.random_range(0..1_000_000usize);
            let value = if rng.random_bool(0.2) { format!("{len}, {len}") } else { len.to_string() };
            bytes.extend_from_slice(format!("content-length: {value}\r\n").as_bytes());
            headers.push(("content-length".into(), value));
            Framing::Length(len)
        }
        _ => Framing::UntilClose,
    };
    let close = rng.random_bool(0.2);
    if close {
        bytes.extend_from_slice(b"connection: close\r\n");
        headers.push(("connection".into(), "close".into()));
    }
    bytes.extend_from_slice(b"\r\n");
    let no_body = (100..200).contains(&status) || status == 204 || status == 304;
    Generated {
        bytes,
        status,
        headers,
        framing: if no_body { Framing::Empty } else { body_framing },
        keep_alive: !http10 && !close && status != 101,
    }
}

/// Parses `buf` and checks that what parsed stays inside it; never panics on any input.
fn parse_within(buf: &[u8], keep: KeepHeaders) -> Result<Option<super::head::Head>, super::head::BadHead> {
    let parsed = parse_head(buf, false, |_| (keep, false));
    if let Ok(Some(head)) = &parsed {
        assert!(head.len <= buf.len(), "head of {} bytes in {}", head.len, buf.len());
        let bytes = Bytes::copy_from_slice(&buf[..head.len]);
        for (_, range) in &head.headers {
            assert!(range.end <= head.len, "{range:?} outside a head of {}", head.len);
            let _ = head::header_value(bytes.slice(range.clone()));
        }
    }
    parsed
}

fn check_generated(generated: &Generated, rng: &mut SmallRng) {
    let text = String::from_utf8_lossy(&generated.bytes);
    let head = parse_within(&generated.bytes, KeepHeaders::All)
        .unwrap_or_else(|bad| panic!("{bad:?} for a valid head:\n{text}"))
        .unwrap_or_else(|| panic!("a complete head read as incomplete:\n{text}"));
    assert_eq!(head.len, generated.bytes.len(), "{text}");
    assert_eq!(head.status, generated.status, "{text}");
    assert_eq!(head.framing, generated.framing, "{text}");
    assert_eq!(head.keep_alive, generated.keep_alive, "{text}");
    let bytes = Bytes::copy_from_slice(&generated.bytes);
    let read: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|(name, range)| {
            let value = head::header_value(bytes.slice(range.clone())).expect("a valid value");
            (name.as_str().to_string(), value.to_str().expect("ASCII").to_string())
        })
        .collect();
    let expected: Vec<(String, String)> =
        generated.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect();
    assert_eq!(read, expected, "{text}");
    for _ in 0..8 {
        let cut = rng.random_range(0..generated.bytes.len());
        let prefix = &generated.bytes[..cut];
        assert!(
            matches!(parse_within(prefix, KeepHeaders::All), Ok(None)),
            "a prefix of {cut} bytes is not incomplete:\n{text}"
        );
    }
}

/// Flips, inserts or deletes a few bytes.
fn mutate(bytes: &mut Vec<u8>, rng: &mut SmallRng) {
    for _ in 0..rng.random_range(1..4) {
        if bytes.is_empty() {
            bytes.push(rng.random());
            continue;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..3) {
            0 => bytes[at] = [b'\r', b'\n', b' ', b':', b',', b'0', 0xff, rng.random()][rng.random_range(0..8)],
            1 => bytes.insert(at, rng.random()),
            _ => {
                bytes.remove(at);
            }
        }
    }
}

#[test]
fn heads_parse_to_what_was_sent_and_nothing_breaks_the_parser() {
    for input in REGRESSIONS {
        let _ = parse_within(input, KeepHeaders::All);
        let _ = parse_within(input, KeepHeaders::None);
    }
    let (mut rng, seed) = rng();
    let deadline = std::time::Instant::now() + budget();
    let mut cases = 0u64;
    while std::time::Instant::now() < deadline {
        let mut generated = generate(&mut rng);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_generated(&generated, &mut rng);
            mutate(&mut generated.bytes, &mut rng);
            let _ = parse_within(&generated.bytes, KeepHeaders::All);
            let noise: Vec<u8> = (0..rng.random_range(0..300)).map(|_| rng.random()).collect();
            let _ = parse_within(&noise, KeepHeaders::SetCookie);
        }));
        if outcome.is_err() {
            panic!("failed after {cases} cases; replay with SLOPROBER_FUZZ_SEED={seed}");
        }
        cases += 1;
    }
    println!("{cases} cases from SLOPROBER_FUZZ_SEED={seed}");
    assert!(cases > 0);
}

/// A chunked answer carrying `body`, and the bytes it takes on the wire.
fn chunked_answer(body: &[u8], rng: &mut SmallRng) -> Vec<u8> {
    let mut wire = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    let mut rest = body;
    while !rest.is_empty() {
        // Mostly small chunks; now and then one longer than a read.
        let most = if rng.random_bool(0.05) { 300_000 } else { 5_000 };
        let n = rng.random_range(1..=most).min(rest.len());
        let size = if rng.random_bool(0.5) { format!("{n:x}") } else { format!("{n:X}") };
        let extension = if rng.random_bool(0.2) { format!(";{}={}", token(rng), token(rng)) } else { String::new() };
        wire.extend_from_slice(format!("{size}{extension}\r\n").as_bytes());
        wire.extend_from_slice(&rest[..n]);
        wire.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    wire.extend_from_slice(b"0\r\n");
    for _ in 0..rng.random_range(0..3) {
        wire.extend_from_slice(format!("x-{}: {}\r\n", token(rng), field_value(rng)).as_bytes());
    }
    wire.extend_from_slice(b"\r\n");
    wire
}

/// A server for one request: it answers `wire` in random pieces, then closes.
fn serve_once(wire: Vec<u8>, seed: u64) -> Origin {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut rng = SmallRng::seed_from_u64(seed);
        let (stream, _) = listener.accept().unwrap();
        stream.set_nodelay(true).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = std::io::BufReader::new(stream);
        if crate::demo_target::fixed_delay::read_request(&mut reader).ok().flatten().is_none() {
            return;
        }
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let n = rng.random_range(1..=rest.len().min(70_000));
            if writer.write_all(&rest[..n]).is_err() {
                return;
            }
            if rng.random_bool(0.3) {
                std::thread::sleep(Duration::from_micros(50));
            }
            rest = &rest[n..];
        }
    });
    Origin { host: "127.0.0.1".into(), port, tls: None, proxy: None }
}

#[tokio::test]
async fn chunked_bodies_in_any_pieces_read_as_sent() {
    let (mut rng, seed) = rng();
    let deadline = std::time::Instant::now() + budget();
    let mut cases = 0u64;
    while std::time::Instant::now() < deadline {
        let len = if rng.random_bool(0.1) { rng.random_range(0..600_000) } else { rng.random_range(0..3_000) };
        let body: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let mut wire = chunked_answer(&body, &mut rng);
        let keep = [0, 7, 1 << 20][rng.random_range(0..3)];
        let mutated = rng.random_bool(0.3);
        if mutated {
            mutate(&mut wire, &mut rng);
        }
        let origin = serve_once(wire.clone(), rng.random());
        let request = Outgoing {
            head: b"GET / HTTP/1.1\r\nhost: test\r\n",
            body: b"",
            announce_empty_body: false,
            is_head: false,
            keep_headers: KeepHeaders::None,
            keep_location: false,
            retry_safe: false,
            keep_body: keep,
            expected_statuses: &[],
        };
        let answer = tokio::time::timeout(Duration::from_secs(10), send(&origin, &request))
            .await
            .unwrap_or_else(|_| panic!("no end after {cases} cases; replay with SLOPROBER_FUZZ_SEED={seed}"));
        if !mutated {
            let answer = answer.unwrap_or_else(|e| panic!("{e:?} after {cases} cases; SLOPROBER_FUZZ_SEED={seed}"));
            let kept = answer.body.unwrap_or_else(|e| panic!("{e:?} after {cases} cases; SLOPROBER_FUZZ_SEED={seed}"));
            assert_eq!(&kept[..], &body[..keep.min(body.len())], "after {cases} cases; SLOPROBER_FUZZ_SEED={seed}");
            assert_eq!(answer.received, wire.len() as u64, "after {cases} cases; SLOPROBER_FUZZ_SEED={seed}");
        }
        cases += 1;
    }
    println!("{cases} cases from SLOPROBER_FUZZ_SEED={seed}");
    assert!(cases > 0);
}

/// Sends over the shared transport; the answer without its phases.
async fn send(origin: &Origin, request: &Outgoing<'_>) -> Result<Response, FailReason> {
    crate::request::transport::send(crate::request::pool::Conns::Thread, origin, request)
        .await
        .map(|(response, _)| response)
        .map_err(|f| f.reason)
}
