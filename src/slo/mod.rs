//! SLO verdicts: a threshold evaluated on statistics, the same pure
//! evaluation for the one-shot run (the CI verdict), the daemon's live
//! window and a merge of shards.

mod evaluate;

pub use evaluate::{evaluate, figures, trend_latency, Figures, TrendFigures, Verdict};
