//! Live progress: one updating line on a terminal, a plain line every few
//! seconds otherwise (CI logs stay readable).

use super::ProgressMode;
use crate::model::duration;
use crate::report::TimelinePoint;
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// How often a plain line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    mode: ProgressMode,
    terminal: bool,
    planned: Duration,
    next_plain: Duration,
}

impl Progress {
    pub fn new(mode: ProgressMode, planned: Duration) -> Progress {
        Progress { mode, terminal: std::io::stderr().is_terminal(), planned, next_plain: PLAIN_EVERY }
    }

    pub fn tick(&mut self, elapsed: Duration, point: &TimelinePoint) {
        if self.mode == ProgressMode::Off {
            return;
        }
        let line = line(elapsed, self.planned, point);
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        } else if elapsed >= self.next_plain {
            self.next_plain += PLAIN_EVERY;
            let _ = writeln!(err, "{line}");
        }
    }

    pub fn finish(&mut self, elapsed: Duration) {
        if self.mode == ProgressMode::Off {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = writeln!(err);
        }
        let _ = writeln!(err, "finished after {}", duration::format(Duration::from_secs(elapsed.as_secs())));
    }
}

/// `running [ 12s / 30s ] vus=16 req/s=14.8 failed=0.00% p95=25.1ms`
pub fn line(elapsed: Duration, planned: Duration, point: &TimelinePoint) -> String {
    let failed = if point.requests == 0 { 0.0 } else { 100.0 * point.failed as f64 / point.requests as f64 };
    let p95 = point.p95_ms.map_or("-".to_string(), |ms| format!("{ms:.1}ms"));
    format!(
        "running [ {} / {} ] vus={} req/s={:.1} failed={failed:.2}% p95={p95} dropped={}",
        duration::format(Duration::from_secs(elapsed.as_secs())),
        duration::format(planned),
        point.vus,
        point.requests_per_second,
        point.dropped_iterations,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_shows_the_key_figures() {
        let point = TimelinePoint {
            requests: 200,
            failed: 3,
            requests_per_second: 14.8,
            vus: 16,
            p95_ms: Some(25.14),
            ..Default::default()
        };
        assert_eq!(
            line(Duration::from_millis(12_400), Duration::from_secs(30), &point),
            "running [ 12s / 30s ] vus=16 req/s=14.8 failed=1.50% p95=25.1ms dropped=0"
        );
    }
}
