//! Choosing where a request goes: the next healthy origin of an
//! ExternalServer pool, or, for a Network, the URL's host resolved and
//! checked against the rules. The no-script phases and a Worker's
//! subrequests choose the same way.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pingora_core::upstreams::peer::HttpPeer;

use crate::upstream::fault::{Fault, FaultKind};
use crate::upstream::{External, NetworkTarget};

/// The kinds of service a request can leave through.
#[derive(Debug, Clone, Copy)]
pub enum Destination<'a> {
    /// An origin server or pool.
    External(&'a External),
    /// The URL's host, filtered by allow/deny rules.
    Network(&'a NetworkTarget),
}

/// A chosen peer.
#[derive(Debug)]
pub struct Chosen {
    /// What to connect to, with its timeouts.
    pub peer: HttpPeer,
    /// For a pool: the index of the origin (for health marks).
    pub origin: Option<usize>,
    /// For a Network: the authority to send as `Host`.
    pub host_header: Option<String>,
    /// For a Network: the rules that let the destination through.
    pub rule: Option<std::sync::Arc<str>>,
}

impl Chosen {
    /// The address connected to.
    pub fn addr(&self) -> Option<SocketAddr> {
        use pingora_core::upstreams::peer::Peer;
        self.peer.address().as_inet().copied()
    }
}

impl<'a> Destination<'a> {
    /// Choose the peer for a request to `authority` (the URL's or Host's)
    /// that started at `start` (the `totalMs` budget counts from there).
    pub async fn choose(self, authority: Option<&str>, https: bool, start: Instant) -> Result<Chosen, Fault> {
        match self {
            Destination::External(ext) => {
                let (idx, mut peer) = ext.pick();
                if let Some(total) = ext.total_timeout {
                    bound_by_total(&mut peer, total, start)?;
                }
                Ok(Chosen {
                    peer,
                    origin: Some(idx),
                    host_header: None,
                    rule: None,
                })
            }
            Destination::Network(net) => {
                let Some(authority) = authority.filter(|a| !a.is_empty()) else {
                    return Err(Fault::new(FaultKind::BadRequest, "missing Host header"));
                };
                let (host, port) = match crate::syntax::split_port(authority) {
                    Some((h, p)) => (h, p),
                    None => (authority, if https { 443 } else { 80 }),
                };
                let (addr, rule) = net.resolve(host, port).await.map_err(Fault::from_reject)?;
                Ok(Chosen {
                    peer: net.peer(addr, https, host),
                    origin: None,
                    host_header: Some(authority.to_string()),
                    rule: Some(rule),
                })
            }
        }
    }

    /// Whether the origin is itself a forward proxy (it gets absolute URLs).
    pub fn wants_absolute_form(self) -> bool {
        match self {
            Destination::External(ext) => ext.http.style == isoproxy_schema::model::HttpStyle::Proxy,
            Destination::Network(_) => false,
        }
    }

    /// The service's own header settings, for an ExternalServer.
    pub fn http(self) -> Option<&'a crate::upstream::headers::HttpSettings> {
        match self {
            Destination::External(ext) => Some(&ext.http),
            Destination::Network(_) => None,
        }
    }
}

/// Shrink the peer's timeouts to what is left of the whole-exchange budget
/// (`totalMs`), or fail as a timeout when nothing is left.
fn bound_by_total(peer: &mut HttpPeer, total: Duration, start: Instant) -> Result<(), Fault> {
    let Some(left) = total.checked_sub(start.elapsed()).filter(|d| !d.is_zero()) else {
        return Err(Fault::new(FaultKind::Timeout, "total upstream time limit reached"));
    };
    let o = &mut peer.options;
    for t in [
        &mut o.connection_timeout,
        &mut o.total_connection_timeout,
        &mut o.read_timeout,
        &mut o.write_timeout,
    ] {
        *t = Some(t.map_or(left, |v| v.min(left)));
    }
    Ok(())
}
