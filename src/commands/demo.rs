//! `sloprober demo`: the demo target and the daemon against it, on the embedded config.

use super::CommandError;
use crate::config::ConfigSource;
use crate::daemon::DaemonOptions;
use crate::demo_target::{DemoTarget, Faults};
use crate::executor::VuThreads;
use crate::model::env::EnvVars;
use std::net::SocketAddr;

/// The AIVO config, compiled in for `sloprober demo`.
pub const AIVO_CONFIG: &str = include_str!("../../config/aivo.yaml");

pub struct DemoOptions {
    pub listen: SocketAddr,
    pub target_listen: SocketAddr,
    pub profile: String,
    pub vu_threads: VuThreads,
}

pub async fn demo(options: DemoOptions, env: EnvVars) -> Result<(), CommandError> {
    let target_listener = crate::server::bind(options.target_listen).await?;
    let target_addr = super::demo_target::bound(&target_listener, options.target_listen);
    let env = demo_env(env, target_addr);
    let target = DemoTarget::new(env["API_KEY"].clone(), Faults::default());
    let target_stop = tokio_util::sync::CancellationToken::new();
    let stop = target_stop.clone();
    let target_task =
        tokio::spawn(crate::demo_target::serve(target_listener, target, async move { stop.cancelled().await }));
    tracing::info!(target = %target_addr, "demo target serving");
    let daemon = DaemonOptions {
        source: ConfigSource::Embedded { name: "config/aivo.yaml", text: AIVO_CONFIG },
        profile: Some(options.profile),
        listen: Some(options.listen),
        vu_threads: options.vu_threads,
        env,
        http_reload: false,
        web: Default::default(),
        run_id: None,
    };
    let result = super::daemon::daemon(daemon).await;
    target_stop.cancel();
    let _ = target_task.await;
    result
}

/// The environment the demo runs in: the user's, with demo defaults for what is unset.
fn demo_env(mut env: EnvVars, target: SocketAddr) -> EnvVars {
    env.insert("BASE_URL".into(), format!("http://{target}"));
    for (key, value) in [("API_KEY", "demo-key"), ("TENANT_ID", "test-tenant"), ("LEARNER_ID", "test-learner")] {
        env.entry(key.to_string()).or_insert_with(|| value.to_string());
    }
    env
}
