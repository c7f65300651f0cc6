//! The ground layer: the vocabulary every other layer speaks. It imports
//! nothing of the crate, so anything may import it.
//!
//! - [`sample`]: what happened to one request, the value the data path carries;
//! - [`metric`]: the metric catalog (k6's names, kinds, tags, Prometheus families);
//! - [`threshold`]: k6's threshold syntax;
//! - [`units`]: the units thresholds are written in, and the one rounding;
//! - [`problems`]: config problems collected with their paths;
//! - [`duration`], [`size`], [`env`]: durations, sizes and `${VAR}` as written;
//! - [`defaults`]: the defaults a user can count on.

pub mod defaults;
pub mod duration;
pub mod env;
pub mod metric;
pub mod problems;
pub mod sample;
pub mod size;
pub mod threshold;
pub mod units;
