//! sloprober: steady synthetic load on HTTP services, checked and exported as
//! Prometheus metrics.
//!
//! The data path, one module per step:
//! `config` -> `plan` -> `engine` -> `executor` -> `request` (+ `check`) -> `sample`
//! -> `metrics` (-> `server`) and `stats` (-> `slo`, `run` reports).
//!
//! Public are the modules the binary, the integration tests and the benches
//! use; the rest are private, so unused code is reported.

// System calls the standard library lacks live in `sys`, each `unsafe` block
// with the reason it is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod demo_target;
mod engine;
pub mod executor;
pub mod metrics;
pub mod plan;
pub mod remote_write;
pub mod render;
mod request;
pub mod result;
pub mod run;
pub mod sample;
pub mod server;
mod slo;
mod stats;
mod status;
#[allow(unsafe_code)]
mod sys;
