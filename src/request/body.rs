//! An answer's body as checks see it: the first bytes kept as it arrives,
//! then decoded from its `Content-Encoding` (gzip, deflate, br: what the
//! requests ask for by default).

use crate::model::sample::FailReason;
use bytes::{Bytes, BytesMut};
use std::io::Read;

/// Adds to `kept` as much of `piece` as fits in `keep` bytes; the rest is dropped.
pub fn keep_prefix(kept: &mut BytesMut, piece: &[u8], keep: usize) {
    let room = keep.saturating_sub(kept.len()).min(piece.len());
    kept.extend_from_slice(&piece[..room]);
}

/// What `accept-encoding` asks for unless a request sets its own (as k6).
pub const ACCEPTED: &str = "gzip, deflate, br";

/// How an answer's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Identity,
    Gzip,
    /// zlib-wrapped deflate (RFC 9110 8.4.1.2), or raw deflate as some servers send.
    Deflate,
    Brotli,
    /// Anything else, or more than one coding: handed to checks as it came.
    Other,
}

impl Encoding {
    /// The encoding a `content-encoding` value names.
    pub fn of(value: &[u8]) -> Encoding {
        let value = value.trim_ascii();
        if value.eq_ignore_ascii_case(b"gzip") || value.eq_ignore_ascii_case(b"x-gzip") {
            Encoding::Gzip
        } else if value.eq_ignore_ascii_case(b"deflate") {
            Encoding::Deflate
        } else if value.eq_ignore_ascii_case(b"br") {
            Encoding::Brotli
        } else if value.is_empty() || value.eq_ignore_ascii_case(b"identity") {
            Encoding::Identity
        } else {
            Encoding::Other
        }
    }

    /// The body as sent before encoding, at most `limit` bytes of it. A body
    /// cut short by the limit decodes as far as it goes; one that is not
    /// valid in its encoding is a `body` failure (as curl's `--compressed`).
    pub fn decode(self, body: Bytes, limit: usize, cut_short: bool) -> Result<Bytes, FailReason> {
        let mut decoded = Vec::new();
        let read = match self {
            Encoding::Identity | Encoding::Other => return Ok(body),
            Encoding::Gzip => bounded(flate2::read::MultiGzDecoder::new(&body[..]), limit, &mut decoded),
            Encoding::Deflate => match bounded(flate2::read::ZlibDecoder::new(&body[..]), limit, &mut decoded) {
                Err(_) => {
                    decoded.clear();
                    bounded(flate2::read::DeflateDecoder::new(&body[..]), limit, &mut decoded)
                }
                ok => ok,
            },
            Encoding::Brotli => bounded(brotli_decompressor::Decompressor::new(&body[..], 4096), limit, &mut decoded),
        };
        match read {
            Ok(()) => Ok(decoded.into()),
            Err(_) if cut_short => Ok(decoded.into()),
            Err(_) => Err(FailReason::Body),
        }
    }
}

/// Reads at most `limit` bytes of `reader` into `out`.
fn bounded(reader: impl Read, limit: usize, out: &mut Vec<u8>) -> std::io::Result<()> {
    reader.take(limit as u64).read_to_end(out).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap().into()
    }

    #[test]
    fn codings_are_named_as_servers_write_them() {
        assert_eq!(Encoding::of(b" GZIP "), Encoding::Gzip);
        assert_eq!(Encoding::of(b"x-gzip"), Encoding::Gzip);
        assert_eq!(Encoding::of(b"deflate"), Encoding::Deflate);
        assert_eq!(Encoding::of(b"br"), Encoding::Brotli);
        assert_eq!(Encoding::of(b"identity"), Encoding::Identity);
        assert_eq!(Encoding::of(b"gzip, br"), Encoding::Other);
    }

    #[test]
    fn every_coding_decodes_and_stops_at_the_limit() {
        let text = b"{\"ok\":true,\"pad\":\"".repeat(200);
        assert_eq!(Encoding::Gzip.decode(gzip(&text), 1 << 20, false).unwrap(), &text[..]);
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(&text).unwrap();
        assert_eq!(Encoding::Deflate.decode(zlib.finish().unwrap().into(), 1 << 20, false).unwrap(), &text[..]);
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&text).unwrap();
        assert_eq!(Encoding::Deflate.decode(raw.finish().unwrap().into(), 1 << 20, false).unwrap(), &text[..]);
        // brotli of "hello" (as `brotli -c` writes it).
        let br: &[u8] = &[0x0b, 0x02, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03];
        assert_eq!(Encoding::Brotli.decode(Bytes::from_static(br), 1 << 20, false).unwrap(), "hello");
        // A bomb stops at the limit.
        let zeros = gzip(&vec![0u8; 50 << 20]);
        assert_eq!(Encoding::Gzip.decode(zeros, 1000, false).unwrap().len(), 1000);
    }

    #[test]
    fn a_corrupt_body_fails_unless_the_limit_cut_it() {
        let whole = gzip(&b"0123456789".repeat(1000));
        let half = whole.slice(..whole.len() / 2);
        assert_eq!(Encoding::Gzip.decode(half.clone(), 1 << 20, false), Err(FailReason::Body));
        assert!(!Encoding::Gzip.decode(half, 1 << 20, true).unwrap().is_empty());
        assert_eq!(Encoding::Gzip.decode(Bytes::from_static(b"not gzip"), 100, false), Err(FailReason::Body));
    }
}
