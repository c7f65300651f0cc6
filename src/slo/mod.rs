//! SLO verdicts: thresholds parsed, then evaluated on statistics, for the
//! one-shot run (the CI verdict) and continuously in the daemon (live gauges).

mod evaluate;
mod live;
pub mod threshold;

pub use evaluate::{evaluate, figures, Figures, TrendFigures, Verdict};
pub use live::LiveSlos;
