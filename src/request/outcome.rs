//! Mapping a transport error to the `reason` a user sees.

use crate::sample::FailReason;
use std::error::Error as _;

/// Classifies an error from sending a request or reading its body (reqwest).
pub fn classify(error: &reqwest::Error) -> FailReason {
    if error.is_timeout() {
        return FailReason::Timeout;
    }
    // Before connect: under TLS 1.3 a refused client certificate shows at the
    // first read (and over HTTP/2 only as a reset: h2 keeps the text alone).
    if tls_in_chain(error.source()) {
        return FailReason::Tls;
    }
    if error.is_connect() {
        return FailReason::Connect;
    }
    cause_in_chain(error.source()).unwrap_or(if error.is_body() || error.is_decode() {
        FailReason::Body
    } else {
        FailReason::Reset
    })
}

/// A rustls error is among the causes. I/O errors wrap it (in hyper-rustls,
/// twice) and their `source()` skips what they wrap, so they are opened
/// with `get_ref`.
fn tls_in_chain(mut source: Option<&(dyn std::error::Error + 'static)>) -> bool {
    while let Some(cause) = source {
        if cause.is::<rustls::Error>() {
            return true;
        }
        source = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    false
}

/// The reason named by the first hyper or I/O error in a chain of causes.
fn cause_in_chain(mut source: Option<&(dyn std::error::Error + 'static)>) -> Option<FailReason> {
    while let Some(cause) = source {
        if let Some(hyper_error) = cause.downcast_ref::<hyper::Error>() {
            if hyper_error.is_parse() || hyper_error.is_parse_status() {
                return Some(FailReason::Body);
            }
            if hyper_error.is_incomplete_message() || hyper_error.is_canceled() || hyper_error.is_closed() {
                return Some(FailReason::Reset);
            }
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof) {
                return Some(FailReason::Reset);
            }
            if io.kind() == TimedOut {
                return Some(FailReason::Timeout);
            }
        }
        source = cause.source();
    }
    None
}
