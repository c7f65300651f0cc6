//! A latency-exact stand-in: every request is answered exactly the same delay
//! after it arrived, on a thread per connection (an OS sleep plus a final spin
//! is accurate to a few µs, where a 1 ms async timer wheel is not). For
//! measuring how true the prober's reported latencies are:
//! `sloprober demo-target --fixed-delay 100ms`.

use std::io::{BufRead, BufReader, Read, Write};
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
    super::timer_slack::tighten_timer_slack();
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(TimedReads::new(stream));
    while read_request(&mut reader)?.is_some() {
        let arrived = reader.get_mut().received_at.take().unwrap_or_else(Instant::now);
        super::timer_slack::sleep_precisely_until(arrived + delay);
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        writer.write_all(reply.as_bytes())?;
    }
    Ok(())
}

/// A connection's reads, with when the kernel received the bytes last read
/// (`SO_TIMESTAMPNS`, Linux): the delay counts from the request's arrival, not
/// from when this thread woke up to read it (40 µs later at the median on a
/// VM, 200 µs at p99).
struct TimedReads {
    stream: TcpStream,
    received_at: Option<Instant>,
}

impl TimedReads {
    fn new(stream: TcpStream) -> TimedReads {
        #[cfg(target_os = "linux")]
        let _ = nix::sys::socket::setsockopt(&stream, nix::sys::socket::sockopt::ReceiveTimestampns, &true);
        TimedReads { stream, received_at: None }
    }
}

impl Read for TimedReads {
    #[cfg(target_os = "linux")]
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::AsRawFd;
        let mut control = nix::cmsg_space!(nix::sys::time::TimeSpec);
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let message = recvmsg::<()>(self.stream.as_raw_fd(), &mut iov, Some(&mut control), MsgFlags::empty())?;
        for cmsg in message.cmsgs()? {
            if let ControlMessageOwned::ScmTimestampns(at) = cmsg {
                let at = std::time::UNIX_EPOCH + Duration::from(at);
                let age = std::time::SystemTime::now().duration_since(at).unwrap_or_default();
                self.received_at = Some(Instant::now() - age);
            }
        }
        Ok(message.bytes)
    }

    #[cfg(not(target_os = "linux"))]
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stream.read(buf)
    }
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_read_carries_when_the_kernel_received_its_bytes_not_when_they_were_read() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let mut reads = TimedReads::new(listener.accept().unwrap().0);
        let mut buf = [0u8; 16];
        // Linux turns receive timestamps on for the whole host a moment after
        // the first socket asks (a deferred work item): wait for it.
        let asked = Instant::now();
        while reads.received_at.is_none() && asked.elapsed() < Duration::from_secs(5) {
            client.write_all(b"warm").unwrap();
            assert_eq!(reads.read(&mut buf).unwrap(), 4);
            std::thread::sleep(Duration::from_millis(1));
        }
        reads.received_at = None;
        let sent = Instant::now();
        client.write_all(b"ping").unwrap();
        // The bytes wait in the socket while this thread is busy elsewhere.
        std::thread::sleep(Duration::from_millis(20));
        let n = reads.read(&mut buf).unwrap();
        let read_at = Instant::now();
        assert_eq!(&buf[..n], b"ping");
        let received = reads.received_at.expect("a receive timestamp from the kernel");
        assert!(received + Duration::from_millis(1) >= sent, "received {:?} before the send", sent - received);
        assert!(received + Duration::from_millis(15) <= read_at, "received {:?} before the read", read_at - received);
    }
}
