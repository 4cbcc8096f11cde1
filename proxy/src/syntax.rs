//! Pieces of HTTP syntax (RFC 9110, RFC 9112) that the request checks in
//! `downstream/` and the response checks in `upstream/` share: framing
//! header values and names, authorities.

use crate::error::Reject;

/// A name that is not Content-Length or Transfer-Encoding but would read as
/// one to a parser that folds `_` or repeated `-` (`Transfer_Encoding`).
pub fn looks_like_framing(name: &str) -> bool {
    // Both names start with a letter from {t, c} once separators are
    // skipped; most names are ruled out by their first byte.
    if !matches!(name.as_bytes().first(), Some(b't' | b'T' | b'c' | b'C' | b'-' | b'_')) {
        return false;
    }
    if !name.bytes().any(|b| b == b'_' || b == b'-') {
        return false;
    }
    let mut folded = [0u8; 32];
    let mut n = 0;
    for b in name.bytes().filter(|b| *b != b'_' && *b != b'-') {
        if n == folded.len() {
            return false;
        }
        folded[n] = b.to_ascii_lowercase();
        n += 1;
    }
    matches!(&folded[..n], b"transferencoding" | b"contentlength")
}

/// A Content-Length value: digits only, at most `i64::MAX`.
pub fn parse_content_length(v: &[u8]) -> Result<u64, Reject> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(Reject::bad_request("invalid Content-Length"));
    }
    let n = v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    if n > i64::MAX as u64 {
        return Err(Reject::bad_request("invalid Content-Length"));
    }
    Ok(n)
}

/// `v` without leading and trailing spaces and tabs.
pub fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| *b != b' ' && *b != b'\t').unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// `host[:port]` with a reg-name, IPv4 or bracketed IPv6 host.
pub fn valid_authority(v: &[u8]) -> bool {
    !v.is_empty()
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:[]".contains(b))
}

/// Split `host:port`, with `[v6]:port` support.
pub fn split_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = authority.rsplit_once(':')?;
    if host.is_empty() || (host.contains(':') && !(host.starts_with('[') && host.ends_with(']'))) {
        return None;
    }
    let port = port.parse::<u16>().ok()?;
    Some((host, port))
}
