//! sloprober: steady synthetic load on HTTP services, checked and exported as
//! Prometheus metrics.
//!
//! The data path, one module per step:
//! `config` -> `plan` -> `executor` -> `request` (+ `check`) -> `sample` -> `metrics` -> `server`.

// System calls the standard library lacks live in `sys`, each `unsafe` block
// with the reason it is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod demo_target;
pub mod engine;
pub mod executor;
pub mod metrics;
pub mod plan;
pub mod render;
pub mod request;
pub mod run;
pub mod sample;
pub mod server;
pub mod slo;
pub mod stats;
#[allow(unsafe_code)]
pub mod sys;
