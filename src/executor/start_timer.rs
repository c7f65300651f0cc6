//! Wakes a VU thread's task when its next arrival is due. tokio's timers tick
//! in whole milliseconds, so on Linux the VU thread uses a timerfd on its own
//! reactor instead: the kernel's precision, and no other thread to wake.
//! VUs on the calling runtime (a test's paused clock drives tokio's timers)
//! and other systems use tokio's timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

pub enum StartTimer {
    Tokio(Pin<Box<Sleep>>),
    #[cfg(target_os = "linux")]
    Kernel(crate::sys::timerfd::TimerFd),
}

impl StartTimer {
    /// A kernel timer when `precise` and the system has one, else tokio's.
    pub fn new(precise: bool) -> StartTimer {
        #[cfg(target_os = "linux")]
        if precise {
            if let Ok(timer) = crate::sys::timerfd::TimerFd::new() {
                return StartTimer::Kernel(timer);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = precise;
        StartTimer::Tokio(Box::pin(tokio::time::sleep_until(Instant::now())))
    }

    /// How long before an instant to wake for a thread to be running at it:
    /// a kernel timer's wake-up is 40 µs late at the median and 200 µs at p99
    /// on a VM; tokio's paused clock (unit tests) wakes a task exactly.
    pub fn wake_up_lead(&self) -> Duration {
        match self {
            StartTimer::Tokio(_) => Duration::ZERO,
            #[cfg(target_os = "linux")]
            StartTimer::Kernel(_) => Duration::from_micros(200),
        }
    }

    /// Ready once `at` has passed. Call again after each Ready: the timer is
    /// set anew for `at` then.
    pub fn poll_until(&mut self, at: Instant, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            StartTimer::Tokio(sleep) => {
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
                sleep.as_mut().poll(cx)
            }
            #[cfg(target_os = "linux")]
            StartTimer::Kernel(timer) => timer.poll_until(at, cx),
        }
    }
}
