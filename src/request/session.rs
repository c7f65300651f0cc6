//! What one VU keeps from one iteration to the next: the executor carries it
//! without reading it (`executor::Vu::session`).

use super::cookies::CookieJar;
use super::pool::Pool;
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
    pub request_timer: RequestTimer,
    /// The current iteration's journey variables, by slot (empty outside journeys).
    pub variables: Vec<Option<serde_json::Value>>,
    /// The cookies the target set during the current iteration.
    pub cookies: CookieJar,
    /// The connections it keeps open (unused under `connections: per_thread`).
    pub pool: Pool,
    /// What its parallel blocks' requests ran on, kept for the next block.
    pub lanes: Vec<Vu<VuSession>>,
}

impl Default for VuSession {
    fn default() -> Self {
        VuSession {
            rng: SmallRng::from_rng(&mut rand::rng()),
            request_timer: RequestTimer::default(),
            variables: Vec::new(),
            cookies: CookieJar::default(),
            pool: Pool::default(),
            lanes: Vec::new(),
        }
    }
}

impl VuSession {
    /// Readies this session as a lane of `vu`'s parallel block: the VU's
    /// variables (and `variable`, the block's loop variable) and cookies.
    pub fn join(&mut self, vu: &VuSession, variable: Option<&(usize, serde_json::Value)>) {
        self.variables.clone_from(&vu.variables);
        if let Some((slot, value)) = variable {
            self.variables[*slot] = Some(value.clone());
        }
        self.cookies.copy_for_lane(&vu.cookies);
    }
}

/// A VU's timer of request timeouts.
#[derive(Default)]
pub struct RequestTimer(Option<Pin<Box<Sleep>>>);

impl RequestTimer {
    /// The timer, set to fire at `deadline`.
    pub fn at(&mut self, deadline: Instant) -> Pin<&mut Sleep> {
        if let Some(timer) = &mut self.0 {
            timer.as_mut().reset(deadline);
        }
        self.0.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline))).as_mut()
    }
}
