//! `alerts`: how `sloprober render` turns thresholds into Prometheus alerts.

use crate::model::duration;
use crate::model::metric::{is_label_safe, LABEL_HINT};
use crate::model::problems::Problems;
use serde::Deserialize;
use std::time::Duration;

/// How `sloprober render` turns thresholds into Prometheus alerts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// The SLO period error budgets are measured over.
    #[serde(default = "default_period", deserialize_with = "duration::required")]
    pub period: Duration,
    /// Multi-window, multi-burn-rate alerts (Google SRE workbook).
    #[serde(default = "default_burn_rates")]
    pub burn_rates: Vec<BurnRateAlert>,
    /// Window of the fast "threshold breached now" alert, which mirrors the CI verdict.
    #[serde(default = "default_fast_window", deserialize_with = "duration::required")]
    pub fast_window: Duration,
    /// How long the breach must last before that alert fires.
    #[serde(default = "default_fast_for", deserialize_with = "duration::required")]
    pub fast_for: Duration,
    /// Where docs/runbooks.md is published; each alert links to its section.
    #[serde(default = "default_runbook_url")]
    pub runbook_url: String,
    /// The Prometheus job that scrapes sloprober (for the "not scraped" alert).
    #[serde(default = "default_job")]
    pub job: String,
    /// How long an SLO's SLI must see no events before its no-data alert fires.
    #[serde(default = "default_no_data_for", deserialize_with = "duration::required")]
    pub no_data_for: Duration,
    /// A server certificate that expires within this long raises `SloproberCertificateExpiringSoon`.
    #[serde(default = "default_cert_expires_within", deserialize_with = "duration::required")]
    pub cert_expires_within: Duration,
}

/// Fire when the error budget burns `factor` times too fast over both windows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnRateAlert {
    pub severity: String,
    #[serde(deserialize_with = "duration::required")]
    pub long: Duration,
    #[serde(deserialize_with = "duration::required")]
    pub short: Duration,
    pub factor: f64,
    #[serde(rename = "for", default, deserialize_with = "duration::required")]
    pub for_: Duration,
}

impl AlertsConfig {
    /// Burn rates that can fire, label-safe severities, windows long enough to judge.
    pub fn check(&self, problems: &mut Problems) {
        for (i, burn) in self.burn_rates.iter().enumerate() {
            let path = format!("alerts.burn_rates[{i}]");
            if !(burn.factor.is_finite() && burn.factor > 0.0) {
                problems.add(format!("{path}.factor"), "must be greater than 0");
            }
            if burn.short >= burn.long {
                problems.add(&path, "short must be shorter than long");
            }
            if !is_label_safe(&burn.severity) {
                problems.add(format!("{path}.severity"), LABEL_HINT.replace("{}", &burn.severity));
            }
        }
        if self.cert_expires_within < Duration::from_secs(24 * 3600) {
            problems.add("alerts.cert_expires_within", "must be at least 1d (renewals take days)");
        }
        if self.fast_window < Duration::from_secs(2) {
            problems.add("alerts.fast_window", "must be at least 2s (two scrapes)");
        }
    }
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            period: default_period(),
            burn_rates: default_burn_rates(),
            fast_window: default_fast_window(),
            fast_for: default_fast_for(),
            runbook_url: default_runbook_url(),
            job: default_job(),
            no_data_for: default_no_data_for(),
            cert_expires_within: default_cert_expires_within(),
        }
    }
}

fn default_cert_expires_within() -> Duration {
    Duration::from_secs(14 * 24 * 3600)
}

fn default_no_data_for() -> Duration {
    Duration::from_secs(600)
}

fn default_period() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}

fn default_burn_rates() -> Vec<BurnRateAlert> {
    let alert = |severity: &str, long: u64, short: u64, factor: f64, for_: u64| BurnRateAlert {
        severity: severity.to_string(),
        long: Duration::from_secs(long),
        short: Duration::from_secs(short),
        factor,
        for_: Duration::from_secs(for_),
    };
    vec![
        alert("page", 3600, 300, 14.4, 120),
        alert("page", 6 * 3600, 1800, 6.0, 900),
        alert("ticket", 24 * 3600, 2 * 3600, 3.0, 3600),
        alert("ticket", 3 * 24 * 3600, 6 * 3600, 1.0, 3 * 3600),
    ]
}

fn default_fast_window() -> Duration {
    Duration::from_secs(300)
}

fn default_fast_for() -> Duration {
    Duration::from_secs(120)
}

fn default_runbook_url() -> String {
    "docs/runbooks.md".to_string()
}

fn default_job() -> String {
    "sloprober".to_string()
}
