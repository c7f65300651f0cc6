//! Defaults a user can count on, kept in one place.

use std::time::Duration;
pub const METRICS_LISTEN: &str = "0.0.0.0:9469";
pub const DEMO_TARGET_LISTEN: &str = "127.0.0.1:8080";
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed: what k6 and Go follow by default; blackbox_exporter follows Go's 10 too.
pub const MAX_REDIRECTS: u32 = 10;
/// The most of an answer's body kept for checks, captures and metric feeds.
pub const MAX_BODY: usize = 1 << 20;
pub const GRACEFUL_STOP: Duration = Duration::from_secs(30);
pub const GRACEFUL_RAMP_DOWN: Duration = Duration::from_secs(30);
pub const TIME_UNIT: Duration = Duration::from_secs(1);
pub const MAX_DURATION: Duration = Duration::from_secs(600);
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
pub const DAEMON_PROFILE: &str = "continuous";
pub const RUN_PROFILE: &str = "smoke";
pub const SLO_WINDOW: Duration = Duration::from_secs(300);
/// Latency histogram boundaries in seconds; every latency threshold is added to these.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 5.0,
    7.5, 10.0, 15.0, 30.0, 60.0,
];
