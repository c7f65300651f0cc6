//! Sleeping until an instant to within microseconds. Linux lets an OS sleep
//! run up to 50 µs late (timer slack), and waking takes more: sleep until
//! shortly before the deadline, then spin through the rest.

use std::time::{Duration, Instant};

/// What is spun rather than slept before a deadline.
const SPIN: Duration = Duration::from_micros(200);

/// Returns at `deadline` (or at once if it has passed), within a few µs.
/// Sleeps at most `max_sleep` at a time before returning early, so a caller
/// can check for cancellation; call it again in that case.
pub fn until(deadline: Instant, max_sleep: Duration) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return true;
    }
    let left = deadline - now;
    if left > SPIN {
        let nap = (left - SPIN).min(max_sleep);
        std::thread::sleep(nap);
        if nap == max_sleep {
            return false;
        }
    }
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_at_the_deadline_not_before() {
        let deadline = Instant::now() + Duration::from_millis(3);
        while !until(deadline, Duration::from_secs(1)) {}
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn a_long_wait_returns_early_for_a_cancellation_check() {
        let deadline = Instant::now() + Duration::from_secs(5);
        assert!(!until(deadline, Duration::from_millis(1)));
        assert!(Instant::now() < deadline);
    }
}
