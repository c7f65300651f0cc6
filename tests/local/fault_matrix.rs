//! Servers that misbehave one way each, on 127.0.0.1: sloprober's counts
//! equal what the server did, and its verdict is curl's on the same server
//! (curl decides what a correct client sees); and a server that answers
//! 413 while a 16 MiB body is still going out.

use crate::common::*;
use std::io::Write;

/// One case: what the server answers, the checks, and the verdict both tools must give.
struct Case {
    name: &'static str,
    answer: Vec<u8>,
    checks: &'static str,
    /// None: no request fails. Some: every one fails with this reason.
    failure: Option<&'static str>,
    /// The server closes the connection after each answer (without saying so).
    closes: bool,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn cases() -> Vec<Case> {
    let json = br#"{"status":"ok","items":[1,2,3]}"#;
    let zipped = gzip(json);
    let mut gzip_answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        zipped.len()
    )
    .into_bytes();
    gzip_answer.extend_from_slice(&zipped);
    let many_lines = format!("HTTP/1.1 200 OK\r\n{}content-length: 2\r\n\r\nok", "x-line: 1\r\n".repeat(150));
    vec![
        Case {
            name: "gzip JSON read by a json_path check",
            answer: gzip_answer,
            checks: "[{status: 200}, {json_path: $.status, equals: ok}]",
            failure: None,
            closes: false,
        },
        Case {
            name: "content-length repeated with one value",
            answer: b"HTTP/1.1 200 OK\r\ncontent-length: 11, 11\r\n\r\nhello world".to_vec(),
            checks: "[{status: 200}, {body_regex: \"^hello world$\"}]",
            failure: None,
            closes: false,
        },
        Case {
            name: "150 header lines",
            answer: many_lines.into_bytes(),
            checks: "[{status: 200}]",
            failure: None,
            closes: false,
        },
        Case {
            name: "a folded header line",
            answer: b"HTTP/1.1 200 OK\r\nx-folded: one\r\n two\r\ncontent-length: 2\r\n\r\nok".to_vec(),
            checks: "[{status: 200}, {header: x-folded, matches: \"^one +two$\"}]",
            failure: None,
            closes: false,
        },
        Case {
            name: "a content-length that is not a number",
            answer: b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\nok".to_vec(),
            checks: "[{status: 200}]",
            failure: Some("header"),
            closes: false,
        },
        Case {
            name: "a header line without a colon",
            answer: b"HTTP/1.1 200 OK\r\nbad header\r\ncontent-length: 2\r\n\r\nok".to_vec(),
            checks: "[{status: 200}]",
            failure: Some("header"),
            closes: false,
        },
        Case {
            name: "a close after each answer that the head did not announce",
            answer: b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(),
            checks: "[{status: 200}, {body_regex: \"^ok$\"}]",
            failure: None,
            closes: true,
        },
        Case {
            name: "a body cut short by a close",
            answer: b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello".to_vec(),
            checks: "[{status: 200}]",
            failure: Some("reset"),
            closes: true,
        },
        Case {
            name: "a chunked body with extensions and trailers",
            answer: b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=\"a b\"\r\nhello\r\n6;x\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n".to_vec(),
            checks: "[{status: 200}, {body_regex: \"^hello world$\"}]",
            failure: None,
            closes: false,
        },
        Case {
            name: "a chunked body cut short by a close",
            answer: b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel".to_vec(),
            checks: "[{status: 200}]",
            failure: Some("reset"),
            closes: true,
        },
        Case {
            name: "a 103 and a 100 before the answer",
            answer: b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(),
            checks: "[{status: 200}, {body_regex: \"^ok$\"}]",
            failure: None,
            closes: false,
        },
        Case {
            name: "a body read until the server closes",
            answer: b"HTTP/1.1 200 OK\r\n\r\nuntil close".to_vec(),
            checks: "[{status: 200}, {body_regex: \"^until close$\"}]",
            failure: None,
            closes: true,
        },
    ]
}

/// curl's verdict on one request to `addr`: it got an answer (exit 0) and, for gzip, decoded it.
fn curl_succeeds(addr: std::net::SocketAddr) -> bool {
    let out = std::process::Command::new("curl")
        .args(["-s", "--compressed", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{addr}/")])
        .output()
        .expect("curl runs");
    out.status.success() && out.stdout == b"200"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_misbehaviour_gets_curls_verdict_and_exact_counts() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let (addr, served) = answering_server(case.answer.clone(), !case.closes);
        let curl_ok = curl_succeeds(addr);
        served.store(0, std::sync::atomic::Ordering::SeqCst);
        let yaml = format!(
            "target:\n  base_url: http://{addr}\nscenarios:\n  s:\n    requests: [{{name: r, path: /, checks: {}}}]\n    profiles:\n      test: {{executor: per-vu-iterations, vus: 2, iterations: 10}}\n",
            case.checks
        );
        let (outcome, metrics) = play(&run_options(dir.path(), &yaml, &[])).await;
        let stats = &outcome.snapshot.requests[0].stats;
        let name = case.name;
        assert_eq!(stats.count, 20, "{name}");
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst) as u64, 20, "{name}: each request served once");
        assert_eq!(curl_ok, case.failure.is_none(), "{name}: curl's verdict is the one expected");
        match case.failure {
            None => assert_eq!(stats.failed_total(), 0, "{name}: {:?}", stats.failed),
            Some(reason) => {
                let failed = value(&metrics, "sloprober_http_req_failed_total", &[("reason", reason)]);
                assert_eq!(failed, 20.0, "{name}: every request fails with reason {reason}: {:?}", stats.failed);
                assert_eq!(stats.statuses.keys().collect::<Vec<_>>(), [&200], "{name}: the status read is kept");
            }
        }
    }
}

/// A server that answers 413 once it has read the head and 64 KiB of a
/// body, then closes without reading the rest; it counts its answers.
fn refusing_server() -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = answered.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let count = count.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 16 * 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") || seen.len() < 64 * 1024 {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let answer =
                    b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 9\r\nconnection: close\r\n\r\ntoo large";
                if stream.write_all(answer).is_ok() {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            });
        }
    });
    (addr, answered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_sent_while_a_large_body_goes_out_is_read_as_curl_reads_it() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let (addr, answered) = refusing_server();
    let body = "x".repeat(16 << 20);
    std::fs::write(dir.path().join("body"), &body).unwrap();
    let curl = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary"])
        .arg(format!("@{}", dir.path().join("body").display()))
        .arg(format!("http://{addr}/upload"))
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "413", "curl reads the early answer");
    answered.store(0, std::sync::atomic::Ordering::SeqCst);
    let yaml = format!(
        "target:\n  base_url: http://{addr}\nscenarios:\n  s:\n    requests: [{{name: upload, method: POST, path: /upload, body: \"{body}\", checks: [{{status: 413}}, {{body_regex: \"^too large$\"}}]}}]\n    profiles:\n      test: {{executor: per-vu-iterations, vus: 2, iterations: 3}}\n"
    );
    let (outcome, _) = play(&run_options(dir.path(), &yaml, &[])).await;
    let stats = &outcome.snapshot.requests[0].stats;
    assert_eq!(stats.count, 6);
    assert_eq!(stats.failed_total(), 0, "every 413 read and checked: {:?}", stats.failed);
    assert_eq!(stats.statuses.get(&413).copied(), Some(6), "{:?}", stats.statuses);
    assert_eq!(answered.load(std::sync::atomic::Ordering::SeqCst), 6, "one answer per request, none sent twice");
}
