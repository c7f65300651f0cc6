//! Wakes a VU thread's task when its next arrival is due. tokio's timers tick
//! in whole milliseconds, so on Linux the VU thread uses a timerfd on its own
//! reactor instead: the kernel's precision, and no other thread to wake.
//! Unit tests (whose paused clock drives tokio's timers) and other systems
//! use tokio's timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

pub enum StartTimer {
    Tokio(Pin<Box<Sleep>>),
    #[cfg(target_os = "linux")]
    Kernel(timerfd::TimerFd),
}

impl StartTimer {
    pub fn new() -> StartTimer {
        #[cfg(target_os = "linux")]
        if !cfg!(test) {
            if let Ok(timer) = timerfd::TimerFd::new() {
                return StartTimer::Kernel(timer);
            }
        }
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

#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::task::{Context, Poll};
    use tokio::io::unix::AsyncFd;
    use tokio::time::Instant;

    /// A one-shot Linux timerfd, readable (to the reactor) once it fires.
    pub struct TimerFd {
        fd: AsyncFd<OwnedFd>,
        /// When it is set to fire; None once it has fired.
        armed: Option<Instant>,
    }

    impl TimerFd {
        pub fn new() -> io::Result<TimerFd> {
            // SAFETY: timerfd_create takes plain flags and returns a new fd or -1.
            let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a new fd that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            // SAFETY: an OwnedFd stays open, and is the same fd, for as long as it is owned.
            let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)? };
            Ok(TimerFd { fd, armed: None })
        }

        /// Ready once `at` has passed. A timer set for an earlier instant
        /// fires first (a wake-up that finds nothing due); one set later is
        /// moved to `at`.
        pub fn poll_until(&mut self, at: Instant, cx: &mut Context<'_>) -> Poll<()> {
            loop {
                // The clock is read only to set the timer or after it fired.
                if self.armed.is_none_or(|armed| armed > at) {
                    let now = Instant::now();
                    if at <= now {
                        return Poll::Ready(());
                    }
                    if self.set(at - now).is_err() {
                        // Cannot happen for a valid timerfd and time; never leave the caller unwoken.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    self.armed = Some(at);
                }
                match self.fd.poll_read_ready(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(mut guard)) => {
                        // Setting the timer again resets its expiry count: no read needed.
                        guard.clear_ready();
                        self.armed = None;
                        if Instant::now() >= at {
                            return Poll::Ready(());
                        }
                    }
                    Poll::Ready(Err(_)) => {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
            }
        }

        /// Sets the timer to fire once, `after` from now.
        fn set(&self, after: std::time::Duration) -> io::Result<()> {
            // A zero it_value would disarm the timer instead.
            let nanos = after.as_nanos().max(1);
            let spec = libc::itimerspec {
                it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
                it_value: libc::timespec {
                    tv_sec: (nanos / 1_000_000_000) as libc::time_t,
                    tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
                },
            };
            // SAFETY: the fd is a timerfd we own; spec is a valid itimerspec; old value not wanted.
            let set = unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
            if set == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::timerfd::TimerFd;
    use std::future::poll_fn;
    use std::time::Duration;
    use tokio::time::Instant;

    #[tokio::test]
    async fn the_kernel_timer_fires_at_its_instant_not_before() {
        let mut timer = TimerFd::new().unwrap();
        let at = Instant::now() + Duration::from_millis(5);
        poll_fn(|cx| timer.poll_until(at, cx)).await;
        assert!(Instant::now() >= at);
        let again = Instant::now() + Duration::from_millis(3);
        poll_fn(|cx| timer.poll_until(again, cx)).await;
        assert!(Instant::now() >= again, "it is set anew after firing");
    }

    #[tokio::test]
    async fn the_kernel_timer_moves_to_an_earlier_instant() {
        let mut timer = TimerFd::new().unwrap();
        let start = Instant::now();
        let far = start + Duration::from_secs(60);
        assert!(poll_fn(|cx| std::task::Poll::Ready(timer.poll_until(far, cx))).await.is_pending());
        poll_fn(|cx| timer.poll_until(start + Duration::from_millis(5), cx)).await;
        assert!(start.elapsed() < Duration::from_secs(30), "woken at 5 ms, not at 60 s");
    }
}
