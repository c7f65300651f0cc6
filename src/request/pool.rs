//! The connections kept open between requests, per origin: idle HTTP/1.1
//! connections and open HTTP/2 sessions.
//!
//! By default each VU has its own pool, as a k6 VU has its own transport: the
//! service sees as many clients as there are VUs, each reusing its own
//! connections. A scenario with `connections: per_thread` instead lets the
//! VUs of one thread share one pool: a process then holds as many
//! connections as it ever had requests in flight at once, fewer sockets for
//! many thinking VUs, but one connection may carry most of the load.

use super::connect::Origin;
use super::h2::Sender;
use super::http1::Conn;
use std::cell::RefCell;
use std::time::{Duration, Instant};

/// A connection or session unused this long is closed, as reqwest's pool does.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle HTTP/1.1 connections a VU keeps per origin (k6's `batchPerHost`,
/// the `MaxIdleConnsPerHost` of a k6 VU's transport); a parallel block
/// may open more, and those past this many are closed as they come back.
pub const VU_IDLE_PER_ORIGIN: usize = 6;

/// Open connections by origin: idle HTTP/1.1 connections (the most recently
/// used last) and one HTTP/2 session per origin. A pool talks to few
/// origins: a scan costs less than hashing the host.
pub struct Pool {
    idle: Vec<(Origin, Vec<Conn>)>,
    sessions: Vec<Session>,
    /// Idle connections kept per origin.
    idle_per_origin: usize,
}

/// One open HTTP/2 session and when a request last went over it.
struct Session {
    origin: Origin,
    sender: Sender,
    last_used: Instant,
}

impl Default for Pool {
    /// A VU's pool.
    fn default() -> Pool {
        Pool::new(VU_IDLE_PER_ORIGIN)
    }
}

thread_local! {
    /// The pool the VUs of this thread share under `connections: per_thread`.
    static THREAD: RefCell<Pool> = RefCell::new(Pool::new(usize::MAX));
}

impl Pool {
    fn new(idle_per_origin: usize) -> Pool {
        Pool { idle: Vec::new(), sessions: Vec::new(), idle_per_origin }
    }

    /// The most recently used idle connection to `origin` that is still
    /// open; closed and long-unused ones are dropped on the way.
    pub fn take_idle(&mut self, origin: &Origin) -> Option<Conn> {
        let (_, list) = self.idle.iter_mut().find(|(known, _)| known == origin)?;
        let now = Instant::now();
        while let Some(mut conn) = list.pop() {
            let idle = now.saturating_duration_since(conn.idle_since());
            if idle < IDLE_TIMEOUT && conn.usable_after_idle(idle) {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps `conn` for a next request to its origin; past the pool's
    /// bound, the longest idle one is closed.
    pub fn put_idle(&mut self, mut conn: Conn) {
        let now = Instant::now();
        conn.mark_idle(now);
        let list = match self.idle.iter().position(|(origin, _)| origin == conn.origin()) {
            Some(index) => &mut self.idle[index].1,
            None => {
                self.idle.push((conn.origin().clone(), Vec::new()));
                &mut self.idle.last_mut().expect("just pushed").1
            }
        };
        list.push(conn);
        // The oldest is first.
        if list.len() > self.idle_per_origin
            || list.first().is_some_and(|oldest| now - oldest.idle_since() > IDLE_TIMEOUT)
        {
            list.remove(0);
        }
    }

    /// Frees the buffers of the idle connections, for a VU about to think:
    /// thousands of thinking VUs then hold sockets, not kilobytes each.
    pub fn rest(&mut self) {
        self.idle.iter_mut().flat_map(|(_, list)| list.iter_mut()).for_each(Conn::free_buffers);
    }

    /// A handle on the open session to `origin`, if there is one; closed
    /// and long-unused sessions are dropped on the way.
    pub fn session(&mut self, origin: &Origin) -> Option<Sender> {
        if self.sessions.is_empty() || origin.tls.is_none() {
            return None;
        }
        let now = Instant::now();
        self.sessions.retain(|s| !s.sender.is_closed() && now - s.last_used < IDLE_TIMEOUT);
        let session = self.sessions.iter_mut().find(|s| s.origin == *origin)?;
        session.last_used = now;
        Some(session.sender.clone())
    }

    /// Keeps a new session for the next requests to `origin` (replacing any before).
    pub fn keep_session(&mut self, origin: &Origin, sender: Sender) {
        self.sessions.retain(|s| s.origin != *origin);
        self.sessions.push(Session { origin: origin.clone(), sender, last_used: Instant::now() });
    }
}

/// The pool a request takes its connection from and gives it back to.
pub enum Conns<'a> {
    /// Its VU's.
    Vu(&'a mut Pool),
    /// Its VU's, shared by the requests of a parallel block.
    Shared(&'a std::sync::Mutex<Pool>),
    /// Its thread's.
    Thread,
}

impl Conns<'_> {
    /// Runs `f` on the pool; it must not await (a thread's pool is borrowed for it).
    pub fn with<R>(&mut self, f: impl FnOnce(&mut Pool) -> R) -> R {
        match self {
            Conns::Vu(pool) => f(pool),
            Conns::Shared(pool) => f(&mut pool.lock().unwrap_or_else(|p| p.into_inner())),
            Conns::Thread => THREAD.with_borrow_mut(f),
        }
    }
}
