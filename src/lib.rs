//! sloprober: steady synthetic load on HTTP services, checked and exported as
//! Prometheus metrics.
//!
//! The data path, one module per step: `config` -> `plan` -> `engine` ->
//! `executor` -> `request` (+ `check`, `template`) -> a `model::sample::Sample`
//! -> `metrics` (-> `server`, `remote_write`) and `stats` (-> `slo` -> `report`).
//! The modules below are declared in layer order, bottom first.
//!
//! Public are the modules the binary, the integration tests and the benches
//! use; the rest are private, so unused code is reported.

// System calls the standard library lacks live in `sys`, each `unsafe` block
// with the reason it is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

// Layers, bottom first: a module imports only modules declared above it
// (tests/layers.rs fails on an import that reaches up).

// The ground: system calls the standard library lacks, and the vocabulary.
#[allow(unsafe_code)]
mod sys;
pub mod model;
// Components that own their settings and their validation.
mod template;
pub mod check;
pub mod executor;
// The config as written, and the plan built from it.
pub mod config;
pub mod plan;
// The data path: requests, statistics, SLO evaluation, Prometheus families.
mod request;
mod stats;
mod slo;
pub mod metrics;
mod engine;
// What people and machines read.
pub mod report;
pub mod result;
pub mod render;
mod status;
pub mod server;
pub mod remote_write;
pub mod demo_target;
// Orchestration: forever, or once.
pub mod daemon;
pub mod run;
// The binary's front: flags, commands, exit codes.
pub mod commands;
pub mod cli;
