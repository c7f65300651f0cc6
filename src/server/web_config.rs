//! `--web.config.file`: TLS and basic auth for the prober's endpoints, in
//! the format of Prometheus' exporter-toolkit, which every exporter
//! accepts: `tls_server_config` (server certificate, client certificates)
//! and `basic_auth_users` (bcrypt hashes). Relative paths are read from the
//! file's own directory, as the toolkit does. As the toolkit, which reads
//! the file for every request, [`LiveWebConfig`] reads it again whenever it
//! or a file it names changed, so rotated certificates and changed users
//! apply without a restart.

use crate::plan::tls::{read_certificates, read_roots};
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    #[serde(default)]
    tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsServerConfig {
    cert_file: String,
    key_file: String,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<String>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
}

/// What the endpoints are served with.
#[derive(Clone, Default)]
pub struct WebConfig {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub auth: Option<Arc<BasicAuth>>,
}

#[derive(Debug, thiserror::Error)]
#[error("web config {file}: {message}")]
pub struct WebConfigError {
    file: String,
    message: String,
}

impl WebConfig {
    pub fn load(file: &Path) -> Result<WebConfig, WebConfigError> {
        Self::load_with_files(file).map(|(config, _)| config)
    }

    /// The config, and every file it was read from (itself, then the certificate, key and client CA).
    fn load_with_files(file: &Path) -> Result<(WebConfig, Vec<PathBuf>), WebConfigError> {
        let fail = |message: String| WebConfigError { file: file.display().to_string(), message };
        let text = std::fs::read_to_string(file).map_err(|e| fail(format!("cannot read it ({e})")))?;
        let parsed: WebConfigFile = config::Config::builder()
            .add_source(config::File::from_str(&text, config::FileFormat::Yaml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| fail(e.to_string()))?;
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut files = vec![file.to_path_buf()];
        if let Some(tls) = &parsed.tls_server_config {
            files.extend(
                [&tls.cert_file, &tls.key_file].into_iter().chain(&tls.client_ca_file).map(|f| resolve(dir, f)),
            );
        }
        let tls = match &parsed.tls_server_config {
            Some(tls) => Some(Arc::new(server_tls(tls, dir).map_err(fail)?)),
            None => None,
        };
        let auth = if parsed.basic_auth_users.is_empty() {
            None
        } else {
            let mut cost = bcrypt::DEFAULT_COST;
            for (user, hash) in &parsed.basic_auth_users {
                let parts = hash
                    .parse::<bcrypt::HashParts>()
                    .map_err(|e| fail(format!("basic_auth_users.{user}: not a bcrypt hash ({e})")))?;
                cost = parts.get_cost();
            }
            let unknown_user = bcrypt::hash("not a user of this server", cost).map_err(|e| fail(e.to_string()))?;
            Some(Arc::new(BasicAuth { users: parsed.basic_auth_users, unknown_user, verified: Mutex::default() }))
        };
        Ok((WebConfig { tls, auth }, files))
    }
}

/// A web config file kept current: read again, at the next connection or
/// request, once it or a file it names has changed (modification time or
/// size). A change that does not load (a key that does not fit its
/// certificate, a file half written) is logged and the last good config
/// kept; so is one that turns TLS on or off, which takes a restart.
pub struct LiveWebConfig {
    file: PathBuf,
    state: Mutex<Loaded>,
}

struct Loaded {
    config: WebConfig,
    files: Vec<PathBuf>,
    stamps: Vec<Option<(SystemTime, u64)>>,
    /// The stamps of a change that did not load, so it is reported once.
    refused: Option<Vec<Option<(SystemTime, u64)>>>,
}

fn stamps(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files.iter().map(|f| std::fs::metadata(f).ok().and_then(|m| Some((m.modified().ok()?, m.len())))).collect()
}

impl LiveWebConfig {
    /// Reads `file`; at start a config that does not load is an error.
    pub fn load(file: &Path) -> Result<Arc<LiveWebConfig>, WebConfigError> {
        let (config, files) = WebConfig::load_with_files(file)?;
        let stamps = stamps(&files);
        let state = Mutex::new(Loaded { config, files, stamps, refused: None });
        Ok(Arc::new(LiveWebConfig { file: file.to_path_buf(), state }))
    }

    /// The config to serve with now.
    pub fn current(&self) -> WebConfig {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = stamps(&state.files);
        if now == state.stamps || state.refused.as_ref() == Some(&now) {
            return state.config.clone();
        }
        match WebConfig::load_with_files(&self.file) {
            Ok((config, _)) if config.tls.is_some() != state.config.tls.is_some() => {
                tracing::warn!(file = %self.file.display(), "web config changed TLS on or off: that takes a restart; serving as before");
                state.refused = Some(now);
            }
            Ok((config, files)) => {
                tracing::info!(file = %self.file.display(), "web config read again: it or a file it names changed");
                // Stamped as seen before the read: a write during it is read at the next call.
                let stamps = if files == state.files { now } else { stamps(&files) };
                *state = Loaded { config, files, stamps, refused: None };
            }
            Err(error) => {
                tracing::warn!(%error, "web config changed but does not load; serving with the last good one");
                state.refused = Some(now);
            }
        }
        state.config.clone()
    }

    /// The TLS configuration of a new connection, for a config served over TLS.
    pub fn tls(self: &Arc<Self>) -> Option<super::http::TlsConfigs> {
        let initial = self.current().tls?;
        let live = self.clone();
        Some(Arc::new(move || live.current().tls.unwrap_or_else(|| initial.clone())))
    }
}

fn resolve(dir: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

fn server_tls(config: &TlsServerConfig, dir: &Path) -> Result<rustls::ServerConfig, String> {
    let cert_file = resolve(dir, &config.cert_file);
    let chain =
        read_certificates(&cert_file.display().to_string()).map_err(|e| format!("tls_server_config.cert_file: {e}"))?;
    let key_file = resolve(dir, &config.key_file);
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|e| format!("tls_server_config.key_file: {}: {e:?}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = versions(config)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let roots = || -> Result<Arc<rustls::RootCertStore>, String> {
        let Some(ca) = &config.client_ca_file else {
            return Err("tls_server_config.client_ca_file: needed to verify client certificates".into());
        };
        let ca = resolve(dir, ca).display().to_string();
        read_roots(&ca).map(Arc::new).map_err(|e| format!("tls_server_config.client_ca_file: {e}"))
    };
    let verifier = |roots, optional: bool| {
        let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
        let builder = if optional { builder.allow_unauthenticated() } else { builder };
        builder.build().map_err(|e| format!("tls_server_config.client_ca_file: {e}"))
    };
    // The toolkit's names (Go's tls.ClientAuthType). The two that ask for a
    // certificate without verifying it are not offered: rustls verifies what it accepts.
    let builder = match config.client_auth_type.as_deref().unwrap_or("NoClientCert") {
        "NoClientCert" => builder.with_no_client_auth(),
        "VerifyClientCertIfGiven" => builder.with_client_cert_verifier(verifier(roots()?, true)?),
        "RequireAndVerifyClientCert" => builder.with_client_cert_verifier(verifier(roots()?, false)?),
        other => {
            return Err(format!(
                "tls_server_config.client_auth_type: \"{other}\" is not supported; use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            ))
        }
    };
    let mut server = builder.with_single_cert(chain, key).map_err(|e| {
        format!("tls_server_config.key_file: {} does not fit the certificate ({e})", key_file.display())
    })?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(server)
}

/// `min_version` / `max_version` (TLS12, TLS13; the toolkit's default minimum is TLS12).
fn versions(config: &TlsServerConfig) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let rank = |field: &str, value: &Option<String>, default: u8| match value.as_deref() {
        None => Ok(default),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some("TLS10" | "TLS11") => {
            Err(format!("tls_server_config.{field}: TLS 1.0 and 1.1 are not offered; use TLS12 or TLS13"))
        }
        Some(other) => Err(format!("tls_server_config.{field}: \"{other}\" is not a version; use TLS12 or TLS13")),
    };
    let (min, max) = (rank("min_version", &config.min_version, 12)?, rank("max_version", &config.max_version, 13)?);
    let versions: Vec<_> = [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, version)| version)
        .collect();
    if versions.is_empty() {
        return Err("tls_server_config: min_version is above max_version".into());
    }
    Ok(versions)
}

/// `basic_auth_users`: user names and bcrypt hashes. A bcrypt check takes
/// tens of milliseconds by design, so a pair that passed once is
/// remembered (by its SHA-256, never in clear) and later scrapes cost a hash.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// Checked for an unknown user, so that it takes as long as a known one.
    unknown_user: String,
    verified: Mutex<HashSet<Vec<u8>>>,
}

impl BasicAuth {
    /// Whether an `authorization` header carries a user and its password.
    pub async fn allows(self: Arc<Self>, header: Option<&hyper::header::HeaderValue>) -> bool {
        let Some((user, password)) = header.and_then(|h| credentials(h.as_bytes())) else { return false };
        let hash = self.users.get(&user).cloned();
        let key = ring::digest::digest(
            &ring::digest::SHA256,
            [user.as_bytes(), b"\0", hash.as_deref().unwrap_or("").as_bytes(), b"\0", password.as_bytes()]
                .concat()
                .as_slice(),
        )
        .as_ref()
        .to_vec();
        if hash.is_some() && self.verified.lock().is_ok_and(|v| v.contains(&key)) {
            return true;
        }
        let auth = self.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let ok = bcrypt::verify(&password, hash.as_deref().unwrap_or(&auth.unknown_user)).unwrap_or(false);
            ok && hash.is_some()
        })
        .await
        .unwrap_or(false);
        if checked {
            if let Ok(mut verified) = self.verified.lock() {
                verified.insert(key);
            }
        }
        checked
    }
}

/// `Basic base64(user:password)`.
fn credentials(header: &[u8]) -> Option<(String, String)> {
    let encoded = header.strip_prefix(b"Basic ").or_else(|| header.strip_prefix(b"basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim_ascii()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}
