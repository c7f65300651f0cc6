//! `metrics.remote_write`, planned: the receiver's URL, the headers every
//! push carries (credentials marked sensitive) and the labels added to
//! every series. Shown anywhere, it names the receiver's host only.

use crate::config::RemoteWriteConfig;
use crate::model::env::{interpolate, EnvVars};
use crate::model::problems::Problems;
use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Labels sloprober sets itself on every pushed series.
pub const RESERVED_LABELS: [&str; 4] = ["testid", "profile", "instance", "shard"];

#[derive(Clone, PartialEq)]
pub struct RemoteWritePlan {
    pub url: url::Url,
    pub headers: HeaderMap,
    pub interval: Duration,
    pub timeout: Duration,
    pub queue: usize,
    pub labels: Vec<(String, String)>,
}

/// Names the receiver by scheme, host and port; never its credentials or headers' values.
impl fmt::Debug for RemoteWritePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteWritePlan")
            .field("receiver", &self.receiver())
            .field("headers", &self.headers.keys().map(HeaderName::as_str).collect::<Vec<_>>())
            .field("interval", &self.interval)
            .field("labels", &self.labels)
            .finish()
    }
}

impl RemoteWritePlan {
    /// `http://host:port/path`, without query: safe to log (the URL holds no credentials).
    pub fn receiver(&self) -> String {
        let mut shown = self.url.clone();
        shown.set_query(None);
        shown.to_string()
    }

    /// The plan of `config` (under `path`), `${VAR}` resolved from `env`.
    pub fn read(
        config: &RemoteWriteConfig,
        path: &str,
        env: &EnvVars,
        problems: &mut Problems,
    ) -> Option<Arc<RemoteWritePlan>> {
        let before = problems.len();
        let mut resolve = |field: &str, text: &str| {
            interpolate(text, env).map_err(|e| problems.add(format!("{path}.{field}"), e)).ok()
        };
        let url = resolve("url", &config.url);
        let bearer = config.bearer_token.as_ref().map(|t| resolve("bearer_token", t));
        let basic = config
            .basic_auth
            .as_ref()
            .map(|b| (resolve("basic_auth.username", &b.username), resolve("basic_auth.password", &b.password)));
        let headers: Vec<(String, Option<String>)> = config
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), resolve(&format!("headers.{name}"), value)))
            .collect();
        let mut plan = RemoteWritePlan {
            url: url::Url::parse("http://unset").expect("a constant URL"),
            headers: HeaderMap::new(),
            interval: config.interval,
            timeout: config.timeout,
            queue: config.queue,
            labels: Vec::new(),
        };
        let mut basic_from_url = None;
        if let Some(text) = url {
            // The message never repeats the URL: it may hold credentials.
            match url::Url::parse(&text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                    if !url.username().is_empty() && config.bearer_token.is_none() && config.basic_auth.is_none() {
                        // Credentials in the URL become basic auth; the URL kept holds none.
                        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
                        basic_from_url = Some((decode(url.username()), url.password().map(decode).unwrap_or_default()));
                    }
                    plan.url = url;
                    let _ = plan.url.set_username("");
                    let _ = plan.url.set_password(None);
                }
                Ok(url) => {
                    problems.add(format!("{path}.url"), format!("{}:// is not http:// or https://", url.scheme()))
                }
                Err(e) => problems
                    .add(format!("{path}.url"), format!("not a URL like http://prometheus:9090/api/v1/write ({e})")),
            }
        }
        if config.bearer_token.is_some() && config.basic_auth.is_some() {
            problems.add(path, "give bearer_token or basic_auth, not both");
        }
        let secret = |value: String| {
            let mut value = HeaderValue::try_from(value).ok()?;
            value.set_sensitive(true);
            Some(value)
        };
        if let Some(Some(token)) = bearer {
            match secret(format!("Bearer {token}")) {
                Some(value) => plan.headers.insert(AUTHORIZATION, value).map_or((), drop),
                None => problems.add(format!("{path}.bearer_token"), "holds characters a header cannot carry"),
            }
        }
        let basic = basic.or(basic_from_url.map(|(u, p)| (Some(u), Some(p))));
        if let Some((Some(user), Some(password))) = basic {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            if let Some(value) = secret(format!("Basic {token}")) {
                plan.headers.insert(AUTHORIZATION, value);
            }
        }
        for (name, value) in headers {
            let field = format!("{path}.headers.{name}");
            let Ok(header) = HeaderName::try_from(name.as_str()) else {
                problems.add(field, "not a header name");
                continue;
            };
            if header == AUTHORIZATION && plan.headers.contains_key(AUTHORIZATION) {
                problems.add(field, "bearer_token or basic_auth already sets Authorization");
                continue;
            }
            match value.map(secret) {
                Some(Some(value)) => {
                    plan.headers.insert(header, value);
                }
                Some(None) => problems.add(field, "holds characters a header cannot carry"),
                None => {}
            }
        }
        for (name, value) in &config.labels {
            let field = format!("{path}.labels.{name}");
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with("__");
            if !valid {
                problems
                    .add(field, "a label name has letters, digits and \"_\", does not start with a digit or \"__\"");
            } else if RESERVED_LABELS.contains(&name.as_str()) {
                problems.add(field, format!("sloprober sets {name} itself (--run-id sets testid)"));
            } else {
                plan.labels.push((name.clone(), value.clone()));
            }
        }
        if plan.interval < Duration::from_secs(1) {
            problems.add(format!("{path}.interval"), "push at most once a second");
        }
        if plan.queue == 0 {
            problems.add(format!("{path}.queue"), "keep at least 1 push");
        }
        (problems.len() == before).then(|| Arc::new(plan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn read(config: RemoteWriteConfig, env: &[(&str, &str)]) -> (Option<Arc<RemoteWritePlan>>, Vec<String>) {
        let env: EnvVars = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut problems = Problems::default();
        let plan = RemoteWritePlan::read(&config, "metrics.remote_write", &env, &mut problems);
        (plan, problems.into_vec().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn credentials_come_from_the_environment_and_never_show() {
        let mut config = RemoteWriteConfig::to("http://u:pw-in-url@127.0.0.1:9090/api/v1/write?tenant=a");
        config.bearer_token = Some("${RW_TOKEN}".into());
        config.headers = BTreeMap::from([("X-Scope-OrgID".to_string(), "team-a".to_string())]);
        let (plan, problems) = read(config, &[("RW_TOKEN", "tok-5ecret")]);
        assert!(problems.is_empty(), "{problems:?}");
        let plan = plan.unwrap();
        assert_eq!(plan.headers[AUTHORIZATION], "Bearer tok-5ecret");
        assert!(plan.headers[AUTHORIZATION].is_sensitive());
        let shown = format!("{plan:?}");
        assert!(!shown.contains("5ecret") && !shown.contains("pw-in-url") && !shown.contains("team-a"), "{shown}");
        assert_eq!(plan.receiver(), "http://127.0.0.1:9090/api/v1/write");
        let (plan, _) = read(RemoteWriteConfig::to("https://probe:pa%40ss@mimir.example/api/v1/push"), &[]);
        let plan = plan.unwrap();
        assert_eq!(plan.headers[AUTHORIZATION], "Basic cHJvYmU6cGFAc3M=", "probe:pa@ss");
        assert_eq!(plan.url.as_str(), "https://mimir.example/api/v1/push");
    }

    #[test]
    fn mistakes_are_named_with_their_field() {
        let mut config = RemoteWriteConfig::to("ftp://x/");
        config.bearer_token = Some("t".into());
        config.basic_auth = Some(crate::config::BasicAuth { username: "u".into(), password: "${NOPE}".into() });
        config.labels = BTreeMap::from([("testid".to_string(), "x".to_string()), ("9x".to_string(), "y".to_string())]);
        config.interval = Duration::from_millis(100);
        let (plan, problems) = read(config, &[]);
        assert!(plan.is_none());
        let expected = [
            "metrics.remote_write.basic_auth.password: environment variable NOPE is not set",
            "metrics.remote_write.url: ftp:// is not http:// or https://",
            "metrics.remote_write: give bearer_token or basic_auth, not both",
            "metrics.remote_write.labels.9x: a label name",
            "metrics.remote_write.labels.testid: sloprober sets testid itself",
            "metrics.remote_write.interval: push at most once a second",
        ];
        for e in expected {
            assert!(problems.iter().any(|p| p.starts_with(e)), "{e} not in {problems:?}");
        }
    }
}
