//! The head of an HTTP/1.1 answer: parsed in place with `httparse`, its
//! header values kept as ranges of the bytes read, and what it says about
//! the body's framing, encoding and the connection.

use crate::request::body::Encoding;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, InvalidHeaderValue};
use std::ops::Range;

/// Which header lines of an answer end up in [`crate::request::Response::headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepHeaders {
    None,
    /// Only `set-cookie`, for the VU's cookie jar.
    SetCookie,
    All,
}

impl KeepHeaders {
    #[inline]
    pub(super) fn keeps(self, name: &[u8]) -> bool {
        match self {
            KeepHeaders::None => false,
            KeepHeaders::SetCookie => name.eq_ignore_ascii_case(b"set-cookie"),
            KeepHeaders::All => true,
        }
    }
}

/// Header lines parsed without allocating; a head with more gets room for all.
const HEADER_SLOTS: usize = 100;
/// A head longer than this is not HTTP worth waiting for (curl allows 100 KB).
pub(super) const MAX_HEAD: usize = 100 * 1024;
/// How the body of an answer is delimited.
#[derive(Debug, PartialEq)]
pub(super) enum Framing {
    Empty,
    Length(usize),
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// What the head of an answer says, with header values as ranges of the head.
pub(super) struct Head {
    pub len: usize,
    pub status: u16,
    pub headers: Vec<(HeaderName, Range<usize>)>,
    pub framing: Framing,
    pub keep_alive: bool,
    pub encoding: Encoding,
}

/// A head that cannot be read, with its status when the status line was.
#[derive(Debug, PartialEq)]
pub(super) struct BadHead {
    pub status: Option<u16>,
}

/// Parses the head at the start of `buf`; None while it is incomplete. The
/// header lines are kept as `keep` says for the answer's status (which, and
/// whether a redirect's `location`). Like curl, it takes folded lines, any
/// number of lines within [`MAX_HEAD`], and a `content-length` repeated with one value.
pub(super) fn parse_head(
    buf: &[u8],
    is_head_request: bool,
    keep: impl Fn(u16) -> (KeepHeaders, bool) + Copy,
) -> Result<Option<Head>, BadHead> {
    // The common head first, strictly, in uninitialised slots on the stack
    // (zeroing 100 of them costs more than parsing a small head). Only a head
    // that fails so is parsed again with folding allowed and a slot per line.
    let mut slots = [const { std::mem::MaybeUninit::uninit() }; HEADER_SLOTS];
    match parse_into(buf, &mut slots, false, is_head_request, keep) {
        Err(Invalid) => {
            let lines = buf.iter().filter(|b| **b == b'\n').count();
            let mut slots: Vec<_> = (0..lines).map(|_| std::mem::MaybeUninit::uninit()).collect();
            parse_into(buf, &mut slots, true, is_head_request, keep)
        }
        parsed => parsed,
    }
    .map_err(|Invalid| BadHead { status: status_line(buf) })
}

/// What `parse_into` found is not a head it reads.
struct Invalid;

// Inlined into the strict first parse: moving a `Head` out costs more than the call.
#[inline(always)]
fn parse_into<'b>(
    buf: &'b [u8],
    slots: &mut [std::mem::MaybeUninit<httparse::Header<'b>>],
    folding: bool,
    is_head_request: bool,
    keep: impl Fn(u16) -> (KeepHeaders, bool),
) -> Result<Option<Head>, Invalid> {
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(folding)
        .parse_response_with_uninit_headers(&mut response, buf, slots);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Invalid),
    };
    let status = response.code.ok_or(Invalid)?;
    let (keep_headers, keep_location) = keep(status);
    // An unrequested switch of protocols ends HTTP on this connection.
    let mut keep_alive = response.version == Some(1) && status != 101;
    let mut length = None;
    let mut chunked = false;
    let mut encoded = false;
    let mut encoding = Encoding::Identity;
    let mut headers =
        if keep_headers == KeepHeaders::All { Vec::with_capacity(response.headers.len()) } else { Vec::new() };
    // A redirect's target, for a client that follows it.
    let location = keep_location && (300..400).contains(&status);
    for header in response.headers.iter() {
        let (name, value) = (header.name.as_bytes(), header.value);
        if name.eq_ignore_ascii_case(b"content-length") {
            // `11, 11` is one length (RFC 9110 8.6); different ones are an error.
            for item in value.split(|b| *b == b',') {
                let parsed = std::str::from_utf8(item).ok().and_then(|v| v.trim().parse::<usize>().ok());
                match (parsed, length) {
                    (None, _) => return Err(Invalid),
                    (Some(n), Some(seen)) if n != seen => return Err(Invalid),
                    (n, _) => length = n,
                }
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            encoded = true;
            chunked = value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"content-encoding") {
            encoding = Encoding::of(value);
        } else if name.eq_ignore_ascii_case(b"connection")
            && value.split(|b| *b == b',').any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            keep_alive = false;
        }
        if keep_headers.keeps(name) || (location && name.eq_ignore_ascii_case(b"location")) {
            let name = HeaderName::from_bytes(name).map_err(|_| Invalid)?;
            let start = value.as_ptr() as usize - buf.as_ptr() as usize;
            headers.push((name, start..start + value.len()));
        }
    }
    let framing = if is_head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if encoded {
        Framing::UntilClose
    } else if let Some(len) = length {
        Framing::Length(len)
    } else {
        Framing::UntilClose
    };
    Ok(Some(Head { len, status, headers, framing, keep_alive, encoding }))
}

/// The status of a status line at the start of `buf` (`HTTP/1.x NNN`), when it has one.
pub(super) fn status_line(buf: &[u8]) -> Option<u16> {
    let line = buf.strip_prefix(b"HTTP/1.")?;
    let code = line.get(2..5).filter(|_| line.get(1) == Some(&b' '))?;
    let code = std::str::from_utf8(code).ok()?.parse().ok()?;
    (100..1000).contains(&code).then_some(code)
}

/// A kept header's value; a folded line (obs-fold) keeps its line breaks in
/// the bytes, and each becomes a space.
pub(super) fn header_value(bytes: Bytes) -> Result<HeaderValue, InvalidHeaderValue> {
    if bytes.iter().any(|b| matches!(b, b'\r' | b'\n')) {
        let unfolded: Vec<u8> = bytes.iter().map(|&b| if matches!(b, b'\r' | b'\n') { b' ' } else { b }).collect();
        HeaderValue::from_bytes(&unfolded)
    } else {
        HeaderValue::from_maybe_shared(bytes)
    }
}
