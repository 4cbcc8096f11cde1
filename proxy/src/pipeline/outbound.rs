//! `isoproxy_runtime::Outbound`: how a Worker's `fetch()` on a binding
//! leaves the process. It finds the service the binding names and hands
//! the request to the one upstream exchange ([`crate::upstream::exchange`]);
//! what it adds is the Worker-side bookkeeping: the metrics of the
//! subrequest and the error a Worker sees.

use std::sync::Arc;

use isoproxy_runtime::{BoxFuture, Outbound, OutboundError, Request, RequestInfo, Response};
use pingora_core::connectors::http::Connector;

use crate::observe::metrics::Metrics;
use crate::pipeline::route::ServiceMap;
use crate::upstream::exchange::{self, Outgoing};
use crate::upstream::fault::{Fault, FaultKind};

/// The Worker's way out.
pub struct Egress {
    services: ServiceMap,
    connector: Arc<Connector>,
    metrics: Arc<Metrics>,
}

impl Egress {
    /// An egress over the config's non-Worker services.
    pub fn new(services: ServiceMap, metrics: Arc<Metrics>) -> Egress {
        Egress {
            services,
            connector: Arc::new(Connector::new(None)),
            metrics,
        }
    }
}

impl Outbound for Egress {
    fn fetch(&self, service: &str, request: Request, info: &RequestInfo) -> BoxFuture<Result<Response, OutboundError>> {
        let svc = self.services.get(service).cloned();
        let connector = self.connector.clone();
        let metrics = self.metrics.clone();
        let service = service.to_string();
        let client = info.client_addr.map(|a| a.ip());
        let request_id = info.request_id.clone();
        Box::pin(async move {
            if let Some(disk) = svc.as_ref().and_then(|s| match &s.target {
                crate::pipeline::route::Target::Disk(d) => Some(d.clone()),
                _ => None,
            }) {
                metrics.upstream_requests.with_label_values(&[&service, "ok"]).inc();
                return Ok(disk.serve(request).await);
            }
            // A TCP connection from `cloudflare:sockets`' connect().
            if request.method == http::Method::CONNECT {
                let result = match svc.as_ref().map(|s| &s.target) {
                    Some(crate::pipeline::route::Target::Network(net)) => {
                        crate::pipeline::socket::open(net, &request.url, request.body).await
                    }
                    _ => Err(isoproxy_runtime::OutboundError::Denied(format!(
                        "service {service} cannot open TCP connections (only a network service can)"
                    ))),
                };
                let outcome = if result.is_ok() { "ok" } else { "error" };
                metrics.upstream_requests.with_label_values(&[&service, outcome]).inc();
                if let Err(isoproxy_runtime::OutboundError::Denied(_)) = &result {
                    metrics.policy_denied.with_label_values(&[&service]).inc();
                }
                return result;
            }
            let result = match svc.as_ref().and_then(|s| s.target.destination()) {
                None => Err(Fault::new(
                    FaultKind::BadRequest,
                    format!("service {service} cannot be fetched"),
                )),
                Some(dest) => match request.url.parse::<http::Uri>() {
                    Err(_) => Err(Fault::new(
                        FaultKind::BadRequest,
                        format!("invalid URL {}", request.url),
                    )),
                    Ok(uri) => {
                        let out = Outgoing {
                            method: request.method,
                            uri,
                            headers: request.headers,
                            body: request.body,
                            client,
                            request_id,
                        };
                        exchange::send(&connector, dest, out, &service, &metrics).await
                    }
                },
            };
            let outcome = result.as_ref().map_or_else(Fault::outcome, |_| "ok");
            metrics.upstream_requests.with_label_values(&[&service, outcome]).inc();
            if let Err(f) = &result {
                if f.kind == FaultKind::Denied {
                    metrics.policy_denied.with_label_values(&[&service]).inc();
                }
            }
            result.map_err(|f| f.to_outbound())
        })
    }
}
