//! What one VU keeps from one iteration to the next: the executor carries it
//! without reading it (`executor::Vu::session`).

use super::cookies::CookieJar;
use crate::executor::Vu;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::pin::Pin;
use tokio::time::{Instant, Sleep};

/// A VU of the request runner.
pub type RequestVu = Vu<VuSession>;

pub struct VuSession {
    pub rng: SmallRng,
    /// The timer of this VU's request timeouts, made on its first request and
    /// moved forward for each next one: moving a timer later costs one atomic
    /// store, where a new timer per request takes the timer wheel's lock twice.
    request_timer: Option<Pin<Box<Sleep>>>,
    /// The current iteration's journey variables, by slot (empty outside journeys).
    pub variables: Vec<Option<serde_json::Value>>,
    /// The cookies the target set during the current iteration.
    pub cookies: CookieJar,
}

impl Default for VuSession {
    fn default() -> Self {
        VuSession {
            rng: SmallRng::from_rng(&mut rand::rng()),
            request_timer: None,
            variables: Vec::new(),
            cookies: CookieJar::default(),
        }
    }
}

impl VuSession {
    /// The VU's request timer, set to fire at `deadline`.
    pub fn request_timer(&mut self, deadline: Instant) -> Pin<&mut Sleep> {
        if let Some(timer) = &mut self.request_timer {
            timer.as_mut().reset(deadline);
        }
        self.request_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline))).as_mut()
    }
}
