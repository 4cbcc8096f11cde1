//! Active health checks of ExternalServer pools (`healthCheck`: TCP, HTTP
//! with a path and an expected status, or the gRPC health protocol;
//! `rise`/`fall` thresholds) on `pingora-load-balancing`'s checkers, re-resolution of the origins' names
//! (`dnsTtlMs`), and the `isoproxy_upstream_healthy` gauge.
//!
//! Each pool that needs it gets a small thread with its own runtime, so a
//! check is never delayed by (nor delays) request work. The thread holds
//! the pool weakly and ends once a reload has dropped it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use isoproxy_schema::model::{HealthCheck, HealthCheckKind};
use pingora_core::connectors::http::Connector as HttpConnector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_core::protocols::ALPN;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_load_balancing::health_check::{HealthCheck as Check, HealthObserve, HttpHealthCheck, TcpHealthCheck};
use pingora_load_balancing::Backend;

use crate::observe::metrics::Metrics;
use crate::upstream::pool::{BackendState, External, PeerTemplate};

/// Records each verdict on the backend's state (for reports).
struct Observe;

#[async_trait]
impl HealthObserve for Observe {
    async fn observe(&self, target: &Backend, healthy: bool) {
        if let Some(s) = target.ext.get::<Arc<BackendState>>() {
            s.checked_healthy.store(healthy, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(origin = %s.origin, addr = %s.addr, healthy, "upstream health changed");
        }
    }
}

/// The checker for a pool.
pub(crate) fn check_for(h: &HealthCheck, host: &str, t: &PeerTemplate) -> Box<dyn Check + Send + Sync> {
    let timeout = Some(Duration::from_millis(u64::from(h.timeout_ms.max(1))));
    match &h.kind {
        HealthCheckKind::Tcp => {
            let mut c = if t.tls {
                TcpHealthCheck::new_tls(t.sni_override.as_deref().unwrap_or(host))
            } else {
                TcpHealthCheck::new()
            };
            c.consecutive_success = h.rise as usize;
            c.consecutive_failure = h.fall as usize;
            c.peer_template.options.connection_timeout = timeout;
            c.peer_template.options.total_connection_timeout = timeout;
            c.peer_template.options.ca = t.ca.clone();
            c.health_changed_callback = Some(Box::new(Observe));
            c
        }
        HealthCheckKind::Http {
            path,
            host: host_header,
            expected_status,
        } => {
            let host_header = host_header.as_deref().unwrap_or(host);
            let mut c = HttpHealthCheck::new(host_header, t.tls);
            if let Ok(mut req) = RequestHeader::build("GET", path.as_bytes(), None) {
                let _ = req.append_header("Host", host_header);
                let _ = req.append_header("User-Agent", "isoproxy-health-check");
                c.req = req;
            }
            c.peer_template.sni = t.sni_override.clone().unwrap_or_else(|| host.to_string());
            c.consecutive_success = h.rise as usize;
            c.consecutive_failure = h.fall as usize;
            c.peer_template.options.connection_timeout = timeout;
            c.peer_template.options.total_connection_timeout = timeout;
            c.peer_template.options.read_timeout = timeout;
            c.peer_template.options.write_timeout = timeout;
            c.peer_template.options.ca = t.ca.clone();
            c.peer_template.client_cert_key = t.client_cert.clone();
            let want = *expected_status;
            c.validator = Some(Box::new(move |resp: &ResponseHeader| {
                if resp.status.as_u16() == want {
                    Ok(())
                } else {
                    pingora_error::Error::e_explain(
                        pingora_error::ErrorType::CustomCode("unexpected status", resp.status.as_u16()),
                        "during health check",
                    )
                }
            }));
            c.health_changed_callback = Some(Box::new(Observe));
            Box::new(c)
        }
        HealthCheckKind::Grpc { service } => {
            let sni = t.sni_override.clone().unwrap_or_else(|| host.to_string());
            let mut peer = HttpPeer::new("0.0.0.0:1", t.tls, sni);
            peer.options.alpn = ALPN::H2;
            peer.options.connection_timeout = timeout;
            peer.options.total_connection_timeout = timeout;
            peer.options.read_timeout = timeout;
            peer.options.write_timeout = timeout;
            peer.options.ca = t.ca.clone();
            peer.client_cert_key = t.client_cert.clone();
            Box::new(GrpcCheck {
                connector: HttpConnector::new(None),
                peer,
                authority: host.to_string(),
                service: service.clone(),
                rise: h.rise as usize,
                fall: h.fall as usize,
                timeout: Duration::from_millis(u64::from(h.timeout_ms.max(1))),
            })
        }
    }
}

/// `grpc.health.v1.Health/Check` over HTTP/2: healthy when the answer is
/// `grpc-status: 0` with status SERVING.
struct GrpcCheck {
    connector: HttpConnector,
    peer: HttpPeer,
    authority: String,
    service: String,
    rise: usize,
    fall: usize,
    timeout: Duration,
}

/// The request message: `HealthCheckRequest { service }`, length-prefixed.
fn grpc_health_request(service: &str) -> bytes::Bytes {
    let mut msg = Vec::new();
    if !service.is_empty() {
        // Field 1, length-delimited; a service name is far below 128 bytes
        // in practice, but encode the length as a varint anyway.
        msg.push(0x0a);
        let mut n = service.len();
        while n >= 0x80 {
            msg.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        msg.push(n as u8);
        msg.extend_from_slice(service.as_bytes());
    }
    let mut out = vec![0u8];
    out.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    out.extend_from_slice(&msg);
    bytes::Bytes::from(out)
}

/// Whether a `HealthCheckResponse` message (length-prefixed) says SERVING
/// (field 1, varint 1).
fn grpc_serving(body: &[u8]) -> bool {
    let Some(msg) = body.get(5..) else { return false };
    let mut i = 0;
    while i < msg.len() {
        let key = msg[i];
        i += 1;
        match (key >> 3, key & 7) {
            (1, 0) => return msg.get(i) == Some(&1),
            (_, 0) => {
                while msg.get(i).is_some_and(|b| b & 0x80 != 0) {
                    i += 1;
                }
                i += 1;
            }
            (_, 2) => {
                let len = usize::from(msg.get(i).copied().unwrap_or(0));
                i += 1 + len;
            }
            _ => return false,
        }
    }
    // SERVING is 1; an empty message is UNKNOWN (0).
    false
}

fn grpc_failed(why: &'static str) -> Box<pingora_error::Error> {
    pingora_error::Error::explain(pingora_error::ErrorType::CustomCode("grpc health", 0), why)
}

#[async_trait]
impl Check for GrpcCheck {
    fn health_threshold(&self, success: bool) -> usize {
        if success {
            self.rise
        } else {
            self.fall
        }
    }

    async fn check(&self, target: &Backend) -> pingora_error::Result<()> {
        let mut peer = self.peer.clone();
        peer._address = target.addr.clone();
        let call = async {
            let (session, _) = self.connector.get_http_session(&peer).await?;
            let HttpSession::H2(mut s) = session else {
                return Err(grpc_failed("the origin does not speak HTTP/2"));
            };
            let mut req = RequestHeader::build("POST", b"/grpc.health.v1.Health/Check", None)?;
            req.insert_header("content-type", "application/grpc")?;
            req.insert_header("te", "trailers")?;
            req.insert_header("host", self.authority.as_str())?;
            req.insert_header("user-agent", "isoproxy-health-check")?;
            s.write_request_header(Box::new(req), false)?;
            s.write_request_body(grpc_health_request(&self.service), true).await?;
            s.read_response_header().await?;
            let head_status = s
                .response_header()
                .and_then(|h| h.headers.get("grpc-status"))
                .map(|v| v.as_bytes().to_vec());
            let mut body = Vec::new();
            while let Some(chunk) = s.read_response_body().await? {
                body.extend_from_slice(&chunk);
                if body.len() > 1024 {
                    return Err(grpc_failed("health response too long"));
                }
            }
            let trailers = s.read_trailers().await?;
            let status = head_status.or_else(|| {
                trailers
                    .as_ref()
                    .and_then(|t| t.get("grpc-status"))
                    .map(|v| v.as_bytes().to_vec())
            });
            if status.as_deref() != Some(b"0") {
                return Err(grpc_failed("grpc-status is not 0"));
            }
            if !grpc_serving(&body) {
                return Err(grpc_failed("not SERVING"));
            }
            Ok(())
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(grpc_failed("timed out")),
        }
    }

    async fn health_status_change(&self, target: &Backend, healthy: bool) {
        Observe.observe(target, healthy).await;
    }
}

/// Start the checks and re-resolution of `ext` (service `service`), if it
/// has any, and report its origins' health in `metrics`.
pub fn start(ext: &Arc<External>, service: &str, metrics: &Arc<Metrics>) {
    let hc = ext
        .health
        .as_ref()
        .map(|h| Duration::from_millis(u64::from(h.interval_ms.max(1))));
    let dns = ext.dns_ttl;
    let tick = match (hc, dns) {
        (None, None) => return,
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
    };
    report(ext, service, metrics);
    let weak = Arc::downgrade(ext);
    let name = service.to_string();
    let metrics = metrics.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("health-{service}"))
        .spawn(move || {
            let service = name;
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(service = %service, error = %e, "health checks: cannot start a runtime");
                    return;
                }
            };
            rt.block_on(async move {
                let mut last_dns = Instant::now();
                loop {
                    let Some(ext) = weak.upgrade() else { return };
                    if hc.is_some() {
                        ext.balancer.backends().run_health_check(true).await;
                    }
                    if dns.is_some_and(|d| last_dns.elapsed() >= d) {
                        last_dns = Instant::now();
                        if let Err(e) = ext.balancer.update().await {
                            tracing::warn!(service = %service, error = %e, "re-resolving origins failed; keeping the last addresses");
                        }
                    }
                    report(&ext, &service, &metrics);
                    drop(ext);
                    tokio::time::sleep(tick).await;
                }
            });
        });
    if let Err(e) = spawned {
        tracing::error!(service = %service, error = %e, "health checks: cannot start a thread");
    }
}

/// Set `isoproxy_upstream_healthy{service,address}`: 1 when the origin's
/// address passes its checks and is not ejected.
fn report(ext: &External, service: &str, metrics: &Metrics) {
    let current = ext.balancer.backends().get_backend();
    for s in ext.states() {
        let addr = s.addr.to_string();
        let gauge = metrics
            .traffic
            .upstream_healthy
            .with_label_values(&[service, &s.origin, &addr]);
        let listed = current
            .iter()
            .any(|b| b.ext.get::<Arc<BackendState>>().is_some_and(|x| x.idx == s.idx));
        let ready = current
            .iter()
            .find(|b| b.ext.get::<Arc<BackendState>>().is_some_and(|x| x.idx == s.idx))
            .is_some_and(|b| ext.balancer.backends().ready(b));
        gauge.set(i64::from(listed && ready && !s.ejected()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_messages() {
        assert_eq!(&grpc_health_request("")[..], &[0, 0, 0, 0, 0]);
        assert_eq!(
            &grpc_health_request("a.B")[..],
            &[0, 0, 0, 0, 5, 0x0a, 3, b'a', b'.', b'B']
        );
        // (response body, SERVING)
        let rows: [(&[u8], bool); 6] = [
            (&[0, 0, 0, 0, 2, 0x08, 1], true),
            (&[0, 0, 0, 0, 2, 0x08, 2], false),
            (&[0, 0, 0, 0, 0], false),
            (&[0, 0, 0, 0, 5, 0x12, 1, b'x', 0x08, 1], true),
            (&[0, 0, 0], false),
            (&[0, 0, 0, 0, 1, 0x0d], false),
        ];
        for (body, want) in rows {
            assert_eq!(grpc_serving(body), want, "{body:?}");
        }
    }
}
