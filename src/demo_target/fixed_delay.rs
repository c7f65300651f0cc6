//! A latency-exact stand-in: every request is answered after exactly the same
//! delay, on a thread per connection (an OS sleep plus a final spin is accurate
//! to a few µs, where a 1 ms async timer wheel is not). For measuring how true the
//! prober's reported latencies are: `sloprober demo-target --fixed-delay 100ms`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

const BODY: &str = "{\"text\":\"ok\",\"status\":\"ok\"}";

/// Serves on `listener` from a background thread; returns its address.
pub fn spawn(listener: TcpListener, delay: Duration) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    std::thread::spawn(move || serve(listener, delay));
    Ok(addr)
}

/// Serves forever on the calling thread.
pub fn serve(listener: TcpListener, delay: Duration) {
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = answer_connection(stream, delay);
        });
    }
}

fn answer_connection(stream: TcpStream, delay: Duration) -> std::io::Result<()> {
    crate::precise_sleep::tighten_timer_slack();
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        let mut content_length = 0usize;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; content_length];
        reader.read_exact(&mut body)?;
        let answer_at = std::time::Instant::now() + delay;
        while !crate::precise_sleep::until(answer_at, delay) {}
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        writer.write_all(reply.as_bytes())?;
    }
}
