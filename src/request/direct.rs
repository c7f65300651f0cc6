//! Destinations: where to connect (with the TLS settings of an https
//! origin) and the request head as written on the wire, worked out once per
//! request of the plan. A templated path is
//! spliced into the head per request ([`DirectTemplate`]) rather than parsed
//! into a URL and laid out again.

use super::connect::{Origin, TlsOrigin};
use super::tls::TlsContext;
use crate::plan::proxy::ProxyPlan;
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, Method};
use rustls::pki_types::ServerName;
use std::sync::Arc;

/// How a scenario reaches its origins: the TLS context for https, and the proxy, if any.
#[derive(Clone, Copy, Default)]
pub(super) struct Reach<'a> {
    pub tls: Option<&'a TlsContext>,
    pub proxy: Option<&'a Arc<ProxyPlan>>,
}

/// Where one request goes and its head up to the last header.
#[derive(Clone)]
pub(super) struct Direct {
    pub origin: Origin,
    pub head: Vec<u8>,
}

/// A request whose path is rendered per request: the head before
/// and after the request target.
#[derive(Clone)]
pub(super) struct DirectTemplate {
    pub origin: Origin,
    /// `GET /base` (the base URL's path without its trailing `/`).
    before_target: Vec<u8>,
    /// ` HTTP/1.1`, then the host and header lines.
    after_target: Vec<u8>,
}

impl Direct {
    /// None unless `url` is http, or https with `tls` given. `headers` are
    /// all the request's headers but `host`, which comes from the URL unless
    /// they set it.
    pub fn of(url: &reqwest::Url, method: &Method, headers: &HeaderMap, reach: Reach<'_>) -> Option<Direct> {
        let template = DirectTemplate::at(url, method, headers, "", reach)?;
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        Some(Direct { head: template.splice(&target), origin: template.origin })
    }
}

impl DirectTemplate {
    /// For paths appended to `base` (a URL without a trailing `/`), as [`Direct::of`].
    pub fn of(base: &str, method: &Method, headers: &HeaderMap, reach: Reach<'_>) -> Option<DirectTemplate> {
        let url = reqwest::Url::parse(base).ok()?;
        let base_path = url.path().trim_end_matches('/').to_string();
        DirectTemplate::at(&url, method, headers, &base_path, reach)
    }

    fn at(
        url: &reqwest::Url,
        method: &Method,
        headers: &HeaderMap,
        base_path: &str,
        reach: Reach<'_>,
    ) -> Option<DirectTemplate> {
        let host = match url.host()? {
            url::Host::Domain(name) => name.to_string(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        let tls = match (url.scheme(), reach.tls) {
            ("http", _) => None,
            ("https", Some(tls)) => Some(TlsOrigin {
                config: tls.config.clone(),
                server_name: match &tls.server_name {
                    Some(name) => name.clone(),
                    None => ServerName::try_from(host.clone()).ok()?,
                },
            }),
            _ => return None,
        };
        let port = url.port_or_known_default()?;
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str()?),
            None => url.host_str()?.to_string(),
        };
        let mut before_target = Vec::with_capacity(16 + base_path.len());
        before_target.extend_from_slice(method.as_str().as_bytes());
        before_target.push(b' ');
        // Through a proxy, plain http names the whole URL (absolute form, RFC 9112 3.2.2).
        let absolute = reach.proxy.is_some() && tls.is_none();
        if absolute {
            before_target.extend_from_slice(b"http://");
            before_target.extend_from_slice(authority.as_bytes());
        }
        before_target.extend_from_slice(base_path.as_bytes());
        let mut after = Vec::with_capacity(256);
        let line = |head: &mut Vec<u8>, parts: &[&[u8]]| {
            head.extend_from_slice(b"\r\n");
            parts.iter().for_each(|part| head.extend_from_slice(part));
        };
        after.extend_from_slice(b" HTTP/1.1");
        if !headers.contains_key(HOST) {
            line(&mut after, &[b"host: ", authority.as_bytes()]);
        }
        if let (true, Some(authorization)) = (absolute, reach.proxy.and_then(|p| p.authorization.as_ref())) {
            line(&mut after, &[b"proxy-authorization: ", authorization.as_bytes()]);
        }
        // The body's length is announced when the request is sent.
        for (name, value) in headers.iter().filter(|(name, _)| **name != CONTENT_LENGTH) {
            line(&mut after, &[name.as_str().as_bytes(), b": ", value.as_bytes()]);
        }
        after.extend_from_slice(b"\r\n");
        let origin = Origin { host, port, tls, proxy: reach.proxy.cloned() };
        Some(DirectTemplate { origin, before_target, after_target: after })
    }

    /// The head for a rendered path and query, or None when the URL parser
    /// would rewrite it (characters to percent-encode, dot segments, a
    /// fragment): such a path goes through [`Direct::of`] instead.
    pub fn head(&self, rendered: &str) -> Option<Vec<u8>> {
        let plain = rendered.starts_with('/')
            && !rendered.contains("/.")
            && rendered.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b));
        plain.then(|| self.splice(rendered))
    }

    fn splice(&self, target: &str) -> Vec<u8> {
        let mut head = Vec::with_capacity(self.before_target.len() + target.len() + self.after_target.len());
        head.extend_from_slice(&self.before_target);
        head.extend_from_slice(target.as_bytes());
        head.extend_from_slice(&self.after_target);
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{HeaderValue, ACCEPT};

    fn headers() -> HeaderMap {
        HeaderMap::from_iter([(ACCEPT, HeaderValue::from_static("*/*"))])
    }

    #[test]
    fn a_spliced_head_is_the_head_the_url_would_make() {
        for base in ["http://127.0.0.1:8080", "http://example.test/api", "http://[::1]:81/v1/"] {
            let template =
                DirectTemplate::of(base.trim_end_matches('/'), &Method::POST, &headers(), Reach::default()).unwrap();
            for path in ["/a/b?x=1&y=%20", "/items/42", "/q?from=/&t=a:b@c"] {
                let url = reqwest::Url::parse(&format!("{}{path}", base.trim_end_matches('/'))).unwrap();
                let direct = Direct::of(&url, &Method::POST, &headers(), Reach::default()).unwrap();
                assert_eq!(template.head(path).unwrap(), direct.head, "{base} {path}");
                assert_eq!(template.origin, direct.origin);
            }
        }
    }

    #[test]
    fn paths_the_url_parser_would_rewrite_are_left_to_it() {
        let template = DirectTemplate::of("http://127.0.0.1:1", &Method::GET, &headers(), Reach::default()).unwrap();
        for path in ["/a b", "/a/../b", "/caf\u{e9}", "/a#frag", "/a\r\nx: y", "relative"] {
            assert!(template.head(path).is_none(), "{path:?}");
        }
        assert!(
            DirectTemplate::of("https://127.0.0.1:1", &Method::GET, &headers(), Reach::default()).is_none(),
            "https needs TLS"
        );
    }
}
