//! `daemon`: how the always-on prober keeps its load going, stops, and
//! judges its SLOs live.

use crate::executor::OnEnd;
use crate::model::problems::Problems;
use crate::model::{defaults, duration};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    #[serde(default = "default_on_end")]
    pub on_end: OnEnd,
    #[serde(default = "default_daemon_profile")]
    pub profile: String,
    #[serde(default = "default_shutdown_grace", deserialize_with = "duration::required")]
    pub shutdown_grace: Duration,
    /// The sliding window live SLO verdicts are computed over.
    #[serde(default = "default_slo_window", deserialize_with = "duration::required")]
    pub slo_window: Duration,
}

impl DaemonConfig {
    pub fn check(&self, problems: &mut Problems) {
        if self.slo_window < Duration::from_secs(1) {
            problems.add("daemon.slo_window", "must be at least 1s");
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            on_end: default_on_end(),
            profile: default_daemon_profile(),
            shutdown_grace: default_shutdown_grace(),
            slo_window: default_slo_window(),
        }
    }
}

fn default_on_end() -> OnEnd {
    OnEnd::Hold
}

fn default_daemon_profile() -> String {
    defaults::DAEMON_PROFILE.to_string()
}

fn default_slo_window() -> Duration {
    defaults::SLO_WINDOW
}

fn default_shutdown_grace() -> Duration {
    defaults::SHUTDOWN_GRACE
}
