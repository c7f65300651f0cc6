//! `sloprober daemon`: the always-on prober until SIGINT or SIGTERM.

use super::{shutdown_signal, CommandError};
use crate::daemon::{self, DaemonError, DaemonOptions};
use crate::metrics::ProberMetrics;

pub async fn daemon(options: DaemonOptions) -> Result<(), CommandError> {
    let plan = options.plan().map_err(DaemonError::from)?;
    let listener = daemon::bind(&plan).await?;
    let metrics = ProberMetrics::shared().map_err(DaemonError::from)?;
    daemon::run(options, listener, plan, metrics, shutdown_signal()).await?;
    Ok(())
}
