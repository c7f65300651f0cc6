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
    /// The TLS handshake failed: a certificate not trusted, expired or for
    /// another name, a client certificate refused, no common protocol.
    Tls,
    /// The connection was closed or reset before a full response.
    Reset,
    /// The answer's body could not be read: bad chunked framing, or an
    /// encoding it does not hold.
    Body,
    /// The answer's head is not HTTP a client can read (its status is kept when it had one).
    Header,
    /// The status was expected but a check failed: the content is wrong.
    Check,
    /// The answer did not hold a value the step captures.
    Capture,
}

impl FailReason {
    pub const COUNT: usize = 9;
    pub const ALL: [FailReason; FailReason::COUNT] = [
        FailReason::Status,
        FailReason::Timeout,
        FailReason::Connect,
        FailReason::Tls,
        FailReason::Reset,
        FailReason::Body,
        FailReason::Header,
        FailReason::Check,
        FailReason::Capture,
    ];

    /// Whether the reason judges the answer's content (a check, a capture)
    /// rather than the exchange: such a request still got an expected
    /// answer, as k6 counts it (`expected_response:true`, not in
    /// `http_req_failed`); checks and custom Rates judge it.
    pub fn is_content(self) -> bool {
        matches!(self, FailReason::Check | FailReason::Capture)
    }

    /// The reasons that judge content, in the order of [`FailReason::ALL`].
    pub const CONTENT: [FailReason; 2] = [FailReason::Check, FailReason::Capture];

    pub const fn as_str(self) -> &'static str {
        match self {
            FailReason::Status => "status",
            FailReason::Timeout => "timeout",
            FailReason::Connect => "connect",
            FailReason::Tls => "tls",
            FailReason::Reset => "reset",
            FailReason::Body => "body",
            FailReason::Header => "header",
            FailReason::Check => "check",
            FailReason::Capture => "capture",
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
    /// The request's sample of its Rate, when it feeds one.
    pub rate_true: Option<bool>,
    /// Arrival-rate executors: how late the iteration started after its scheduled instant.
    pub schedule_lag: Option<Duration>,
    /// Sent again on a fresh connection: the reused one closed before any byte of an answer.
    pub retried: bool,
    /// Redirects followed before the answer that was checked.
    pub redirects: u32,
    /// Where the time of an answered request went; None when no answer came.
    pub phases: Option<Phases>,
    /// What the status page shows of a failed request, secrets cut out: its
    /// answer (status, header names, the body's first bytes), or when none
    /// came, why no connection was made. None for a request that passed.
    pub detail: Option<Box<str>>,
}

impl Sample {
    /// k6's `expected_response`: an answer came with an expected status
    /// (checks and captures judge its content apart). A request without it
    /// is k6's `http_req_failed`.
    pub fn expected_response(&self) -> bool {
        self.failure.is_none_or(FailReason::is_content)
    }

    /// Request `request` before it is sent: nothing measured, nothing failed.
    pub fn new(request: usize) -> Sample {
        Sample {
            request,
            latency: Duration::ZERO,
            status: None,
            failure: None,
            checks_passed: 0,
            bytes_sent: 0,
            bytes_received: 0,
            counter_delta: None,
            gauge_value: None,
            rate_true: None,
            schedule_lag: None,
            retried: false,
            redirects: 0,
            phases: None,
            detail: None,
        }
    }
}

/// k6's phases of one exchange, from the moment the request was ready to
/// send to the last byte of its answer. Together they add up to that time;
/// the request's latency also counts what came before (an arrival-rate
/// iteration's wait for its VU, the think time of journeys' earlier steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Waiting for a connection: a name lookup, an attempt on a reused
    /// connection that closed unanswered, an HTTP/2 stream slot.
    Blocked,
    /// The TCP connect of a new connection (0 on a reused one).
    Connecting,
    /// The TLS handshake of a new https connection.
    TlsHandshaking,
    /// Writing the request (over HTTP/2 it leaves as the stream opens: 0).
    Sending,
    /// From the request sent to the first byte of the answer (time to first byte).
    Waiting,
    /// From the first byte of the answer to its last.
    Receiving,
}

/// The time of each [`Phase`], by `Phase as usize`.
pub type Phases = [std::time::Duration; Phase::COUNT];

impl Phase {
    pub const COUNT: usize = 6;
    pub const ALL: [Phase; Phase::COUNT] =
        [Phase::Blocked, Phase::Connecting, Phase::TlsHandshaking, Phase::Sending, Phase::Waiting, Phase::Receiving];

    /// k6's metric name, which thresholds and summaries use.
    pub fn metric_name(self) -> &'static str {
        match self {
            Phase::Blocked => "http_req_blocked",
            Phase::Connecting => "http_req_connecting",
            Phase::TlsHandshaking => "http_req_tls_handshaking",
            Phase::Sending => "http_req_sending",
            Phase::Waiting => "http_req_waiting",
            Phase::Receiving => "http_req_receiving",
        }
    }
}

/// Why an iteration did not run all its steps: the first reason it met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incomplete {
    /// A step failed with `on_failure: end_iteration` (the default for a step that captures).
    StepFailed,
    /// A step's answer did not hold a value it captures.
    CaptureFailed,
    /// A step was skipped: it reads a value an earlier step did not capture.
    MissingVariable,
}

impl Incomplete {
    pub const ALL: [Incomplete; 3] = [Incomplete::StepFailed, Incomplete::CaptureFailed, Incomplete::MissingVariable];

    pub fn as_str(self) -> &'static str {
        match self {
            Incomplete::StepFailed => "step_failed",
            Incomplete::CaptureFailed => "capture_failed",
            Incomplete::MissingVariable => "missing_variable",
        }
    }
}

/// A timed stretch of an iteration: k6's `iteration_duration` and `group_duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    /// A whole iteration, its think time included. `journey` indexes the scenario's journeys (0 without any).
    Iteration { journey: usize, duration: Duration, incomplete: Option<Incomplete> },
    /// One run of a group (all its passes) that was not cut short; `group` indexes the scenario's groups.
    Group { group: usize, duration: Duration },
}

/// Anything that consumes samples: the Prometheus metrics, run statistics, SLO windows.
pub trait SampleSink: Send + Sync {
    fn record(&self, sample: &Sample);

    /// An iteration or a group ended.
    fn record_span(&self, span: &Span) {
        let _ = span;
    }

    /// A server named `server_name` presented a certificate chain whose
    /// earliest `notAfter` is `expiry` (seconds since the Unix epoch).
    fn record_certificate(&self, server_name: &str, expiry: u64) {
        let _ = (server_name, expiry);
    }

    /// The scenario's setup ran: it passed (None), or failed and why.
    fn record_setup(&self, failed: Option<&str>) {
        let _ = failed;
    }
}
