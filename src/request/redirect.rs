//! Following redirects, as k6 and blackbox_exporter do (Go's rules): 301,
//! 302 and 303 turn any method but GET and HEAD into a GET without a body;
//! 307 and 308 repeat the method and body. A hop to another origin (scheme,
//! host or port) than the request's own carries none of the credentials
//! meant for the target: `authorization`, `proxy-authorization`, `cookie`
//! and every header whose value came from the environment or the target's
//! `headers` are left out, as curl does since 7.83; a hop back to the
//! request's origin carries them again, as curl's do. Cookies go by host
//! (RFC 6265): the VU's cookies go to, and are taken from, hops to the
//! request's host only.

use super::direct::{Direct, Reach};
use bytes::Bytes;
use http::header::{AUTHORIZATION, COOKIE, LOCATION, PROXY_AUTHORIZATION};
use http::{HeaderMap, Method};

/// The next request of a chain of redirects.
pub(super) struct Hop {
    pub url: reqwest::Url,
    pub direct: Direct,
    pub method: Method,
    pub body: Option<Bytes>,
    /// Where the chain started: the request as planned.
    pub start: reqwest::Url,
    /// Same scheme, host and port as `start`: the request's credentials go along.
    pub same_origin: bool,
    /// Same host as `start`: the VU's cookies go along, and the answer's are kept.
    pub same_host: bool,
}

/// Whether `status` asks the client to go elsewhere.
pub(super) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where an answer with `status` and `headers` to a `method` request for
/// `from` sends the next request of the chain that began at `start`; None
/// when it has no usable `location`. `headers` are the request's own (all but `host`).
#[allow(clippy::too_many_arguments)]
pub(super) fn next(
    status: u16,
    answer: &HeaderMap,
    from: &reqwest::Url,
    start: &reqwest::Url,
    method: &Method,
    body: &Option<Bytes>,
    headers: &HeaderMap,
    reach: Reach<'_>,
) -> Option<Hop> {
    let location = answer.get(LOCATION)?.to_str().ok()?;
    let url = from.join(location).ok()?;
    let same_origin = url.origin() == start.origin();
    let same_host = url.host() == start.host();
    let (method, body) = match status {
        307 | 308 => (method.clone(), body.clone()),
        _ if *method == Method::HEAD => (Method::HEAD, None),
        _ => (Method::GET, None),
    };
    let direct = if same_origin {
        Direct::of(&url, &method, headers, reach)?
    } else {
        Direct::of(&url, &method, &without_credentials(headers), reach)?
    };
    Some(Hop { url, direct, method, body, start: start.clone(), same_origin, same_host })
}

/// `headers` without what only the target should see.
fn without_credentials(headers: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let credential = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE].contains(name) || value.is_sensitive();
        if !credential {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{HeaderValue, ACCEPT};

    fn headers() -> HeaderMap {
        let mut key = HeaderValue::from_static("Bearer secret");
        key.set_sensitive(true);
        let mut from_env = HeaderValue::from_static("tenant-from-env");
        from_env.set_sensitive(true);
        HeaderMap::from_iter([
            (AUTHORIZATION, key),
            (http::HeaderName::from_static("x-tenant-id"), from_env),
            (ACCEPT, HeaderValue::from_static("*/*")),
        ])
    }

    fn answer(location: &str) -> HeaderMap {
        HeaderMap::from_iter([(LOCATION, HeaderValue::from_str(location).unwrap())])
    }

    #[test]
    fn methods_and_bodies_change_as_go_changes_them() {
        let from = reqwest::Url::parse("http://a.test/start").unwrap();
        let body = Some(Bytes::from_static(b"{}"));
        for (status, method, expected, keeps_body) in [
            (301, Method::POST, Method::GET, false),
            (302, Method::POST, Method::GET, false),
            (303, Method::PUT, Method::GET, false),
            (302, Method::HEAD, Method::HEAD, false),
            (307, Method::POST, Method::POST, true),
            (308, Method::PATCH, Method::PATCH, true),
        ] {
            let hop =
                next(status, &answer("/next?x=1"), &from, &from, &method, &body, &headers(), Reach::default()).unwrap();
            assert_eq!((hop.method.clone(), hop.body.is_some()), (expected, keeps_body), "{status} {method}");
            assert_eq!(hop.url.as_str(), "http://a.test/next?x=1");
            assert!(hop.same_origin);
        }
        assert!(
            next(302, &HeaderMap::new(), &from, &from, &Method::GET, &None, &headers(), Reach::default()).is_none(),
            "no location"
        );
        let https =
            next(302, &answer("https://a.test/"), &from, &from, &Method::GET, &None, &headers(), Reach::default());
        assert!(https.is_none(), "https without a TLS context is not followed");
    }

    #[test]
    fn credentials_stay_with_the_origin_they_were_meant_for() {
        let from = reqwest::Url::parse("http://a.test/start").unwrap();
        let head = |location: &str| {
            let hop =
                next(302, &answer(location), &from, &from, &Method::GET, &None, &headers(), Reach::default()).unwrap();
            (String::from_utf8(hop.direct.head).unwrap(), hop.same_origin)
        };
        let (same, same_origin) = head("/elsewhere");
        assert!(same_origin && same.contains("authorization: Bearer secret") && same.contains("x-tenant-id"));
        for other in ["http://b.test/", "http://a.test:8080/"] {
            let (away, same_origin) = head(other);
            assert!(!same_origin, "{other}");
            assert!(!away.contains("secret") && !away.contains("tenant-from-env"), "{other}: {away}");
            assert!(away.contains("accept: */*"), "{away}");
        }
    }

    #[test]
    fn back_at_the_start_the_credentials_go_again_and_cookies_go_by_host() {
        let start = reqwest::Url::parse("http://a.test/start").unwrap();
        let away = reqwest::Url::parse("http://b.test/hop").unwrap();
        let back =
            next(302, &answer("http://a.test/end"), &away, &start, &Method::GET, &None, &headers(), Reach::default())
                .unwrap();
        assert!(back.same_origin && back.same_host, "the chain's start is a.test");
        assert!(String::from_utf8(back.direct.head).unwrap().contains("authorization: Bearer secret"));
        let port = next(
            302,
            &answer("http://a.test:8080/"),
            &start,
            &start,
            &Method::GET,
            &None,
            &headers(),
            Reach::default(),
        )
        .unwrap();
        assert!(!port.same_origin && port.same_host, "cookies do not tell ports apart (RFC 6265)");
    }
}
