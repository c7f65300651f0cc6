//! The one value that flows down the data path: what happened to one request.

use std::time::Duration;

/// Why a request counts as failed; the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// A response arrived with a status outside the expected ones.
    Status,
    Timeout,
    /// No connection could be made.
    Connect,
    /// The connection was closed or reset before a full response.
    Reset,
    /// The response could not be read or parsed as HTTP.
    Body,
    /// The status was fine but another check failed.
    Check,
}

impl FailReason {
    pub const ALL: [FailReason; 6] = [
        FailReason::Status,
        FailReason::Timeout,
        FailReason::Connect,
        FailReason::Reset,
        FailReason::Body,
        FailReason::Check,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Status => "status",
            FailReason::Timeout => "timeout",
            FailReason::Connect => "connect",
            FailReason::Reset => "reset",
            FailReason::Body => "body",
            FailReason::Check => "check",
        }
    }
}

/// One request's outcome. `request` indexes the scenario's request list.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub request: usize,
    /// From the scheduled start to the last byte of the body.
    pub latency: Duration,
    /// None when no response arrived.
    pub status: Option<u16>,
    pub failure: Option<FailReason>,
    /// Bit i set when check i passed.
    pub checks_passed: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub counter_delta: Option<f64>,
    pub gauge_value: Option<f64>,
    /// Arrival-rate executors: how late the iteration started after its scheduled instant.
    pub schedule_lag: Option<Duration>,
}

/// Anything that consumes samples: the Prometheus metrics now, SLO windows and reports later.
pub trait SampleSink: Send + Sync {
    fn record(&self, sample: &Sample);
}
