//! ExternalServer pools: the addresses of one origin service, picked
//! round-robin, with passive health (a failed connect marks an address down
//! for `unhealthyMs`).

use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use isoproxy_schema::model::{ExternalProtocol, ExternalServer, UpstreamTimeouts};
use pingora_core::upstreams::peer::{HttpPeer, PeerOptions};

use crate::tls;
use crate::upstream::headers::HttpSettings;

/// Milliseconds since the first call: a cheap monotonic clock for health marks.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

pub(crate) fn ms(v: u32) -> Option<Duration> {
    (v > 0).then(|| Duration::from_millis(u64::from(v)))
}

/// Apply configured timeouts to a peer.
pub fn apply_timeouts(o: &mut PeerOptions, t: &UpstreamTimeouts) {
    o.connection_timeout = ms(t.connect_ms);
    o.total_connection_timeout = ms(t.connect_ms);
    o.read_timeout = ms(t.read_ms);
    o.write_timeout = ms(t.read_ms);
    o.idle_timeout = ms(t.idle_ms);
}

/// One address of an ExternalServer pool.
#[derive(Debug)]
struct Origin {
    peer: HttpPeer,
    down_until_ms: AtomicU64,
}

/// An ExternalServer: one origin or a round-robin pool with passive health.
#[derive(Debug)]
pub struct External {
    origins: Vec<Origin>,
    next: AtomicUsize,
    unhealthy_ms: u64,
    /// HTTP behaviour towards the origin.
    pub http: HttpSettings,
    /// Budget for the whole exchange (`totalMs`), when set.
    pub total_timeout: Option<Duration>,
}

impl External {
    /// Resolve the addresses (once, at start-up) and prepare a peer for each.
    pub fn new(e: &ExternalServer) -> Result<External, String> {
        let (tls_on, sni_override, ca, client_cert) = match &e.protocol {
            ExternalProtocol::Http(_) => (false, None, None, None),
            ExternalProtocol::Https {
                tls, certificate_host, ..
            } => (
                true,
                certificate_host.clone(),
                tls::peer_ca(tls)?,
                tls::peer_client_cert(tls)?,
            ),
        };
        let mut origins = Vec::new();
        for a in &e.addresses {
            let addr = a
                .to_socket_addrs()
                .map_err(|err| format!("cannot resolve {a}: {err}"))?
                .next()
                .ok_or_else(|| format!("cannot resolve {a}"))?;
            let host = crate::syntax::split_port(a)
                .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']').to_string())
                .unwrap_or_else(|| a.clone());
            let sni = sni_override.clone().unwrap_or(host);
            let mut peer = HttpPeer::new(addr, tls_on, sni);
            apply_timeouts(&mut peer.options, &e.timeouts);
            peer.options.ca = ca.clone();
            peer.client_cert_key = client_cert.clone();
            origins.push(Origin {
                peer,
                down_until_ms: AtomicU64::new(0),
            });
        }
        if origins.is_empty() {
            return Err("no addresses".into());
        }
        Ok(External {
            origins,
            next: AtomicUsize::new(0),
            unhealthy_ms: u64::from(e.unhealthy_ms),
            http: HttpSettings::new(e.http_options())?,
            total_timeout: ms(e.timeouts.total_ms),
        })
    }

    /// The next healthy origin, round-robin; when all are marked down, the
    /// next one anyway. Returns its index and a peer to connect to.
    pub fn pick(&self) -> (usize, HttpPeer) {
        let n = self.origins.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let now = now_ms();
        let idx = (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| self.origins[i].down_until_ms.load(Ordering::Relaxed) <= now)
            .unwrap_or(start);
        (idx, self.origins[idx].peer.clone())
    }

    /// A connect to origin `idx` failed after `retries` retries: mark it
    /// down, and say whether to try the next origin (once, and only for an
    /// idempotent method, which the origin cannot have acted on twice).
    pub fn connect_failed(&self, idx: usize, method: &http::Method, retries: u8) -> bool {
        self.mark_down(idx);
        retries == 0 && method.is_idempotent()
    }

    /// Skip origin `idx` for `unhealthyMs` after a failed connect.
    pub fn mark_down(&self, idx: usize) {
        if let Some(o) = self.origins.get(idx) {
            o.down_until_ms.store(now_ms() + self.unhealthy_ms, Ordering::Relaxed);
        }
    }
}
