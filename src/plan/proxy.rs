//! A target's HTTP proxy, planned: where it listens and the credentials its
//! URL carries (`http://user:password@proxy:3128`). No proxy is used unless
//! one is set: `HTTP_PROXY`-style variables are not read.

use crate::model::env::{interpolate, EnvVars};
use crate::model::problems::Problems;
use http::HeaderValue;
use std::fmt;
use std::sync::Arc;

/// Plain http goes to the proxy with absolute-form request lines; https
/// through a `CONNECT` tunnel.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyPlan {
    pub host: String,
    pub port: u16,
    /// `Basic ...` from the URL's user and password, marked sensitive.
    pub authorization: Option<HeaderValue>,
}

/// Says where the proxy is, never its credentials.
impl fmt::Debug for ProxyPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyPlan")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("authorization", &self.authorization.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ProxyPlan {
    /// The proxy `written` names (`${VAR}` allowed); problems are added under `path`.
    pub fn read(written: &str, path: &str, env: &EnvVars, problems: &mut Problems) -> Option<Arc<ProxyPlan>> {
        let text = interpolate(written, env).map_err(|e| problems.add(path, e)).ok()?;
        // The message never repeats the URL: it may hold a password.
        let url = match url::Url::parse(&text) {
            Ok(url) => url,
            Err(e) => {
                problems.add(path, format!("not a URL like http://proxy.internal:3128 ({e})"));
                return None;
            }
        };
        if url.scheme() != "http" {
            problems.add(
                path,
                format!(
                    "{}:// proxies are not supported: give an http:// proxy (https targets go through it in a CONNECT tunnel)",
                    url.scheme()
                ),
            );
            return None;
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            problems.add(path, "the proxy URL has no host");
            return None;
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            problems.add(path, "a proxy URL is scheme, credentials, host and port only; remove its path");
            return None;
        }
        let authorization = (!url.username().is_empty()).then(|| {
            let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
            let user = decode(url.username());
            let password = url.password().map(decode).unwrap_or_default();
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let mut value = HeaderValue::try_from(format!("Basic {token}")).expect("base64 is a valid header value");
            value.set_sensitive(true);
            value
        });
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Some(Arc::new(ProxyPlan { host, port: url.port_or_known_default().unwrap_or(80), authorization }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(written: &str) -> (Option<Arc<ProxyPlan>>, Vec<String>) {
        let mut problems = Problems::default();
        let plan = ProxyPlan::read(written, "target.proxy", &EnvVars::default(), &mut problems);
        (plan, problems.into_vec().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn credentials_become_basic_auth_and_never_show() {
        let (plan, problems) = read("http://probe:s%40cret@127.0.0.1:3128");
        assert!(problems.is_empty(), "{problems:?}");
        let plan = plan.unwrap();
        assert_eq!((plan.host.as_str(), plan.port), ("127.0.0.1", 3128));
        // probe:s@cret
        assert_eq!(plan.authorization.as_ref().unwrap(), "Basic cHJvYmU6c0BjcmV0");
        let shown = format!("{plan:?}");
        assert!(!shown.contains("cHJvYmU") && !shown.contains("cret"), "{shown}");
        assert_eq!(read("http://proxy.internal").0.unwrap().port, 80);
    }

    #[test]
    fn unusable_proxies_are_named_without_their_password() {
        for (written, expected) in [
            ("https://u:hunter2@proxy:443", "https:// proxies are not supported"),
            ("socks5://proxy:1080", "socks5:// proxies are not supported"),
            ("http://u:hunter2@proxy:3128/path", "remove its path"),
            ("not a url hunter2", "not a URL like"),
        ] {
            let (plan, problems) = read(written);
            assert!(plan.is_none() && problems.len() == 1, "{written}: {problems:?}");
            assert!(problems[0].starts_with("target.proxy: ") && problems[0].contains(expected), "{problems:?}");
            assert!(!problems[0].contains("hunter2"), "{problems:?}");
        }
    }
}
