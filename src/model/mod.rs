//! The ground layer: the vocabulary every other layer speaks. It imports
//! nothing of the crate, so anything may import it.
//!
//! - [`sample`]: what happened to one request, the value the data path carries;
//! - [`metric`]: the metric catalog (k6's names, kinds, tags, the series behind each);
//! - [`families`]: every Prometheus family sloprober exports, with its help and labels;
//! - [`threshold`]: k6's threshold syntax;
//! - [`units`]: the units thresholds are written in, and the one rounding;
//! - [`problems`]: config problems collected with their paths;
//! - [`duration`], [`size`], [`env`]: durations, sizes and `${VAR}` as written;
//! - [`defaults`]: the defaults a user can count on.

pub mod defaults;
pub mod duration;
pub mod env;
pub mod families;
pub mod metric;
pub mod problems;
pub mod sample;
pub mod size;
pub mod threshold;
pub mod units;
