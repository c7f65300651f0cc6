//! Sleeping on time: Linux lets an OS sleep run up to 50 µs late (timer
//! slack) unless a thread asks otherwise, and on a VM even a tight one wakes
//! 42 µs late at the median and 191 µs at p99.

use std::time::{Duration, Instant};

/// What is spun rather than slept before a deadline.
const SPIN: Duration = Duration::from_micros(200);

/// Returns at `deadline` within a few µs: sleeps until shortly before it, then
/// spins through the rest (up to 200 µs of CPU per call).
pub fn sleep_precisely_until(deadline: Instant) {
    if let Some(nap) = deadline.checked_duration_since(Instant::now()).and_then(|left| left.checked_sub(SPIN)) {
        std::thread::sleep(nap);
    }
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// Asks Linux to wake this thread's sleeps on time rather than up to 50 µs
/// late (the default timer slack). Costs nothing while the thread sleeps.
pub fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// The shortest time slice Linux grants (EEVDF, since 6.12).
pub const SHORT_SLICE: Duration = Duration::from_micros(100);

/// Asks Linux's scheduler for a time slice of [`SHORT_SLICE`] for this thread
/// rather than the default (1.4 ms on 2 cores) until the guard is dropped: a
/// thread that wakes for a deadline while every core is busy then runs sooner
/// instead of when a running thread's slice ends. Needs no privilege; kernels
/// before 6.12 take the call and ignore it. None when the kernel refused it.
/// Threads started meanwhile inherit the slice.
pub fn short_slice() -> Option<ShortSlice> {
    let before = sched_runtime()?;
    set_sched_runtime(SHORT_SLICE.as_nanos() as u64).then_some(ShortSlice { before })
}

/// Restores the thread's previous time slice when dropped.
pub struct ShortSlice {
    before: u64,
}

impl Drop for ShortSlice {
    fn drop(&mut self) {
        set_sched_runtime(self.before);
    }
}

/// This thread's requested time slice in ns (0: the kernel's default), or
/// None for a thread not under the normal policy or a kernel without the call.
fn sched_runtime() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let attr = sched_attr()?;
        (attr.sched_policy == libc::SCHED_OTHER as u32).then_some(attr.sched_runtime)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

#[cfg(target_os = "linux")]
fn sched_attr() -> Option<libc::sched_attr> {
    // SAFETY: sched_getattr fills a sched_attr of the size given, for this thread (pid 0).
    unsafe {
        let mut attr: libc::sched_attr = std::mem::zeroed();
        let size = std::mem::size_of::<libc::sched_attr>() as libc::c_uint;
        (libc::syscall(libc::SYS_sched_getattr, 0, &mut attr as *mut libc::sched_attr, size, 0) == 0).then_some(attr)
    }
}

fn set_sched_runtime(ns: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        let Some(mut attr) = sched_attr() else { return false };
        attr.size = std::mem::size_of::<libc::sched_attr>() as u32;
        attr.sched_runtime = ns;
        // SAFETY: sched_setattr reads a sched_attr of the size it states, for this thread.
        unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const libc::sched_attr, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_precise_sleep_returns_at_the_deadline_not_before() {
        let deadline = Instant::now() + Duration::from_millis(3);
        sleep_precisely_until(deadline);
        assert!(Instant::now() >= deadline);
    }

    /// Major and minor version of the running kernel.
    #[cfg(target_os = "linux")]
    fn kernel_version() -> (u32, u32) {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut parts = release.split(|c: char| !c.is_ascii_digit()).map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_short_slice_lasts_as_long_as_its_guard() {
        std::thread::spawn(|| {
            let before = sched_runtime().expect("a normal thread");
            let guard = short_slice().expect("the kernel refused sched_setattr");
            if kernel_version() >= (6, 12) {
                assert_eq!(sched_runtime(), Some(SHORT_SLICE.as_nanos() as u64));
            }
            drop(guard);
            assert_eq!(sched_runtime(), Some(before), "the thread's own slice is back");
        })
        .join()
        .unwrap();
    }

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
