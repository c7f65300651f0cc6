//! A VU's cookie jar, as k6 keeps one: the cookies the scenario's target sets
//! are sent back to it on the VU's next requests whose path they cover, and
//! the jar is emptied at the start of each iteration (k6's default).
//!
//! The jar holds the cookies of the request's own host: a redirect to
//! another host neither sends them nor keeps what it sets (RFC 6265
//! host-only cookies; a `Domain` attribute that would cover several hosts is
//! not followed). Within the host, cookies are matched by path; `Secure`,
//! `HttpOnly` and `SameSite` do not change what is sent.

use http::header::{HeaderMap, HeaderValue, SET_COOKIE};
use std::time::SystemTime;

#[derive(Debug, Default)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
    /// On a parallel block's lane: the `set-cookie` lines its answers
    /// brought, with their request paths, for the VU's jar to take in order.
    taken: Option<Vec<(String, String)>>,
}

#[derive(Debug, Clone)]
struct Cookie {
    name: String,
    value: String,
    path: String,
}

impl CookieJar {
    pub fn clear(&mut self) {
        self.cookies.clear();
    }

    /// Takes the `set-cookie` lines of an answer to a request for `request_path`.
    pub fn store(&mut self, headers: &HeaderMap, request_path: &str) {
        for line in headers.get_all(SET_COOKIE) {
            let Ok(line) = line.to_str() else { continue };
            self.store_line(line, request_path);
        }
    }

    /// Makes this jar a lane's copy of `jar` (a parallel block's), which
    /// keeps what it takes for [`Self::take_in`].
    pub fn copy_for_lane(&mut self, jar: &CookieJar) {
        self.cookies.clone_from(&jar.cookies);
        self.taken.get_or_insert_with(Vec::new).clear();
    }

    /// What a lane's answers set, as if they had come to this jar.
    pub fn take_in(&mut self, lane: &mut CookieJar) {
        for (line, path) in lane.taken.iter_mut().flat_map(|taken| taken.drain(..)) {
            self.store_line(&line, &path);
        }
    }

    fn store_line(&mut self, line: &str, request_path: &str) {
        if let Some(taken) = &mut self.taken {
            taken.push((line.to_string(), request_path.to_string()));
        }
        let mut parts = line.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else { return };
        let (name, value) = (name.trim(), value.trim().trim_matches('"'));
        if name.is_empty() {
            return;
        }
        let mut path = default_path(request_path).to_string();
        let mut expired = false;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            let (key, val) = (key.trim(), val.trim());
            if key.eq_ignore_ascii_case("path") && val.starts_with('/') {
                path = val.to_string();
            } else if key.eq_ignore_ascii_case("max-age") {
                expired = val.parse::<i64>().map_or(expired, |age| age <= 0);
            } else if key.eq_ignore_ascii_case("expires") {
                if let Ok(at) = httpdate::parse_http_date(val) {
                    expired = at <= SystemTime::now();
                }
            }
        }
        self.cookies.retain(|c| !(c.name == name && c.path == path));
        if !expired {
            self.cookies.push(Cookie { name: name.to_string(), value: value.to_string(), path });
        }
    }

    /// The `cookie` header for a request to `path`, if any cookie covers it;
    /// longer paths first, as RFC 6265 orders them.
    pub fn header(&self, path: &str) -> Option<HeaderValue> {
        let mut matching: Vec<&Cookie> = self.cookies.iter().filter(|c| path_matches(&c.path, path)).collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let line: Vec<String> = matching.iter().map(|c| format!("{}={}", c.name, c.value)).collect();
        let mut value = HeaderValue::from_str(&line.join("; ")).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }
}

/// RFC 6265 5.1.4: the request path up to its last `/`, or `/`.
fn default_path(request_path: &str) -> &str {
    match request_path.rfind('/') {
        Some(0) | None => "/",
        Some(end) => &request_path[..end],
    }
}

/// RFC 6265 5.1.4: `cookie_path` covers `path`.
fn path_matches(cookie_path: &str, path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path) && (cookie_path.ends_with('/') || path[cookie_path.len()..].starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jar(lines: &[(&str, &str)]) -> CookieJar {
        let mut jar = CookieJar::default();
        for (line, path) in lines {
            jar.store_line(line, path);
        }
        jar
    }

    fn sent(jar: &CookieJar, path: &str) -> Option<String> {
        jar.header(path).map(|v| v.to_str().unwrap().to_string())
    }

    #[test]
    fn cookies_go_back_to_the_paths_they_cover() {
        let jar = jar(&[("session=abc; Path=/; HttpOnly", "/login"), ("cart=1; Path=/shop", "/shop/add")]);
        assert_eq!(sent(&jar, "/me").as_deref(), Some("session=abc"));
        assert_eq!(sent(&jar, "/shop/items").as_deref(), Some("cart=1; session=abc"));
        assert_eq!(sent(&jar, "/shopping").as_deref(), Some("session=abc"), "/shop does not cover /shopping");
    }

    #[test]
    fn without_a_path_a_cookie_covers_the_request_directory() {
        let jar = jar(&[("a=1", "/api/v1/login")]);
        assert_eq!(sent(&jar, "/api/v1/me").as_deref(), Some("a=1"));
        assert_eq!(sent(&jar, "/other"), None);
    }

    #[test]
    fn a_cookie_is_replaced_and_expired_by_name_and_path() {
        let mut jar = jar(&[("s=1; Path=/", "/"), ("s=2; Path=/", "/")]);
        assert_eq!(sent(&jar, "/").as_deref(), Some("s=2"));
        jar.store_line("s=; Path=/; Max-Age=0", "/");
        assert!(jar.is_empty());
        jar.store_line("t=1; Path=/", "/");
        jar.store_line("t=1; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "/");
        assert!(jar.is_empty());
        jar.store_line("garbage", "/");
        assert!(jar.is_empty());
    }
}
