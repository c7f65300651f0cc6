//! Sleeping on time: Linux lets an OS sleep run up to 50 µs late (timer
//! slack) unless a thread asks otherwise.

/// Asks Linux to wake this thread's sleeps on time rather than up to 50 µs
/// late (the default timer slack). Costs nothing while the thread sleeps.
pub fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

#[cfg(test)]
mod tests {
    use super::tighten_timer_slack;

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
}
