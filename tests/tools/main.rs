//! Integration tests that check sloprober against the real tools: promtool,
//! Prometheus and Alertmanager, k6, helm and kubernetes-validate, Chromium,
//! tinyproxy, xmllint, @grafana/schema. Built only with the
//! `external-tools` feature: `bash scripts/test.sh` installs the tools and
//! runs them.

#[path = "../common/mod.rs"]
mod common;

// The longest test (about 90 s of scripted faults) sorts first, so it runs
// beside the others instead of after them; the k6 timing comparison waits
// for it (common::serial).
mod agreement;

mod alerting_e2e;
mod chart;
mod daemon;
mod k6_parity;
mod merge;
mod proxy;
mod remote_write;
mod render;
mod report_pictures;
mod status_page;
mod tls;
mod web_config;
