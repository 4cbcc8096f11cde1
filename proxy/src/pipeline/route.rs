//! What each socket does with a request, worked out once at start-up: the
//! socket's settings and its service resolved into an `Arc` so the request
//! path does no lookups by name.

use std::collections::HashMap;
use std::sync::Arc;

use isoproxy_schema::model::{Config, HttpStyle, ServiceKind, Socket, SocketLimits};

use crate::upstream::headers::HttpSettings;
use crate::upstream::peer::Destination;
use crate::upstream::{External, NetworkTarget};

/// What a service is, resolved.
#[derive(Debug)]
pub enum Target {
    /// An origin server or pool.
    External(Arc<External>),
    /// The URL's host, filtered by allow/deny rules.
    Network(Arc<NetworkTarget>),
    /// A Worker, run by the runtime.
    Worker,
    /// A directory served read-only, to Workers' bindings.
    Disk(Arc<crate::pipeline::disk::Disk>),
}

impl Target {
    /// Where a request to this service leaves, if it is not a Worker.
    pub fn destination(&self) -> Option<Destination<'_>> {
        match self {
            Target::External(e) => Some(Destination::External(e)),
            Target::Network(n) => Some(Destination::Network(n)),
            Target::Worker | Target::Disk(_) => None,
        }
    }
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
    pub metrics: Arc<crate::observe::metrics::Metrics>,
    /// For a Worker service: the named export to call (`None`: default).
    pub entrypoint: Option<String>,
    /// For a Worker service: `ctx.props` as JSON.
    pub props_json: Option<String>,
    /// Forward-proxy authentication (`proxyAuth`), when required.
    pub auth: Option<Arc<crate::pipeline::auth::ProxyAuth>>,
    /// A `tcp = ()` socket: no HTTP; each connection goes to the Worker's
    /// connect handler, which sees this (the listen address) as the target.
    pub raw_tcp: Option<Arc<str>>,
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
    pub fn new(config: &Config, metrics: &Arc<crate::observe::metrics::Metrics>) -> Result<Routes, String> {
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
                ServiceKind::Disk(d) => Target::Disk(Arc::new(
                    crate::pipeline::disk::Disk::new(d).map_err(|m| format!("service {}: {m}", svc.name))?,
                )),
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
        metrics: &Arc<crate::observe::metrics::Metrics>,
    ) -> Result<SocketRoute, String> {
        let service = services
            .get(&s.service.name)
            .cloned()
            .ok_or_else(|| format!("socket {}: no service named {:?}", s.name, s.service.name))?;
        if let Target::Disk(_) = service.target {
            // Refused here, before any socket opens, rather than answering
            // every request with an error.
            return Err(format!(
                "socket {}: a disk service can only be reached through a Worker's binding (isoproxy does not serve one on a socket yet)",
                s.name
            ));
        }
        let http = HttpSettings::new(s.http_options()).map_err(|m| format!("socket {}: {m}", s.name))?;
        let auth = match &s.proxy_auth {
            None => None,
            Some(_) if http.style != HttpStyle::Proxy => {
                return Err(format!("socket {}: proxyAuth needs http = (style = proxy)", s.name))
            }
            Some(_) if !matches!(service.target, Target::Network(_)) => {
                return Err(format!(
                    "socket {}: proxyAuth is supported on sockets whose service is a network",
                    s.name
                ))
            }
            Some(a) => Some(Arc::new(
                crate::pipeline::auth::ProxyAuth::new(a, services).map_err(|m| format!("socket {}: {m}", s.name))?,
            )),
        };
        Ok(SocketRoute {
            name: Arc::from(s.name.as_str()),
            tls: matches!(s.protocol, isoproxy_schema::model::SocketProtocol::Https { .. }),
            http,
            limits: s.limits,
            service,
            metrics: metrics.clone(),
            entrypoint: s.service.entrypoint.clone(),
            props_json: s.service.props_json.clone(),
            auth,
            raw_tcp: matches!(s.protocol, isoproxy_schema::model::SocketProtocol::Tcp)
                .then(|| Arc::from(s.address.as_deref().unwrap_or(""))),
        })
    }
}

/// Services by name, for [`crate::pipeline::outbound`].
pub type ServiceMap = HashMap<String, Arc<ServiceRoute>>;
