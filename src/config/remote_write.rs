//! `metrics.remote_write`: where a run (or the daemon) pushes its metrics
//! with Prometheus' remote-write protocol, as written. Secret values come
//! from `${VAR}`; the plan resolves them (`plan::remote_write`).

use crate::model::duration;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// The receiver, e.g. `http://prometheus:9090/api/v1/write`.
    pub url: String,
    /// How often the metrics are pushed while the load plays (and once more at its end).
    #[serde(default = "default_interval", deserialize_with = "duration::required")]
    pub interval: Duration,
    /// Longest wait for one push's answer.
    #[serde(default = "default_timeout", deserialize_with = "duration::required")]
    pub timeout: Duration,
    /// Extra request headers (`X-Scope-OrgID` for Mimir, Cortex, Thanos).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub bearer_token: Option<String>,
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// Pushes kept while the receiver cannot take them; the oldest go first.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Labels added to every series (`testid` and `profile` always are).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

impl RemoteWriteConfig {
    /// Only a URL, everything else default (`--remote-write URL`).
    pub fn to(url: &str) -> RemoteWriteConfig {
        RemoteWriteConfig {
            url: url.to_string(),
            interval: default_interval(),
            timeout: default_timeout(),
            headers: BTreeMap::new(),
            bearer_token: None,
            basic_auth: None,
            queue: default_queue(),
            labels: BTreeMap::new(),
        }
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(5)
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_queue() -> usize {
    120
}
