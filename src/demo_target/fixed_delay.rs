//! A latency-exact stand-in: every request is answered after exactly the same
//! delay, on a thread per connection (an OS sleep plus a final spin is accurate
//! to a few µs, where a 1 ms async timer wheel is not). For measuring how true the
//! prober's reported latencies are: `sloprober demo-target --fixed-delay 100ms`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const BODY: &str = "{\"text\":\"ok\",\"status\":\"ok\"}";

/// Serves on `listener` from a background thread; returns its address.
pub fn spawn(listener: TcpListener, delay: Duration) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    std::thread::spawn(move || serve(listener, delay));
    Ok(addr)
}

/// Serves forever on the calling thread.
fn serve(listener: TcpListener, delay: Duration) {
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = answer_connection(stream, delay);
        });
    }
}

fn answer_connection(stream: TcpStream, delay: Duration) -> std::io::Result<()> {
    crate::timer_slack::tighten_timer_slack();
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while read_request(&mut reader)?.is_some() {
        crate::timer_slack::sleep_precisely_until(Instant::now() + delay);
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        writer.write_all(reply.as_bytes())?;
    }
    Ok(())
}

/// Reads one HTTP/1.1 request: its head (request line and header lines) and
/// its `content-length` body; None at end of stream.
pub fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut head = String::new();
    let mut content_length = 0usize;
    loop {
        let start = head.len();
        if reader.read_line(&mut head)? == 0 {
            return Ok(None);
        }
        let line = &head[start..];
        if line == "\r\n" {
            head.truncate(start);
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body)?;
    Ok(Some((head, body)))
}
