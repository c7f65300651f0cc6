//! Integration tests that need only Rust: the daemon, `run`, the real binary
//! and the crate's shape, against in-process targets on 127.0.0.1.
//! `cargo test` builds and runs this one binary; the tests that run real
//! tools (promtool, Prometheus, k6, Chromium, ...) are in `tests/tools/`.

#[path = "../common/mod.rs"]
mod common;

mod binary;
mod config_errors;
mod daemon;
mod fault_matrix;
mod journeys;
mod layers;
mod merge;
mod proxy;
mod render;
mod run;
mod scale_out;
mod status_page;
mod tls;
mod web_config;
