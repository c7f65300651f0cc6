//! sloprober: steady synthetic load on HTTP services, checked and exported as
//! Prometheus metrics.
//!
//! The data path, one module per step:
//! `config` -> `plan` -> `executor` -> `request` (+ `check`) -> `sample` -> `metrics` -> `server`.

pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo_target;
pub mod descriptors;
pub mod executor;
pub mod http_server;
pub mod metrics;
pub mod plan;
pub mod render;
pub mod request;
pub mod run;
pub mod sample;
pub mod server;
pub mod slo;
pub mod stats;
pub mod timer_slack;
