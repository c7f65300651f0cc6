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
pub fn serve(listener: TcpListener, delay: Duration) {
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
        sleep_precisely_until(Instant::now() + delay);
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        writer.write_all(reply.as_bytes())?;
    }
    Ok(())
}

/// What is spun rather than slept before a deadline.
const SPIN: Duration = Duration::from_micros(200);

/// Returns at `deadline` within a few µs: sleeps until shortly before it, then
/// spins through the rest (these threads may burn that CPU; the prober's
/// pacer must not).
fn sleep_precisely_until(deadline: Instant) {
    if let Some(nap) = deadline.checked_duration_since(Instant::now()).and_then(|left| left.checked_sub(SPIN)) {
        std::thread::sleep(nap);
    }
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// Reads one HTTP/1.1 request: returns its head (request line and header
/// lines) after consuming its `content-length` body; None at end of stream.
pub fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<String>> {
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
    reader.read_exact(&mut vec![0u8; content_length])?;
    Ok(Some(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_precise_sleep_returns_at_the_deadline_not_before() {
        let deadline = Instant::now() + Duration::from_millis(3);
        sleep_precisely_until(deadline);
        assert!(Instant::now() >= deadline);
    }
}
