//! Pushes the metrics to a Prometheus remote-write receiver while the load
//! plays, and once more at its end, for runs nothing scrapes (CI jobs) and
//! setups without scraping. Every push is the whole registry, the series
//! /metrics shows, with the run's labels added: counters are cumulative, so
//! a push that is lost costs resolution, never counts.
//!
//! Pushes wait in a bounded queue (the oldest dropped when it is full) and
//! are sent in order; a failed push is retried with exponential backoff
//! (5xx, 429 and connection errors; other 4xx answers are not retried, as
//! the protocol says). Failures are logged once when they begin and once
//! when they end, and summed up in the [`Report`] at the end.

pub mod proto;

use crate::metrics::ProberMetrics;
use crate::plan::remote_write::RemoteWritePlan;
use bytes::Bytes;
use prost::Message;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest wait between two attempts at a failing push.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// What the pushes came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub receiver: String,
    /// Pushes the receiver accepted.
    pub delivered: u64,
    /// Attempts that failed and were retried.
    pub retried: u64,
    /// Pushes dropped from a full queue.
    pub dropped: u64,
    /// Pushes the receiver refused for good (a 4xx other than 429).
    pub rejected: u64,
    /// Pushes still queued when the writer had to stop.
    pub undelivered: u64,
    pub last_error: Option<String>,
}

impl Report {
    /// Whether every push, the final one included, arrived.
    pub fn complete(&self) -> bool {
        self.dropped == 0 && self.rejected == 0 && self.undelivered == 0
    }

    /// One line for the log.
    pub fn log(&self) {
        if self.complete() {
            tracing::info!(
                receiver = %self.receiver,
                pushes = self.delivered,
                retried = self.retried,
                "remote write: every push delivered, the final counts included"
            );
        } else {
            tracing::warn!(
                receiver = %self.receiver,
                delivered = self.delivered,
                dropped = self.dropped,
                rejected = self.rejected,
                undelivered = self.undelivered,
                retried = self.retried,
                last_error = self.last_error.as_deref().unwrap_or(""),
                "remote write: not every push arrived{}",
                if self.undelivered > 0 { "; the final counts are missing in the receiver" } else { "" }
            );
        }
    }
}

/// A running writer; [`RemoteWriter::finish`] pushes the final values and reports.
pub struct RemoteWriter {
    task: JoinHandle<Report>,
    stop: CancellationToken,
    /// How long the final push may take, retries included.
    flush: Arc<std::sync::Mutex<Duration>>,
}

impl RemoteWriter {
    /// Starts pushing `metrics` with `labels` added to every series (the first push now).
    pub fn start(
        plan: Arc<RemoteWritePlan>,
        metrics: Arc<ProberMetrics>,
        labels: Vec<(String, String)>,
    ) -> RemoteWriter {
        let stop = CancellationToken::new();
        let flush = Arc::new(std::sync::Mutex::new(Duration::ZERO));
        let mut labels = labels;
        labels.extend(plan.labels.iter().cloned());
        let sender = Sender::new(plan, metrics, labels);
        let task = tokio::spawn(sender.run(stop.clone(), flush.clone()));
        RemoteWriter { task, stop, flush }
    }

    /// Pushes the values as they are now, tries for at most `within` to
    /// deliver everything queued, and reports.
    pub async fn finish(self, within: Duration) -> Report {
        *self.flush.lock().unwrap_or_else(|p| p.into_inner()) = within;
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

enum Failure {
    /// Worth trying again: no answer, 5xx, 429.
    Retry(String),
    /// The receiver will not take this push.
    Reject(String),
}

struct Sender {
    plan: Arc<RemoteWritePlan>,
    metrics: Arc<ProberMetrics>,
    labels: Vec<(String, String)>,
    client: Option<reqwest::Client>,
    queue: VecDeque<Bytes>,
    report: Report,
    /// Since when pushes fail, if they do.
    failing: bool,
    backoff: Duration,
}

impl Sender {
    fn new(plan: Arc<RemoteWritePlan>, metrics: Arc<ProberMetrics>, labels: Vec<(String, String)>) -> Sender {
        let client = reqwest::Client::builder()
            .timeout(plan.timeout)
            .user_agent(concat!("sloprober/", env!("CARGO_PKG_VERSION")))
            .build();
        let report = Report { receiver: plan.receiver(), ..Default::default() };
        let mut sender = Sender {
            plan,
            metrics,
            labels,
            client: None,
            queue: VecDeque::new(),
            report,
            failing: false,
            backoff: FIRST_BACKOFF,
        };
        match client {
            Ok(client) => sender.client = Some(client),
            Err(e) => sender.report.last_error = Some(format!("no HTTP client: {}", e.without_url())),
        }
        sender
    }

    async fn run(mut self, stop: CancellationToken, flush: Arc<std::sync::Mutex<Duration>>) -> Report {
        let mut next_push = Instant::now();
        let mut retry_at: Option<Instant> = None;
        loop {
            let wake = retry_at.map_or(next_push, |r| r.min(next_push));
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = stop.cancelled() => break,
            }
            let now = Instant::now();
            if now >= next_push {
                self.enqueue();
                // Missed ticks (a slow receiver held us up) are skipped, not made up.
                next_push = (next_push + self.plan.interval).max(now);
            }
            if retry_at.is_none_or(|r| now >= r) {
                retry_at = self.deliver(&stop).await;
            }
        }
        self.enqueue();
        let within = *flush.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = Instant::now() + within;
        while !self.queue.is_empty() {
            let Some(retry) = self.deliver(&CancellationToken::new()).await else { break };
            if retry >= deadline {
                break;
            }
            tokio::time::sleep_until(retry).await;
        }
        self.report.undelivered = self.queue.len() as u64;
        self.report
    }

    /// Queues a push of the values as they are now.
    fn enqueue(&mut self) {
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
        let request = proto::write_request(&self.metrics.gather(), &self.labels, timestamp);
        let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap_or_default();
        if self.queue.len() >= self.plan.queue {
            self.queue.pop_front();
            self.report.dropped += 1;
        }
        self.queue.push_back(Bytes::from(body));
    }

    /// Sends what is queued, oldest first; on a failure worth retrying,
    /// returns when to try again.
    async fn deliver(&mut self, stop: &CancellationToken) -> Option<Instant> {
        while let Some(body) = self.queue.front().cloned() {
            let sent = tokio::select! {
                sent = self.send(body) => sent,
                // Stopping: the final push follows at once.
                _ = stop.cancelled() => return None,
            };
            match sent {
                Ok(()) => {
                    self.queue.pop_front();
                    self.report.delivered += 1;
                    if self.failing {
                        self.failing = false;
                        tracing::info!(receiver = %self.report.receiver, "remote write recovered; queued pushes sent");
                    }
                    self.backoff = FIRST_BACKOFF;
                }
                Err(Failure::Reject(error)) => {
                    self.queue.pop_front();
                    self.report.rejected += 1;
                    if self.report.rejected == 1 {
                        tracing::warn!(receiver = %self.report.receiver, %error, "remote write: the receiver refused a push; it is not retried");
                    }
                    self.report.last_error = Some(error);
                }
                Err(Failure::Retry(error)) => {
                    self.report.retried += 1;
                    if !self.failing {
                        self.failing = true;
                        tracing::warn!(
                            receiver = %self.report.receiver,
                            %error,
                            queue = self.plan.queue,
                            "remote write failing; retrying with backoff and keeping the newest pushes"
                        );
                    }
                    self.report.last_error = Some(error);
                    let wait = self.backoff;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    return Some(Instant::now() + wait);
                }
            }
        }
        None
    }

    async fn send(&self, body: Bytes) -> Result<(), Failure> {
        let Some(client) = &self.client else {
            return Err(Failure::Reject(self.report.last_error.clone().unwrap_or_default()));
        };
        let response = client
            .post(self.plan.url.clone())
            .headers(self.plan.headers.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .header(http::header::CONTENT_ENCODING, "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Retry(describe(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // The receiver's reason, shortened: it names the series it refused.
        let reason: String = response.text().await.unwrap_or_default().chars().take(200).collect();
        let error = format!("{status}: {}", reason.trim());
        if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
            Err(Failure::Retry(error))
        } else {
            Err(Failure::Reject(error))
        }
    }
}

/// A reqwest error without its URL, with its cause (connection refused, timed out...).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() { "timed out".to_string() } else { "no answer".to_string() };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
