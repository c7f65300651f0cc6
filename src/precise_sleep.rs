//! Sleeping until an instant to within microseconds. Linux lets an OS sleep
//! run up to 50 µs late (timer slack) unless a thread asks otherwise, and
//! waking takes more still.

use std::time::{Duration, Instant};

/// Asks Linux to wake this thread's sleeps on time rather than up to 50 µs
/// late (the default timer slack). Costs nothing while the thread sleeps.
pub fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// What is spun rather than slept before a deadline in [`until`].
const SPIN: Duration = Duration::from_micros(200);

/// Returns at `deadline` (or at once if it has passed), within a few µs, by
/// sleeping until shortly before it and spinning through the rest: for the
/// fixed-delay test server, whose threads may burn that CPU.
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
    #[cfg(target_os = "linux")]
    fn tightening_sets_this_threads_timer_slack_to_1_ns() {
        std::thread::spawn(|| {
            // SAFETY: PR_GET_TIMERSLACK reads this thread's slack, in ns.
            let slack = || unsafe { libc::prctl(libc::PR_GET_TIMERSLACK) };
            tighten_timer_slack();
            assert_eq!(slack(), 1);
        })
        .join()
        .unwrap();
    }

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
