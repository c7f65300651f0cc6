//! Mapping a transport error to the `reason` a user sees.

use crate::sample::FailReason;
use std::error::Error as _;

/// Classifies an error from sending a request or reading its body.
pub fn classify(error: &reqwest::Error) -> FailReason {
    if error.is_timeout() {
        return FailReason::Timeout;
    }
    if error.is_connect() {
        return FailReason::Connect;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(hyper_error) = cause.downcast_ref::<hyper::Error>() {
            if hyper_error.is_parse() || hyper_error.is_parse_status() {
                return FailReason::Body;
            }
            if hyper_error.is_incomplete_message() || hyper_error.is_canceled() || hyper_error.is_closed() {
                return FailReason::Reset;
            }
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof) {
                return FailReason::Reset;
            }
            if io.kind() == TimedOut {
                return FailReason::Timeout;
            }
        }
        source = cause.source();
    }
    if error.is_body() || error.is_decode() {
        FailReason::Body
    } else {
        FailReason::Reset
    }
}
