//! Network services: the destination comes from the request URL and is
//! resolved on every request; only a name that passes the name rules, and
//! an address that passes the allow/deny rules, is ever connected to.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use isoproxy_schema::model::{Network, UpstreamTimeouts};
use pingora_core::upstreams::peer::HttpPeer;

use crate::error::Reject;
use crate::tls;
use crate::upstream::names::{self, NameRules};
use crate::upstream::policy::Policy;
use crate::upstream::pool::{apply_timeouts, ms};

/// A Network service: destinations come from the URL and pass the rules.
#[derive(Debug)]
pub struct NetworkTarget {
    /// Allow/deny rules for addresses.
    pub policy: Policy,
    /// Allow/deny rules for host names, checked before resolving.
    pub names: NameRules,
    /// Timeouts.
    pub timeouts: UpstreamTimeouts,
    ca: Option<Arc<pingora_core::protocols::tls::CaType>>,
    client_cert: Option<Arc<pingora_core::utils::tls::CertKey>>,
}

impl NetworkTarget {
    /// Compile a Network.
    pub fn new(n: &Network) -> Result<NetworkTarget, String> {
        Ok(NetworkTarget {
            policy: Policy::new(n),
            names: NameRules::new(&n.allow_names, &n.deny_names)?,
            timeouts: n.timeouts,
            ca: tls::peer_ca(&n.tls)?,
            client_cert: tls::peer_client_cert(&n.tls)?,
        })
    }

    /// Resolve `host` (every time: no cache) and return the first address
    /// that passes the rules, with the rules that let it through (for the
    /// access log). Only checked addresses are ever returned, so the
    /// connection goes exactly where the check allowed. A refusal carries
    /// the rule that decided.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<(SocketAddr, Arc<str>), Reject> {
        // The name resolved is the one the name rules judge: IDNA ASCII,
        // lower case, no trailing dot.
        let host_form = names::canonical(host);
        let name_rule = match self.names.check_canonical(host_form.as_ref()) {
            Ok(rule) => rule,
            Err(r) => {
                tracing::info!(host, rule = %r, "destination refused by policy");
                return Err(refused(host, r));
            }
        };
        let allowed = |address_rule: String| -> Arc<str> {
            match &name_rule {
                Some(n) => Arc::from(format!("{n}; {address_rule}")),
                None => Arc::from(address_rule),
            }
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let canonical = match host_form {
            Some(names::Host::Name(n)) => Some(n),
            _ => None,
        };
        let bare = canonical.as_deref().unwrap_or(bare);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return match self.policy.check(ip) {
                Ok(rule) => Ok((SocketAddr::new(ip, port), allowed(rule))),
                Err(r) => {
                    tracing::info!(host, address = %ip, rule = %r, "destination refused by policy");
                    Err(refused(host, r))
                }
            };
        }
        let lookup = tokio::net::lookup_host((bare, port));
        let addrs = match ms(self.timeouts.connect_ms) {
            Some(t) => tokio::time::timeout(t, lookup)
                .await
                .map_err(|_| Reject::upstream(true, format!("resolving {host} timed out")))?,
            None => lookup.await,
        }
        .map_err(|_| Reject::upstream(false, format!("cannot resolve {host}")))?;
        let mut refusal = None;
        for addr in addrs {
            match self.policy.check(addr.ip()) {
                Ok(rule) => return Ok((addr, allowed(rule))),
                Err(r) => {
                    tracing::info!(host, address = %addr.ip(), rule = %r, "destination refused by policy");
                    refusal = Some(r);
                }
            }
        }
        Err(match refusal {
            Some(r) => refused(host, r),
            None => Reject::upstream(false, format!("cannot resolve {host}")),
        })
    }

    /// A peer for a checked address.
    pub fn peer(&self, addr: SocketAddr, tls_on: bool, host: &str) -> HttpPeer {
        let sni = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let mut peer = HttpPeer::new(addr, tls_on, sni);
        apply_timeouts(&mut peer.options, &self.timeouts);
        peer.options.ca = self.ca.clone();
        peer.client_cert_key = self.client_cert.clone();
        peer
    }
}

/// The 403 for `host`, naming the rule (never the address).
fn refused(host: &str, r: crate::upstream::policy::Refusal) -> Reject {
    let mut reject = Reject::policy(format!("{host} refused by the network policy ({r})"));
    reject.rule = Some(Arc::from(r.rule));
    reject
}
