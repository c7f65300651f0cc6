//! `sloprober demo-target`: stand-ins for the AIVO services, or (with
//! `--fixed-delay`) a latency-exact server, until SIGINT or SIGTERM.

use super::{shutdown_signal, CommandError};
use crate::demo_target::{DemoTarget, FaultPatch, Faults};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

pub struct DemoTargetOptions {
    pub listen: SocketAddr,
    pub api_key: String,
    /// Initial faults as JSON.
    pub faults: Option<String>,
    pub fixed_delay: Option<Duration>,
}

/// The address a listener got (the port the OS picked for port 0).
pub(super) fn bound(listener: &tokio::net::TcpListener, asked: SocketAddr) -> SocketAddr {
    listener.local_addr().unwrap_or(asked)
}

pub async fn demo_target(options: DemoTargetOptions) -> Result<(), CommandError> {
    if let Some(delay) = options.fixed_delay {
        let listener = std::net::TcpListener::bind(options.listen)
            .map_err(|source| crate::server::ListenError { addr: options.listen, source })?;
        // A thread of its own, not tokio's blocking pool: the runtime's
        // shutdown would wait for it, and it never ends.
        let listen = crate::demo_target::fixed_delay::spawn(listener, delay)
            .map_err(|source| CommandError::Serve { addr: options.listen, source })?;
        tracing::info!(%listen, ?delay, "fixed-delay target serving");
        shutdown_signal().await;
        return Ok(());
    }
    let mut faults = Faults::default();
    if let Some(text) = &options.faults {
        let flag = |problem: String| CommandError::Flag { flag: "--faults", problem };
        let patch: BTreeMap<String, FaultPatch> = serde_json::from_str(text).map_err(|e| flag(e.to_string()))?;
        faults.apply(&patch).map_err(flag)?;
    }
    let listener = crate::server::bind(options.listen).await?;
    tracing::info!(listen = %bound(&listener, options.listen), "demo target serving");
    crate::demo_target::serve(listener, DemoTarget::new(options.api_key, faults), shutdown_signal()).await;
    Ok(())
}
