//! An embedded stand-in for the AIVO services (gateway, assessment, search),
//! so everything runs without a cluster. Latency and errors per endpoint are
//! set at start and changed at run time through `/admin/faults`.

mod faults;
pub mod fixed_delay;
mod routes;
pub mod store;
mod timer_slack;

pub use faults::{Fault, FaultPatch, Faults, ENDPOINTS};

use crate::server::http::{self as http_server, DropConnection, HttpResponse};
use hyper::body::Incoming;
use hyper::Request;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;

/// The demo target's state: its API key, faults, and what it has served.
pub struct DemoTarget {
    api_key: String,
    faults: RwLock<Faults>,
    served: BTreeMap<&'static str, AtomicU64>,
    /// Requests received per endpoint: the sequence number fault shares are spread over.
    arrivals: BTreeMap<&'static str, AtomicU64>,
    injected: BTreeMap<&'static str, [AtomicU64; 4]>,
    unauthorized: AtomicU64,
    /// Assessments, documents and sessions made through the API.
    store: store::Store,
}

/// What the demo target did on purpose, per endpoint.
#[derive(Debug, Clone, Copy)]
pub enum Injected {
    Error = 0,
    Reset = 1,
    Garbage = 2,
    Contract = 3,
}

impl DemoTarget {
    pub fn new(api_key: impl Into<String>, faults: Faults) -> Arc<DemoTarget> {
        Arc::new(DemoTarget {
            api_key: api_key.into(),
            faults: RwLock::new(faults),
            served: ENDPOINTS.iter().map(|e| (*e, AtomicU64::new(0))).collect(),
            arrivals: ENDPOINTS.iter().map(|e| (*e, AtomicU64::new(0))).collect(),
            injected: ENDPOINTS.iter().map(|e| (*e, Default::default())).collect(),
            unauthorized: AtomicU64::new(0),
            store: store::Store::default(),
        })
    }

    /// Changes faults as `POST /admin/faults` does; nothing changes unless the whole patch is valid.
    pub fn set_faults(&self, patch: &BTreeMap<String, FaultPatch>) -> Result<(), String> {
        self.faults.write().unwrap_or_else(|p| p.into_inner()).apply(patch)
    }

    fn fault(&self, endpoint: &str) -> Fault {
        self.faults.read().unwrap_or_else(|p| p.into_inner()).get(endpoint)
    }

    /// The next sequence number of `endpoint`'s requests.
    fn arrival(&self, endpoint: &str) -> u64 {
        self.arrivals.get(endpoint).map_or(0, |c| c.fetch_add(1, Ordering::Relaxed))
    }

    fn count(&self, endpoint: &str) {
        if let Some(counter) = self.served.get(endpoint) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count_injected(&self, endpoint: &str, what: Injected) {
        if let Some(counters) = self.injected.get(endpoint) {
            counters[what as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests served per endpoint (including injected failures), the
    /// failures injected, requests refused for a wrong or missing token, and
    /// per kind of object: created, deleted, used with an unknown id.
    pub fn stats(&self) -> serde_json::Value {
        let load = |c: &AtomicU64| serde_json::Value::from(c.load(Ordering::Relaxed));
        let served: serde_json::Map<String, serde_json::Value> =
            self.served.iter().map(|(k, v)| (k.to_string(), load(v))).collect();
        let injected = |what: Injected| -> serde_json::Map<String, serde_json::Value> {
            self.injected.iter().map(|(k, v)| (k.to_string(), load(&v[what as usize]))).collect()
        };
        serde_json::json!({
            "requests": served,
            "errors": injected(Injected::Error),
            "resets": injected(Injected::Reset),
            "garbage": injected(Injected::Garbage),
            "broken_contracts": injected(Injected::Contract),
            "unauthorized": load(&self.unauthorized),
            "objects": self.store.stats(),
        })
    }

    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Result<HttpResponse, DropConnection> {
        routes::handle(&self, request).await
    }
}

/// Serves the demo target until `shutdown` resolves.
pub async fn serve(listener: TcpListener, target: Arc<DemoTarget>, shutdown: impl Future<Output = ()>) {
    // As many connections as the load under test opens: the prober's limit is its own.
    let how = http_server::Listening {
        max_connections: tokio::sync::Semaphore::MAX_PERMITS,
        ..http_server::Listening::default()
    };
    http_server::serve(listener, move |request| target.clone().handle(request), shutdown, Duration::from_secs(2), how)
        .await
}
