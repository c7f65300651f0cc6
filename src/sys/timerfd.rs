//! A one-shot Linux timerfd on the tokio reactor of the thread that polls it:
//! the kernel's timer precision (tokio's timers tick in whole milliseconds).

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::task::{Context, Poll};
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// nix's timer, as the reactor registers it.
struct Registered(nix::sys::timerfd::TimerFd);

impl AsRawFd for Registered {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// A one-shot Linux timerfd, readable (to the reactor) once it fires.
pub struct TimerFd {
    fd: AsyncFd<Registered>,
    /// When it is set to fire; None once it has fired.
    armed: Option<Instant>,
}

impl TimerFd {
    pub fn new() -> io::Result<TimerFd> {
        let timer = nix::sys::timerfd::TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        let registered = Registered(timer);
        // SAFETY: `Registered` owns the timer's descriptor, which stays open, and is the one
        // `as_raw_fd` returns, until the AsyncFd (its only owner) is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(registered, tokio::io::Interest::READABLE)? };
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
        // A zero expiration would disarm the timer instead.
        let after = after.max(std::time::Duration::from_nanos(1));
        let expiration = Expiration::OneShot(TimeSpec::from_duration(after));
        Ok(self.fd.get_ref().0.set(expiration, TimerSetTimeFlags::empty())?)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::TimerFd;
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
