//! Tweaks of the process that the operating system offers and the standard
//! library does not: room in the descriptor table, freed memory handed back.

pub mod descriptors;
pub mod memory;
#[cfg(target_os = "linux")]
pub mod timerfd;
