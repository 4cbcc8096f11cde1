//! PROXY protocol receive (HAProxy's v1 text line and v2 binary header) at
//! the start of a connection, before TLS and HTTP: a load balancer in front
//! of isoproxy tells which client the connection is for. Parsing is the
//! `ppp` crate's; this file decides what to believe.
//!
//! The rule, per socket with `proxyProtocol` set:
//! - from a trusted peer (`trustedSources`), the connection must begin with
//!   a header (unless `optional`); the address it carries becomes the
//!   client address. A v2 `LOCAL` header, a v1 `UNKNOWN` one or a non-IP
//!   family keeps the peer's own address (the load balancer's health checks).
//! - from any other peer, a connection that begins with a header is refused
//!   (it would be a client trying to choose its own address); anything else
//!   is served with the peer's address, as on a socket without the option.

use std::net::SocketAddr;
use std::time::Duration;

use ppp::v1;
use ppp::v2;
use ppp::{HeaderResult, PartialResult};
use tokio::io::AsyncReadExt;

/// The first bytes of a v1 header.
const V1_SIGNATURE: &[u8] = b"PROXY ";
/// The first twelve bytes of a v2 header.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v1 line, CRLF included.
const V1_MAX: usize = 107;
/// Most bytes a header may take: a v1 line is at most 107; a v2 header is
/// 16 bytes, the addresses (at most 216) and TLVs, which load balancers
/// keep short (a VPC endpoint id, a link id). Longer is refused.
pub const MAX_HEADER: usize = 1024;

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A trusted peer sent no header.
    Missing,
    /// An untrusted peer sent a header.
    Untrusted,
    /// The header could not be parsed.
    Malformed(String),
    /// The header was longer than [`MAX_HEADER`].
    TooLong,
    /// The connection closed or timed out before a header was complete.
    Incomplete,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Missing => f.write_str("no PROXY protocol header from a trusted source"),
            Refusal::Untrusted => f.write_str("PROXY protocol header from a source not trusted to send one"),
            Refusal::Malformed(e) => write!(f, "malformed PROXY protocol header: {e}"),
            Refusal::TooLong => write!(f, "PROXY protocol header longer than {MAX_HEADER} bytes"),
            Refusal::Incomplete => f.write_str("connection ended inside a PROXY protocol header"),
        }
    }
}

/// What the first bytes of a connection say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not enough bytes to decide.
    NeedMore,
    /// No header: serve with the peer's address; nothing consumed.
    NoHeader,
    /// A header of `len` bytes; `client` is the address it carries, `None`
    /// to keep the peer's.
    Header {
        /// Header length in bytes (what follows is the client's).
        len: usize,
        /// The carried source address.
        client: Option<SocketAddr>,
    },
    /// Refuse the connection.
    Refuse(Refusal),
}

/// Decide from the bytes read so far.
pub fn decide(buf: &[u8], trusted: bool, optional: bool) -> Decision {
    let could_be = |sig: &[u8]| sig.starts_with(&buf[..buf.len().min(sig.len())]);
    if buf.len() < V2_SIGNATURE.len() && (could_be(V1_SIGNATURE) || could_be(V2_SIGNATURE)) {
        let v1_decided = buf.len() >= V1_SIGNATURE.len() && buf.starts_with(V1_SIGNATURE);
        if !v1_decided {
            return Decision::NeedMore;
        }
    }
    let is_header = buf.starts_with(V1_SIGNATURE) || buf.starts_with(V2_SIGNATURE);
    if !is_header {
        return if trusted && !optional {
            Decision::Refuse(Refusal::Missing)
        } else {
            Decision::NoHeader
        };
    }
    if !trusted {
        return Decision::Refuse(Refusal::Untrusted);
    }
    // A v1 line is judged whole: `ppp` would refuse a line cut inside a
    // port number rather than wait for the rest.
    if buf.starts_with(V1_SIGNATURE) && !buf[..buf.len().min(V1_MAX)].contains(&b'\n') {
        return if buf.len() >= V1_MAX {
            Decision::Refuse(Refusal::Malformed("v1 line longer than 107 bytes".into()))
        } else {
            Decision::NeedMore
        };
    }
    let parsed = HeaderResult::parse(buf);
    if parsed.is_incomplete() {
        return if buf.len() >= MAX_HEADER {
            Decision::Refuse(Refusal::TooLong)
        } else {
            Decision::NeedMore
        };
    }
    match parsed {
        HeaderResult::V1(Ok(h)) => {
            let client = match h.addresses {
                v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
                v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
                v1::Addresses::Unknown => None,
            };
            Decision::Header {
                len: h.header.len(),
                client,
            }
        }
        HeaderResult::V2(Ok(h)) => {
            if h.len() > MAX_HEADER {
                return Decision::Refuse(Refusal::TooLong);
            }
            let client = match (h.command, h.addresses) {
                (v2::Command::Proxy, v2::Addresses::IPv4(a)) => {
                    Some(SocketAddr::from((a.source_address, a.source_port)))
                }
                (v2::Command::Proxy, v2::Addresses::IPv6(a)) => {
                    Some(SocketAddr::from((a.source_address, a.source_port)))
                }
                _ => None,
            };
            Decision::Header { len: h.len(), client }
        }
        HeaderResult::V1(Err(e)) => Decision::Refuse(Refusal::Malformed(e.to_string())),
        HeaderResult::V2(Err(e)) => Decision::Refuse(Refusal::Malformed(e.to_string())),
    }
}

/// Read the start of a connection until [`decide`] can tell. Returns the
/// carried client address (`None`: keep the peer's) and the bytes read
/// that belong to the client (to be put back in front of the stream).
pub async fn receive(
    tcp: &mut tokio::net::TcpStream,
    trusted: bool,
    optional: bool,
    timeout: Duration,
) -> Result<(Option<SocketAddr>, Vec<u8>), Refusal> {
    let mut buf = Vec::with_capacity(256);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read_buf(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => {
                // Closed, or silent for the header timeout (which a client
                // without a header would have met all the same).
                return match decide(&buf, trusted, optional) {
                    Decision::NoHeader => Ok((None, buf)),
                    Decision::Refuse(r) => Err(r),
                    _ => Err(Refusal::Incomplete),
                };
            }
        }
        match decide(&buf, trusted, optional) {
            Decision::NeedMore => {
                if buf.len() >= MAX_HEADER {
                    return Err(Refusal::TooLong);
                }
                buf.reserve(256);
            }
            Decision::NoHeader => return Ok((None, buf)),
            Decision::Header { len, client } => {
                buf.drain(..len);
                return Ok((client, buf));
            }
            Decision::Refuse(r) => return Err(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(command: u8, family: u8, addrs: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        let len = (addrs.len() + tlvs.len()) as u16;
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(addrs);
        h.extend_from_slice(tlvs);
        h
    }

    fn v2_tcp4(src: [u8; 4], sport: u16) -> Vec<u8> {
        let mut a = src.to_vec();
        a.extend_from_slice(&[10, 0, 0, 1]);
        a.extend_from_slice(&sport.to_be_bytes());
        a.extend_from_slice(&443u16.to_be_bytes());
        v2(1, 0x11, &a, &[])
    }

    fn header(len: usize, client: &str) -> Decision {
        Decision::Header {
            len,
            client: Some(client.parse().unwrap()),
        }
    }

    #[test]
    fn decisions() {
        let v1_4 = b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n".to_vec();
        let v1_6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n".to_vec();
        let v1_unknown = b"PROXY UNKNOWN\r\n".to_vec();
        let mut v1_then_get = v1_4.clone();
        v1_then_get.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let v2_4 = v2_tcp4([192, 0, 2, 9], 6000);
        let mut v2_6_addrs = "2001:db8::9".parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec();
        v2_6_addrs.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        v2_6_addrs.extend_from_slice(&[0x17, 0x70, 0x01, 0xbb]);
        let v2_6 = v2(1, 0x21, &v2_6_addrs, &[]);
        let v2_local = v2(0, 0x00, &[], &[]);
        let mut v2_4_tlv = v2_tcp4([192, 0, 2, 9], 6000);
        // A TLV appended: type 0x04 (NOOP), length 2.
        v2_4_tlv[15] += 5;
        v2_4_tlv.extend_from_slice(&[0x04, 0, 2, 0xaa, 0xbb]);
        let tlv_len = v2_4_tlv.len();
        let v2_bad_version = {
            let mut h = v2_tcp4([1, 2, 3, 4], 1);
            h[12] = 0x31;
            h
        };
        let huge = v2(1, 0x11, &[0u8; 2000], &[]);
        let rows: Vec<(&str, Vec<u8>, bool, bool, Decision)> = vec![
            (
                "v1 tcp4",
                v1_4.clone(),
                true,
                false,
                header(v1_4.len(), "192.0.2.7:5555"),
            ),
            (
                "v1 tcp6",
                v1_6.clone(),
                true,
                false,
                header(v1_6.len(), "[2001:db8::7]:5555"),
            ),
            (
                "v1 unknown",
                v1_unknown.clone(),
                true,
                false,
                Decision::Header { len: 15, client: None },
            ),
            (
                "v1 then request",
                v1_then_get,
                true,
                false,
                header(v1_4.len(), "192.0.2.7:5555"),
            ),
            (
                "v1 partial",
                b"PROXY TCP4 192.0".to_vec(),
                true,
                false,
                Decision::NeedMore,
            ),
            ("v1 signature partial", b"PRO".to_vec(), true, false, Decision::NeedMore),
            (
                "v1 bad address",
                b"PROXY TCP4 192.0.2.300 10.0.0.1 1 2\r\n".to_vec(),
                true,
                false,
                Decision::Refuse(Refusal::Malformed(String::new())),
            ),
            (
                "v1 too long",
                [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat(),
                true,
                false,
                Decision::Refuse(Refusal::Malformed(String::new())),
            ),
            ("v2 tcp4", v2_4.clone(), true, false, header(28, "192.0.2.9:6000")),
            ("v2 tcp6", v2_6.clone(), true, false, header(52, "[2001:db8::9]:6000")),
            ("v2 tlv", v2_4_tlv, true, false, header(tlv_len, "192.0.2.9:6000")),
            (
                "v2 local",
                v2_local,
                true,
                false,
                Decision::Header { len: 16, client: None },
            ),
            ("v2 partial", v2_4[..20].to_vec(), true, false, Decision::NeedMore),
            (
                "v2 signature partial",
                V2_SIGNATURE[..7].to_vec(),
                true,
                false,
                Decision::NeedMore,
            ),
            (
                "v2 bad version",
                v2_bad_version,
                true,
                false,
                Decision::Refuse(Refusal::Malformed(String::new())),
            ),
            ("v2 too long", huge, true, false, Decision::Refuse(Refusal::TooLong)),
            (
                "untrusted v1",
                v1_4.clone(),
                false,
                false,
                Decision::Refuse(Refusal::Untrusted),
            ),
            (
                "untrusted v2",
                v2_4.clone(),
                false,
                false,
                Decision::Refuse(Refusal::Untrusted),
            ),
            (
                "untrusted http",
                b"GET / HTTP/1.1\r\n".to_vec(),
                false,
                false,
                Decision::NoHeader,
            ),
            ("untrusted tls", vec![0x16, 3, 1], false, false, Decision::NoHeader),
            ("untrusted P", b"P".to_vec(), false, false, Decision::NeedMore),
            (
                "untrusted POST",
                b"POST / HTTP/1.1\r\n".to_vec(),
                false,
                false,
                Decision::NoHeader,
            ),
            (
                "trusted http",
                b"GET / HTTP/1.1\r\n".to_vec(),
                true,
                false,
                Decision::Refuse(Refusal::Missing),
            ),
            (
                "trusted optional http",
                b"GET / HTTP/1.1\r\n".to_vec(),
                true,
                true,
                Decision::NoHeader,
            ),
            (
                "trusted optional v1",
                v1_4.clone(),
                true,
                true,
                header(v1_4.len(), "192.0.2.7:5555"),
            ),
            (
                "crlf then get",
                b"\r\nGET / HTTP/1.1\r\n".to_vec(),
                false,
                false,
                Decision::NoHeader,
            ),
        ];
        for (name, bytes, trusted, optional, want) in rows {
            let got = decide(&bytes, trusted, optional);
            let same = match (&got, &want) {
                (Decision::Refuse(Refusal::Malformed(_)), Decision::Refuse(Refusal::Malformed(_))) => true,
                _ => got == want,
            };
            assert!(same, "{name}: got {got:?}, want {want:?}");
        }
    }

    /// Every prefix of a valid header waits for more; every byte changed
    /// either still parses or is refused; nothing panics.
    #[test]
    fn truncations_and_corruptions_never_panic() {
        let samples = [
            b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n".to_vec(),
            b"PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n".to_vec(),
            v2_tcp4([192, 0, 2, 9], 6000),
        ];
        for s in &samples {
            for cut in 0..s.len() {
                assert_eq!(
                    decide(&s[..cut], true, false),
                    Decision::NeedMore,
                    "cut at {cut} of {s:?}"
                );
            }
            let mut seed: u32 = 0x9e37_79b9;
            for i in 0..s.len() {
                for _ in 0..16 {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    let mut c = s.clone();
                    c[i] = seed as u8;
                    let _ = decide(&c, true, false);
                    let _ = decide(&c, false, true);
                }
            }
        }
        let mut seed: u32 = 7;
        for len in 0..300 {
            let mut b = V2_SIGNATURE.to_vec();
            for _ in 0..len {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b.push((seed >> 16) as u8);
            }
            let _ = decide(&b, true, false);
        }
    }
}
