//! What each socket does with a request, worked out once at start-up: the
//! socket's settings and its service resolved into an `Arc` so the request
//! path does no lookups by name.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use isoproxy_schema::model::{Config, HeaderInjection, HttpOptions, HttpStyle, ServiceKind, Socket, SocketLimits};

use crate::upstream::{External, NetworkTarget};

/// A header to set (`Some`) or remove (`None`).
#[derive(Debug, Clone)]
pub struct Injection {
    /// Header name.
    pub name: HeaderName,
    /// New value, or removal.
    pub value: Option<HeaderValue>,
}

/// Compiled [`HttpOptions`].
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Request-target style.
    pub style: HttpStyle,
    /// Header that carries the original scheme.
    pub forwarded_proto: Option<HeaderName>,
    /// Applied to requests.
    pub request: Vec<Injection>,
    /// Applied to responses.
    pub response: Vec<Injection>,
    /// Client-sent forwarding headers are believed (`trustForwardedHeaders`).
    pub trust_forwarded: bool,
}

impl HttpSettings {
    /// Compile options; fails on a header name or value that is not valid HTTP.
    pub fn new(o: &HttpOptions) -> Result<HttpSettings, String> {
        let compile = |list: &[HeaderInjection]| -> Result<Vec<Injection>, String> {
            list.iter()
                .map(|h| {
                    let name = HeaderName::from_bytes(h.name.as_bytes())
                        .map_err(|_| format!("invalid header name {:?}", h.name))?;
                    let value = match &h.value {
                        Some(v) => Some(HeaderValue::from_str(v).map_err(|_| format!("invalid header value {v:?}"))?),
                        None => None,
                    };
                    Ok(Injection { name, value })
                })
                .collect()
        };
        let forwarded_proto = match &o.forwarded_proto_header {
            Some(h) => Some(HeaderName::from_bytes(h.as_bytes()).map_err(|_| format!("invalid header name {h:?}"))?),
            None => None,
        };
        Ok(HttpSettings {
            style: o.style,
            forwarded_proto,
            request: compile(&o.inject_request_headers)?,
            response: compile(&o.inject_response_headers)?,
            trust_forwarded: o.trust_forwarded_headers,
        })
    }
}

/// Header editing over Pingora's headers (which keep a case map and so
/// give no `&mut HeaderMap`) and plain header maps.
pub trait Headers {
    /// The headers.
    fn map(&self) -> &http::HeaderMap;
    /// Set a header, replacing others of the name.
    fn set(&mut self, name: HeaderName, value: HeaderValue);
    /// Remove every header of the name.
    fn del(&mut self, name: &HeaderName);
}

impl Headers for http::HeaderMap {
    fn map(&self) -> &http::HeaderMap {
        self
    }
    fn set(&mut self, name: HeaderName, value: HeaderValue) {
        self.insert(name, value);
    }
    fn del(&mut self, name: &HeaderName) {
        self.remove(name);
    }
}

impl Headers for pingora_http::RequestHeader {
    fn map(&self) -> &http::HeaderMap {
        &self.headers
    }
    fn set(&mut self, name: HeaderName, value: HeaderValue) {
        let _ = self.insert_header(name, value);
    }
    fn del(&mut self, name: &HeaderName) {
        let _ = self.remove_header(name);
    }
}

impl Headers for pingora_http::ResponseHeader {
    fn map(&self) -> &http::HeaderMap {
        &self.headers
    }
    fn set(&mut self, name: HeaderName, value: HeaderValue) {
        let _ = self.insert_header(name, value);
    }
    fn del(&mut self, name: &HeaderName) {
        let _ = self.remove_header(name);
    }
}

/// Apply injections to headers.
pub fn inject<H: Headers>(headers: &mut H, list: &[Injection]) {
    for i in list {
        match &i.value {
            Some(v) => headers.set(i.name.clone(), v.clone()),
            None => headers.del(&i.name),
        }
    }
}

/// What a service is, resolved.
#[derive(Debug)]
pub enum Target {
    /// An origin server or pool.
    External(Arc<External>),
    /// The URL's host, filtered by allow/deny rules.
    Network(Arc<NetworkTarget>),
    /// A Worker, run by the runtime.
    Worker,
}

/// A named service, resolved.
#[derive(Debug)]
pub struct ServiceRoute {
    /// Service name.
    pub name: Arc<str>,
    /// What it is.
    pub target: Target,
}

/// Everything about one socket the request path needs.
#[derive(Debug)]
pub struct SocketRoute {
    /// Socket name.
    pub name: Arc<str>,
    /// TLS terminated here.
    pub tls: bool,
    /// HTTP behaviour.
    pub http: HttpSettings,
    /// Limits and timeouts.
    pub limits: SocketLimits,
    /// The service behind the socket.
    pub service: Arc<ServiceRoute>,
    /// Where this socket's requests are counted.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// For a Worker service: the named export to call (`None`: default).
    pub entrypoint: Option<String>,
    /// For a Worker service: `ctx.props` as JSON.
    pub props_json: Option<String>,
}

/// Every non-Worker service by name, plus the socket routes.
pub struct Routes {
    /// Services by name.
    pub services: HashMap<String, Arc<ServiceRoute>>,
    /// Socket routes in config order.
    pub sockets: Vec<Arc<SocketRoute>>,
}

impl Routes {
    /// Resolve the config. Fails on anything the proxy cannot serve.
    pub fn new(config: &Config, metrics: &Arc<crate::metrics::Metrics>) -> Result<Routes, String> {
        let mut services = HashMap::new();
        for svc in &config.services {
            let target = match &svc.kind {
                ServiceKind::External(e) => Target::External(Arc::new(
                    External::new(e).map_err(|m| format!("service {}: {m}", svc.name))?,
                )),
                ServiceKind::Network(n) => Target::Network(Arc::new(
                    NetworkTarget::new(n).map_err(|m| format!("service {}: {m}", svc.name))?,
                )),
                ServiceKind::Worker(_) => Target::Worker,
                ServiceKind::Disk(_) => {
                    // Refused here, before any socket opens, rather than
                    // answering 500 to every request routed to it.
                    return Err(format!("service {}: disk services are not supported yet", svc.name));
                }
            };
            services.insert(
                svc.name.clone(),
                Arc::new(ServiceRoute {
                    name: Arc::from(svc.name.as_str()),
                    target,
                }),
            );
        }
        let mut sockets = Vec::new();
        for s in &config.sockets {
            sockets.push(Arc::new(Self::socket(s, &services, metrics)?));
        }
        Ok(Routes { services, sockets })
    }

    fn socket(
        s: &Socket,
        services: &HashMap<String, Arc<ServiceRoute>>,
        metrics: &Arc<crate::metrics::Metrics>,
    ) -> Result<SocketRoute, String> {
        let service = services
            .get(&s.service.name)
            .cloned()
            .ok_or_else(|| format!("socket {}: no service named {:?}", s.name, s.service.name))?;
        let http = HttpSettings::new(s.http_options()).map_err(|m| format!("socket {}: {m}", s.name))?;
        Ok(SocketRoute {
            name: Arc::from(s.name.as_str()),
            tls: matches!(s.protocol, isoproxy_schema::model::SocketProtocol::Https { .. }),
            http,
            limits: s.limits,
            service,
            metrics: metrics.clone(),
            entrypoint: s.service.entrypoint.clone(),
            props_json: s.service.props_json.clone(),
        })
    }
}
