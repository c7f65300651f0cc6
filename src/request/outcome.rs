//! Mapping a transport error to the `reason` a user sees, and what the
//! status page says of a connection that could not be made.

use crate::model::sample::FailReason;
use std::error::Error as _;
use std::io;

/// Why a request got no readable answer: the reason counted and, for a
/// connection that could not be made (`connect`, `tls`), what the system or
/// the TLS library said ("Connection refused", "invalid peer certificate:
/// Expired"), for the status page.
#[derive(Debug, PartialEq)]
pub struct Failed {
    pub reason: FailReason,
    pub detail: Option<Box<str>>,
}

impl Failed {
    pub fn because(reason: FailReason, detail: impl std::fmt::Display) -> Failed {
        Failed { reason, detail: Some(detail.to_string().into_boxed_str()) }
    }
}

impl From<FailReason> for Failed {
    fn from(reason: FailReason) -> Failed {
        Failed { reason, detail: None }
    }
}

/// The reason for an I/O error on a connection. During the TLS handshake
/// any failure is `tls` (curl's "SSL connect error"); after it, `tls` only
/// when rustls refused something (under TLS 1.3 a refused client
/// certificate arrives as an alert at the first read), else `reset`.
pub fn io_reason(error: &io::Error, handshaking: bool) -> FailReason {
    if handshaking || tls_in_chain(Some(error)) {
        FailReason::Tls
    } else {
        FailReason::Reset
    }
}

/// The reason for an HTTP/2 exchange that failed (hyper's error): `tls`
/// when rustls is among its causes, else `reset`.
pub fn h2_reason(error: &hyper::Error) -> FailReason {
    if tls_in_chain(error.source()) {
        FailReason::Tls
    } else {
        FailReason::Reset
    }
}

/// A rustls error is among the causes. I/O errors wrap it and their
/// `source()` skips what they wrap, so they are opened with `get_ref`.
fn tls_in_chain(mut source: Option<&(dyn std::error::Error + 'static)>) -> bool {
    while let Some(cause) = source {
        if cause.is::<rustls::Error>() {
            return true;
        }
        source = match cause.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    false
}
