//! Traffic management on the request path: a `router` service's table
//! (host and path prefix to a service, with path rewriting and headers),
//! the rate limits of sockets and routes, and the cap on requests in
//! flight to an upstream service. [`admit`] runs once per request, from
//! the handler's first phase.

use std::net::IpAddr;
use std::sync::Arc;

use isoproxy_schema::model::Router;
use pingora_http::RequestHeader;

use crate::error::Reject;
use crate::pipeline::limit::{Limiter, Slot};
use crate::pipeline::route::{ServiceMap, ServiceRoute, SocketRoute, Target};
use crate::upstream::headers::{inject, injections, Injection};

/// How a route's host is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    /// `*.example.com`, kept as `.example.com`.
    Below(String),
}

impl HostMatch {
    fn new(host: Option<&str>) -> HostMatch {
        match host {
            None => HostMatch::Any,
            Some(h) => match h.strip_prefix('*') {
                Some(suffix) => HostMatch::Below(suffix.to_string()),
                None => HostMatch::Exact(h.to_string()),
            },
        }
    }

    /// How specific a match of `host` is (higher wins), or `None`.
    fn rank(&self, host: Option<&str>) -> Option<(u8, usize)> {
        match (self, host) {
            (HostMatch::Any, _) => Some((0, 0)),
            (HostMatch::Exact(e), Some(h)) => (e == h).then_some((2, e.len())),
            (HostMatch::Below(s), Some(h)) => (h.len() > s.len() && h.ends_with(s.as_str())).then_some((1, s.len())),
            (_, None) => None,
        }
    }
}

/// One route, resolved.
#[derive(Debug)]
pub struct RouteEntry {
    /// Name in metrics and logs.
    pub name: Arc<str>,
    host: HostMatch,
    /// The prefix without a trailing `/` ("" for the root).
    prefix: String,
    /// What replaces the prefix, as written.
    rewrite: Option<String>,
    /// Where the request goes.
    pub service: Arc<ServiceRoute>,
    /// Headers set on requests.
    pub request: Vec<Injection>,
    /// Headers set on responses.
    pub response: Vec<Injection>,
    /// The route's rate limit.
    pub limit: Option<Limiter>,
}

impl RouteEntry {
    /// Whether `path` is the prefix or below it; the prefix length if so.
    fn path_rank(&self, path: &str) -> Option<usize> {
        let p = &self.prefix;
        let below = path.len() == p.len() || path.as_bytes().get(p.len()) == Some(&b'/');
        (path.starts_with(p.as_str()) && below).then_some(p.len())
    }

    /// The path and query to send on, if the route rewrites them.
    fn rewritten(&self, path_and_query: &str) -> Option<String> {
        let to = self.rewrite.as_ref()?;
        let mut rest = path_and_query.get(self.prefix.len()..).unwrap_or("");
        if to.ends_with('/') {
            rest = rest.strip_prefix('/').unwrap_or(rest);
        }
        let mut out = String::with_capacity(to.len() + rest.len() + 1);
        out.push_str(to);
        out.push_str(rest);
        if !out.starts_with('/') {
            out.insert(0, '/');
        }
        Some(out)
    }
}

/// A router service's table.
#[derive(Debug)]
pub struct RouterTable {
    routes: Vec<Arc<RouteEntry>>,
    default: Option<Arc<RouteEntry>>,
}

impl RouterTable {
    /// Resolve a (validated) router against the other services.
    pub fn new(r: &Router, services: &ServiceMap) -> Result<RouterTable, String> {
        let lookup = |name: &str| -> Result<Arc<ServiceRoute>, String> {
            let s = services
                .get(name)
                .cloned()
                .ok_or_else(|| format!("no service named {name:?}"))?;
            match s.target {
                Target::Router(_) => Err(format!("route to router {name:?}: routers do not nest")),
                Target::Disk(_) => Err(format!(
                    "route to disk service {name:?}: a disk service can only be reached through a Worker's binding"
                )),
                _ => Ok(s),
            }
        };
        let mut routes = Vec::new();
        for rt in &r.routes {
            routes.push(Arc::new(RouteEntry {
                name: Arc::from(rt.name.as_str()),
                host: HostMatch::new(rt.host.as_deref()),
                prefix: rt.path_prefix.trim_end_matches('/').to_string(),
                rewrite: rt.rewrite_prefix.clone(),
                service: lookup(&rt.service)?,
                request: injections(&rt.inject_request_headers)?,
                response: injections(&rt.inject_response_headers)?,
                limit: rt.rate_limit.as_ref().map(Limiter::new),
            }));
        }
        let default = match &r.default {
            None => None,
            Some(name) => Some(Arc::new(RouteEntry {
                name: Arc::from("default"),
                host: HostMatch::Any,
                prefix: String::new(),
                rewrite: None,
                service: lookup(name)?,
                request: Vec::new(),
                response: Vec::new(),
                limit: None,
            })),
        };
        Ok(RouterTable { routes, default })
    }

    /// The route for a request: the most specific host match, then the
    /// longest path prefix; else the default.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&Arc<RouteEntry>> {
        // (host kind, host length, prefix length): higher is more specific.
        type Score = (u8, usize, usize);
        let mut best: Option<(Score, &Arc<RouteEntry>)> = None;
        for r in &self.routes {
            let (Some((kind, hlen)), Some(plen)) = (r.host.rank(host), r.path_rank(path)) else {
                continue;
            };
            let score = (kind, hlen, plen);
            if best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((score, r));
            }
        }
        best.map(|(_, r)| r).or(self.default.as_ref())
    }
}

/// The host a request names, as routes compare it: lower case, without
/// port or trailing dot.
pub fn route_host(authority: &str) -> String {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The traffic-management state of one request.
#[derive(Debug, Default)]
pub struct Traffic {
    /// The route taken, on a router socket.
    pub route: Option<Arc<RouteEntry>>,
    /// The place held under the upstream's `maxConcurrentRequests`.
    pub slot: Option<Slot>,
    /// The pool origin's in-flight count (least connections).
    pub held: Option<crate::upstream::pool::Held>,
}

/// Apply the socket's rate limit, the router's table and the route's rate
/// limit and headers, and the upstream's concurrency cap to a request.
/// Returns the service the request goes to when it is not the socket's.
pub fn admit(
    socket: &SocketRoute,
    req: &mut RequestHeader,
    authority: Option<&str>,
    client: Option<IpAddr>,
    t: &mut Traffic,
) -> Result<Option<Arc<ServiceRoute>>, Reject> {
    let metrics = &socket.metrics.traffic;
    if let Some(l) = &socket.limit {
        if let Err(secs) = l.check(client, req) {
            metrics.rate_limited.with_label_values(&[&socket.name, ""]).inc();
            return Err(Reject::rate_limited(secs));
        }
    }
    let mut routed = None;
    let mut service = &socket.service;
    if let Target::Router(table) = &socket.service.target {
        let host = authority.map(route_host);
        let Some(entry) = table.find(host.as_deref(), req.uri.path()) else {
            return Err(Reject::new(404, "no route for this host and path"));
        };
        if let Some(l) = &entry.limit {
            if let Err(secs) = l.check(client, req) {
                metrics
                    .rate_limited
                    .with_label_values(&[&socket.name, &entry.name])
                    .inc();
                return Err(Reject::rate_limited(secs));
            }
        }
        let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
        if let Some(new) = entry.rewritten(pq) {
            req.set_raw_path(new.as_bytes())
                .map_err(|_| Reject::bad_request("the rewritten path is not a valid request target"))?;
        }
        inject(req, &entry.request);
        t.route = Some(entry.clone());
        routed = Some(entry.service.clone());
        service = &entry.service;
    }
    if let Some(cap) = &service.concurrency {
        match cap.acquire() {
            Some(slot) => t.slot = Some(slot),
            None => {
                metrics.upstream_overloaded.with_label_values(&[&service.name]).inc();
                return Err(Reject::overload(format!(
                    "too many requests in flight to service {}",
                    service.name
                )));
            }
        }
    }
    Ok(routed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(host: Option<&str>, prefix: &str, rewrite: Option<&str>, name: &str) -> Arc<RouteEntry> {
        Arc::new(RouteEntry {
            name: Arc::from(name),
            host: HostMatch::new(host),
            prefix: prefix.trim_end_matches('/').to_string(),
            rewrite: rewrite.map(str::to_string),
            service: Arc::new(ServiceRoute {
                name: Arc::from(name),
                target: Target::Worker,
                concurrency: None,
            }),
            request: Vec::new(),
            response: Vec::new(),
            limit: None,
        })
    }

    #[test]
    fn find_table() {
        let table = RouterTable {
            routes: vec![
                entry(Some("api.example.com"), "/", None, "api"),
                entry(Some("api.example.com"), "/v1", None, "api-v1"),
                entry(Some("*.example.com"), "/", None, "wild"),
                entry(Some("*.example.com"), "/static/", None, "wild-static"),
                entry(Some("*.b.example.com"), "/", None, "wild-b"),
                entry(None, "/admin", None, "admin"),
            ],
            default: Some(entry(None, "/", None, "default")),
        };
        let rows = [
            ("api.example.com", "/", "api"),
            ("api.example.com", "/v1", "api-v1"),
            ("api.example.com", "/v1/users", "api-v1"),
            ("api.example.com", "/v10", "api"),
            ("api.example.com", "/admin", "api"),
            ("www.example.com", "/x", "wild"),
            ("www.example.com", "/static/a.css", "wild-static"),
            ("www.example.com", "/static", "wild-static"),
            ("www.example.com", "/staticx", "wild"),
            ("a.b.example.com", "/", "wild-b"),
            ("example.com", "/", "default"),
            ("example.com", "/admin/x", "admin"),
            ("other.org", "/administrator", "default"),
            ("", "/admin", "admin"),
        ];
        for (host, path, want) in rows {
            let host = (!host.is_empty()).then_some(host);
            let got = table.find(host, path).map(|r| r.name.to_string());
            assert_eq!(got.as_deref(), Some(want), "{host:?} {path}");
        }
        let no_default = RouterTable {
            routes: vec![entry(Some("a.test"), "/", None, "a")],
            default: None,
        };
        assert!(no_default.find(Some("b.test"), "/").is_none());
        assert!(no_default.find(None, "/").is_none());
    }

    #[test]
    fn rewrite_table() {
        let rows = [
            ("/api", Some(""), "/api/users?x=1", "/users?x=1"),
            ("/api", Some(""), "/api", "/"),
            ("/api", Some(""), "/api?x", "/?x"),
            ("/api/", Some(""), "/api/users", "/users"),
            ("/api", Some("/v2"), "/api/users", "/v2/users"),
            ("/api", Some("/v2/"), "/api", "/v2/"),
            ("/api", Some("/v2/"), "/api/x", "/v2/x"),
            ("/api", Some("/v2"), "/api", "/v2"),
            ("/api", Some("/v2"), "/api?q", "/v2?q"),
            ("/", Some("/base"), "/x/y", "/base/x/y"),
            ("/api", None, "/api/users", "/api/users"),
        ];
        for (prefix, rewrite, path, want) in rows {
            let e = entry(None, prefix, rewrite, "r");
            let got = e.rewritten(path).unwrap_or_else(|| path.to_string());
            assert_eq!(got, want, "{prefix} {rewrite:?} {path}");
        }
    }

    #[test]
    fn host_forms() {
        for (authority, want) in [
            ("Example.COM", "example.com"),
            ("example.com:8080", "example.com"),
            ("example.com.", "example.com"),
            ("[::1]:80", "::1"),
            ("[::1]", "::1"),
        ] {
            assert_eq!(route_host(authority), want, "{authority}");
        }
    }
}
