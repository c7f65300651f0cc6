//! What a failed request's answer showed, for the status page (as
//! blackbox_exporter's probe debug output): the status, the header lines
//! with their values redacted but for a few that only describe the answer,
//! and the body's first bytes with every secret cut out.

use crate::plan::secrets::{Secrets, REDACTED};
use http::HeaderMap;
use std::fmt::Write;

/// Body bytes shown.
pub const BODY_SHOWN: usize = 256;
/// Body bytes kept of an answer with an unexpected status: more than are
/// shown, so a secret that starts in the shown part is cut out whole.
pub const BODY_KEPT: usize = 1024;
/// Header lines shown; the rest are counted.
const HEADERS_SHOWN: usize = 16;
/// Characters of a header line shown.
const HEADER_LINE: usize = 120;
/// Headers whose values say only what the answer is, shown as sent.
const SHOWN_VALUES: [&str; 8] = [
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "retry-after",
    "date",
    "server",
];

/// The excerpt of an answer: `HTTP <status>`, its kept header lines, a blank
/// line, and the first [`BODY_SHOWN`] bytes of `body` (as text, control
/// characters as `.`). `sent` are values this request sent (rendered
/// headers, cookies): cut out too.
pub fn excerpt(status: u16, headers: &HeaderMap, body: &[u8], secrets: &Secrets, sent: &[&str]) -> Box<str> {
    let mut text = String::with_capacity(64 + BODY_SHOWN);
    let _ = writeln!(text, "HTTP {status}");
    for (name, value) in headers.iter().take(HEADERS_SHOWN) {
        let line = if SHOWN_VALUES.contains(&name.as_str()) {
            let value = String::from_utf8_lossy(value.as_bytes());
            format!("{name}: {}", secrets.redact(&value, sent))
        } else {
            format!("{name}: {REDACTED}")
        };
        text.extend(line.chars().take(HEADER_LINE));
        text.push('\n');
    }
    if headers.len() > HEADERS_SHOWN {
        let _ = writeln!(text, "({} more header lines)", headers.len() - HEADERS_SHOWN);
    }
    text.push('\n');
    let kept = &body[..body.len().min(BODY_KEPT)];
    let readable: String = String::from_utf8_lossy(kept)
        .chars()
        .map(|c| if c.is_control() && c != '\n' && c != '\t' { '.' } else { c })
        .collect();
    let redacted = secrets.redact(&readable, sent);
    let mut shown = 0;
    for c in redacted.chars() {
        shown += c.len_utf8();
        if shown > BODY_SHOWN {
            text.push('…');
            break;
        }
        text.push(c);
    }
    if body.len() > BODY_KEPT && shown <= BODY_SHOWN {
        text.push('…');
    }
    text.into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{HeaderValue, CONTENT_TYPE, SET_COOKIE};

    #[test]
    fn shows_status_header_names_and_the_bodys_start_without_secrets() {
        let mut secrets = Secrets::default();
        secrets.add("Bearer sk-live-123456");
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(SET_COOKIE, HeaderValue::from_static("session=abcdef; Path=/"));
        let body = format!("{{\"error\":\"token sk-live-123456 refused\",\"pad\":\"{}\"}}", "x".repeat(400));
        let shown = excerpt(503, &headers, body.as_bytes(), &secrets, &["tenant-42"]);
        assert!(shown.starts_with("HTTP 503\ncontent-type: application/json\nset-cookie: <redacted>\n\n"), "{shown}");
        assert!(shown.contains("\"error\":\"token <redacted> refused\""), "{shown}");
        assert!(!shown.contains("sk-live") && !shown.contains("abcdef"), "{shown}");
        let body_part = shown.split("\n\n").nth(1).unwrap();
        assert!(body_part.ends_with('…') && body_part.len() <= BODY_SHOWN + '…'.len_utf8(), "{body_part}");
    }

    #[test]
    fn a_secret_across_the_shown_end_is_cut_whole() {
        let mut secrets = Secrets::default();
        secrets.add("sk-live-123456");
        let body = format!("{}sk-live-123456 and more", "a".repeat(BODY_SHOWN - 4));
        let shown = excerpt(500, &HeaderMap::new(), body.as_bytes(), &secrets, &[]);
        assert!(!shown.contains("sk-l"), "{shown}");
        let binary = excerpt(500, &HeaderMap::new(), b"\x00\x01ok\xff", &secrets, &[]);
        assert_eq!(&*binary, "HTTP 500\n\n..ok\u{fffd}");
    }
}
