//! `target`: where requests go, with what headers, timeout, body limit,
//! TLS settings, redirects and proxy.

use crate::model::{defaults, duration, size};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Where requests go. Header values and `base_url` may use `${ENV_VAR}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub base_url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_timeout", deserialize_with = "duration::required")]
    pub timeout: Duration,
    /// The most of an answer's body kept (decoded) for what reads it; the
    /// rest is read, counted and dropped as it arrives.
    #[serde(default = "default_max_body", deserialize_with = "size::required")]
    pub max_body: usize,
    /// How https requests verify the server and present themselves.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Redirects followed before the answer that is checked (0: the 3xx is the answer).
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u32,
    /// An http:// proxy every request goes through (`${VAR}` allowed); none unless set.
    #[serde(default)]
    pub proxy: Option<String>,
}

fn default_max_redirects() -> u32 {
    defaults::MAX_REDIRECTS
}

/// A `tls` block (the names of Prometheus' and blackbox_exporter's
/// `tls_config`). Paths may use `${ENV_VAR}` and are read relative to the
/// working directory, at start and at every reload.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM CA certificates trusted instead of the system store.
    pub ca_file: Option<String>,
    /// PEM client certificate (chain), presented when the server asks for one.
    pub cert_file: Option<String>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<String>,
    /// Accept any server certificate (logged loudly at start).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The name sent as SNI and verified in the server's certificate,
    /// instead of the URL's host (a DNS name or an IP address).
    pub server_name: Option<String>,
}

fn default_max_body() -> usize {
    defaults::MAX_BODY
}

fn default_timeout() -> Duration {
    defaults::TIMEOUT
}
