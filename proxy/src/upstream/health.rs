//! Active health checks of ExternalServer pools (`healthCheck`: TCP, or
//! HTTP with a path and an expected status; `rise`/`fall` thresholds) on
//! `pingora-load-balancing`'s checkers, re-resolution of the origins' names
//! (`dnsTtlMs`), and the `isoproxy_upstream_healthy` gauge.
//!
//! Each pool that needs it gets a small thread with its own runtime, so a
//! check is never delayed by (nor delays) request work. The thread holds
//! the pool weakly and ends once a reload has dropped it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use isoproxy_schema::model::{HealthCheck, HealthCheckKind};
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
