//! Sending one request to an origin, whichever protocol carries it: an open
//! HTTP/2 session of the pool, an idle HTTP/1.1 connection of it, or a new
//! connection that speaks what its TLS handshake chose (kept in the pool
//! after). Retries live here,
//! the same for both protocols.
//!
//! A reused connection can be closed by the server just as a request goes
//! out (its keep-alive timeout, or a close after each answer that it did not
//! announce). A write that fails then reached nothing, so the request goes
//! out once more on a fresh connection. A request written but answered by
//! nothing at all (the connection closed before the first byte of an
//! answer) is sent again likewise when it is safe to repeat
//! ([`Outgoing::retry_safe`]), and an HTTP/2 stream the server refused
//! unprocessed whatever its method; the answer then says it was retried.

use super::connect::{self, Origin, Protocol};
use super::h2;
use super::http1::{Conn, Outgoing};
use super::outcome::Failed;
use super::pool::Conns;
use super::Response;
use crate::model::sample::{FailReason, Phase, Phases};
use std::time::{Duration, Instant};

/// When an exchange's request was written and the first byte of its answer
/// arrived; and when it could be written, where the protocol waits for that
/// itself (an HTTP/2 stream slot).
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    pub ready: Option<Instant>,
    pub wrote: Instant,
    pub first_byte: Instant,
}

/// The connecting and handshaking time of a reused connection.
const NOT_NEW: (Duration, Duration) = (Duration::ZERO, Duration::ZERO);

/// Why an exchange produced no answer.
pub enum Unanswered {
    /// The connection closed before any byte of an answer arrived.
    Nothing,
    /// The server said it did not process the request (HTTP/2 GOAWAY or REFUSED_STREAM).
    Refused,
    /// Something went wrong after the answer began, or before the request left.
    Failed(FailReason),
}

impl Unanswered {
    pub fn reason(self) -> FailReason {
        match self {
            Unanswered::Nothing | Unanswered::Refused => FailReason::Reset,
            Unanswered::Failed(reason) => reason,
        }
    }

    fn failed(self) -> Failed {
        self.reason().into()
    }

    /// Whether the request may go out once more on a fresh connection.
    fn may_resend(&self, request: &Outgoing<'_>) -> bool {
        match self {
            Unanswered::Nothing => request.retry_safe,
            Unanswered::Refused => true,
            Unanswered::Failed(_) => false,
        }
    }
}

/// Sends `request` to `origin` over what `conns` has open to it, or a new
/// connection; see the module's text for when it is sent twice.
pub async fn send(mut conns: Conns<'_>, origin: &Origin, request: &Outgoing<'_>) -> Result<(Response, Phases), Failed> {
    let started = Instant::now();
    let retried = if let Some(session) = conns.with(|pool| pool.session(origin)) {
        // Boxed, as every path but the common one: a VU's future stays small.
        match Box::pin(h2::send(session, request)).await {
            Err(unanswered) if unanswered.may_resend(request) => true,
            outcome => return outcome.map(|r| phased(r, started, started, NOT_NEW)).map_err(Unanswered::failed),
        }
    } else if let Some(mut conn) = conns.with(|pool| pool.take_idle(origin)) {
        match conn.write(request).await {
            // Nothing reached the server.
            Err(_) => true,
            Ok(()) => match conn.finish(request).await {
                Err(unanswered) if unanswered.may_resend(request) => true,
                outcome => {
                    return outcome
                        .map(|r| phased(kept(&mut conns, r), started, started, NOT_NEW))
                        .map_err(Unanswered::failed)
                }
            },
        }
    } else {
        false
    };
    let connected = Box::pin(connect::connect(origin)).await?;
    let (ready, new) = (Instant::now(), (connected.connecting, connected.tls_handshaking));
    let mut response = match connected.protocol {
        Protocol::Http2 => {
            let session = Box::pin(h2::handshake(connected.stream)).await?;
            conns.with(|pool| pool.keep_session(origin, session.clone()));
            Box::pin(h2::send(session, request)).await.map_err(Unanswered::reason)?
        }
        Protocol::Http1 => {
            let mut conn = Conn::new(origin, connected.stream);
            conn.write(request).await?;
            kept(&mut conns, conn.finish(request).await.map_err(Unanswered::reason)?)
        }
    };
    response.retried = retried;
    Ok(phased(response, started, ready, new))
}

/// The response, its connection given back to the pool when it may carry another.
fn kept(conns: &mut Conns<'_>, (response, conn): (Response, Option<Conn>)) -> Response {
    if let Some(conn) = conn {
        conns.with(|pool| pool.put_idle(conn));
    }
    response
}

/// The response with its phases: the exchange began at `started`, and
/// had a connection to write on at `ready` (unless the protocol says when,
/// as an HTTP/2 stream does); `new` is the (connecting, TLS handshaking)
/// time of a new connection.
fn phased(response: Response, started: Instant, ready: Instant, new: (Duration, Duration)) -> (Response, Phases) {
    let end = Instant::now();
    let Marks { ready: stream_ready, wrote, first_byte } = response.marks;
    let ready = stream_ready.unwrap_or(ready);
    let (connecting, tls_handshaking) = new;
    let mut phases = Phases::default();
    phases[Phase::Blocked as usize] =
        ready.saturating_duration_since(started).saturating_sub(connecting + tls_handshaking);
    phases[Phase::Connecting as usize] = connecting;
    phases[Phase::TlsHandshaking as usize] = tls_handshaking;
    phases[Phase::Sending as usize] = wrote.saturating_duration_since(ready);
    phases[Phase::Waiting as usize] = first_byte.saturating_duration_since(wrote);
    phases[Phase::Receiving as usize] = end.saturating_duration_since(first_byte);
    (response, phases)
}
