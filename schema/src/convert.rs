//! Converting a (validated) Cap'n Proto config message into the plain-Rust
//! [`model`](crate::model), applying command-line overrides and adding the
//! implicit `internet` network.

use capnp::text;

use crate::config_capnp::{
    access_log_options, balancing, config, external_server, health_check, http_options, network, proxy_auth,
    proxy_protocol, rate_limit, router, service, service_designator, socket, socket_limits, tls_options,
    upstream_timeouts, worker, worker_limits,
};
use crate::model::{
    AccessLogFormat, AccessLogOptions, AdminOptions, Balancing, BalancingPolicy, Binding, BindingValue, CacheOptions,
    Config, DiskDirectory, ExternalProtocol, ExternalServer, HashKey, HeaderInjection, HealthCheck, HealthCheckKind,
    HttpOptions, HttpStyle, Keypair, MetricsOptions, Module, ModuleKind, Network, ProxyAuth, ProxyProtocol, ProxyUser,
    RateLimit, RateLimitKey, ResponseCompression, Route, Router, ServerOptions, Service, ServiceDesignator,
    ServiceKind, SniKeypair, Socket, SocketLimits, SocketProtocol, TlsOptions, TlsVersion, UpstreamHttp2,
    UpstreamTimeouts, Worker, WorkerLimits, WorkerSource,
};
use crate::rules::{parse_ports, parse_rule};
use crate::Overrides;

type R<T> = capnp::Result<T>;

fn s(t: R<text::Reader<'_>>) -> R<String> {
    Ok(t?.to_string()?)
}

fn opt(t: R<text::Reader<'_>>) -> R<Option<String>> {
    let v = s(t)?;
    Ok(if v.is_empty() { None } else { Some(v) })
}

fn texts(l: R<capnp::text_list::Reader<'_>>) -> R<Vec<String>> {
    l?.iter().map(s).collect()
}

fn bad(msg: String) -> capnp::Error {
    capnp::Error::failed(msg)
}

/// Convert the root `Config` of a message.
pub fn config(r: config::Reader<'_>, overrides: &Overrides) -> R<Config> {
    let mut services = Vec::new();
    for svc in r.get_services()? {
        services.push(service(svc, overrides)?);
    }
    if !services.iter().any(|s| s.name == "internet") {
        services.push(Service {
            name: "internet".into(),
            kind: ServiceKind::Network(Network::default()),
        });
    }
    let mut sockets = Vec::new();
    for sock in r.get_sockets()? {
        sockets.push(socket_of(sock, overrides)?);
    }
    let metrics = if r.has_metrics() {
        let m = r.get_metrics()?;
        Some(MetricsOptions {
            address: s(m.get_address())?,
            path: s(m.get_path())?,
        })
    } else {
        None
    };
    let al = r.get_access_log()?;
    let mut access_log = AccessLogOptions {
        format: match al.get_format()? {
            access_log_options::Format::Json => AccessLogFormat::Json,
            access_log_options::Format::Combined => AccessLogFormat::Combined,
            access_log_options::Format::Off => AccessLogFormat::Off,
        },
        path: opt(al.get_path())?.map(Into::into),
        buffer_records: al.get_buffer_records(),
    };
    if let Some(f) = overrides.access_log_format {
        access_log.format = f;
    }
    if let Some(p) = &overrides.access_log_path {
        access_log.path = (p.as_os_str() != "-").then(|| p.clone());
    }
    let admin = if r.has_admin() {
        Some(AdminOptions {
            address: s(r.get_admin()?.get_address())?,
        })
    } else {
        None
    };
    let so = r.get_server()?;
    let server = ServerOptions {
        threads: so.get_threads(),
        isolate_threads: so.get_isolate_threads(),
        drain_timeout_ms: so.get_drain_timeout_ms(),
        max_queued_per_worker: so.get_max_queued_per_worker(),
        max_queued_per_isolate_thread: so.get_max_queued_per_isolate_thread(),
    };
    let cache = if r.has_cache() {
        let c = r.get_cache()?;
        Some(CacheOptions {
            sockets: texts(c.get_sockets())?,
            memory_bytes: c.get_memory_bytes(),
            max_object_bytes: c.get_max_object_bytes(),
            key_headers: texts(c.get_key_headers())?
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            key_query: c.get_key_query(),
            status_name: s(c.get_status_name())?,
            purge_token: opt(c.get_purge_token())?.filter(|t| !t.is_empty()),
            lock_timeout_ms: c.get_lock_timeout_ms(),
            disk_path: opt(c.get_disk_path())?,
            disk_bytes: c.get_disk_bytes(),
        })
    } else {
        None
    };
    Ok(Config {
        cache,
        services,
        sockets,
        v8_flags: texts(r.get_v8_flags())?,
        structured_logging: r.get_structured_logging() || r.get_logging()?.get_structured_logging(),
        metrics,
        access_log,
        admin,
        server,
    })
}

fn socket_of(r: socket::Reader<'_>, overrides: &Overrides) -> R<Socket> {
    let name = s(r.get_name())?;
    let mut address = opt(r.get_address())?;
    if let Some((_, a)) = overrides.socket_addrs.iter().rev().find(|(n, _)| *n == name) {
        address = Some(a.clone());
    }
    let fd = overrides
        .socket_fds
        .iter()
        .rev()
        .find(|(n, _)| *n == name)
        .map(|(_, fd)| *fd);
    let protocol = match r.which()? {
        socket::Http(h) => SocketProtocol::Http(http(h?)?),
        socket::Https(g) => SocketProtocol::Https {
            options: http(g.get_options()?)?,
            tls: tls(g.get_tls_options()?)?,
        },
        socket::Tcp(_) => SocketProtocol::Tcp,
    };
    let proxy_auth = if r.has_proxy_auth() {
        Some(proxy_auth_of(r.get_proxy_auth()?, &name)?)
    } else {
        None
    };
    let proxy_protocol = if r.has_proxy_protocol() {
        Some(proxy_protocol_of(r.get_proxy_protocol()?)?)
    } else {
        None
    };
    Ok(Socket {
        name,
        address,
        fd,
        protocol,
        service: designator(r.get_service()?)?,
        limits: socket_limits_of(r.get_limits()?),
        proxy_auth,
        proxy_protocol,
        rate_limit: if r.has_rate_limit() {
            Some(rate_limit_of(r.get_rate_limit()?)?)
        } else {
            None
        },
    })
}

fn proxy_auth_of(r: proxy_auth::Reader<'_>, socket: &str) -> R<ProxyAuth> {
    let mut users = Vec::new();
    for u in r.get_users()? {
        users.push(ProxyUser {
            name: s(u.get_name())?,
            password_hash: s(u.get_password_hash())?,
            service: opt(u.get_service())?,
        });
    }
    if let Some(list) = opt(r.get_users_list())? {
        for (i, line) in list.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.splitn(3, ':');
            let (Some(name), Some(hash)) = (parts.next(), parts.next()) else {
                return Err(bad(format!(
                    "socket {socket:?}: proxyAuth.usersList line {}: expected name:hash or name:hash:service",
                    i + 1
                )));
            };
            users.push(ProxyUser {
                name: name.to_string(),
                password_hash: hash.to_string(),
                service: parts.next().filter(|s| !s.is_empty()).map(str::to_string),
            });
        }
    }
    Ok(ProxyAuth {
        realm: s(r.get_realm())?,
        users,
        max_failures_per_minute: r.get_max_failures_per_minute(),
    })
}

fn socket_limits_of(l: socket_limits::Reader<'_>) -> SocketLimits {
    SocketLimits {
        max_request_line_bytes: l.get_max_request_line_bytes(),
        max_header_bytes: l.get_max_header_bytes(),
        max_header_count: l.get_max_header_count(),
        max_body_bytes: l.get_max_body_bytes(),
        header_timeout_ms: l.get_header_timeout_ms(),
        body_timeout_ms: l.get_body_timeout_ms(),
        keepalive_timeout_ms: l.get_keepalive_timeout_ms(),
        max_requests_per_connection: l.get_max_requests_per_connection(),
        tunnel_idle_timeout_ms: l.get_tunnel_idle_timeout_ms(),
        max_header_line_bytes: l.get_max_header_line_bytes(),
        max_connections: l.get_max_connections(),
        send_timeout_ms: l.get_send_timeout_ms(),
        min_body_bytes_per_sec: l.get_min_body_bytes_per_sec(),
    }
}

/// Convert a service designator.
pub fn designator(r: service_designator::Reader<'_>) -> R<ServiceDesignator> {
    Ok(ServiceDesignator {
        name: s(r.get_name())?,
        entrypoint: opt(r.get_entrypoint())?,
        props_json: match r.get_props().which()? {
            service_designator::props::Empty(()) => None,
            service_designator::props::Json(j) => Some(s(j)?),
        },
    })
}

fn headers(l: R<capnp::struct_list::Reader<'_, http_options::header::Owned>>) -> R<Vec<HeaderInjection>> {
    l?.iter()
        .map(|h| {
            Ok(HeaderInjection {
                name: s(h.get_name())?,
                value: if h.has_value() { Some(s(h.get_value())?) } else { None },
            })
        })
        .collect()
}

fn http(r: http_options::Reader<'_>) -> R<HttpOptions> {
    Ok(HttpOptions {
        style: match r.get_style()? {
            http_options::Style::Host => HttpStyle::Host,
            http_options::Style::Proxy => HttpStyle::Proxy,
        },
        forwarded_proto_header: opt(r.get_forwarded_proto_header())?,
        inject_request_headers: headers(r.get_inject_request_headers())?,
        inject_response_headers: headers(r.get_inject_response_headers())?,
        trust_forwarded_headers: r.get_trust_forwarded_headers(),
        compression: if r.has_compression() {
            let c = r.get_compression()?;
            ResponseCompression {
                enabled: c.get_enabled(),
                min_bytes: c.get_min_bytes(),
            }
        } else {
            ResponseCompression::default()
        },
    })
}

fn keypair(r: tls_options::keypair::Reader<'_>) -> R<Keypair> {
    Ok(Keypair {
        private_key: s(r.get_private_key())?,
        certificate_chain: s(r.get_certificate_chain())?,
    })
}

fn tls(r: tls_options::Reader<'_>) -> R<TlsOptions> {
    let mut sni = Vec::new();
    for k in r.get_sni_keypairs()? {
        sni.push(SniKeypair {
            hostnames: texts(k.get_hostnames())?,
            keypair: keypair(k.get_keypair()?)?,
        });
    }
    Ok(TlsOptions {
        keypair: if r.has_keypair() {
            Some(keypair(r.get_keypair()?)?)
        } else {
            None
        },
        require_client_certs: r.get_require_client_certs(),
        trust_browser_cas: r.get_trust_browser_cas(),
        trusted_certificates: texts(r.get_trusted_certificates())?,
        min_version: match r.get_min_version()? {
            tls_options::Version::GoodDefault | tls_options::Version::Tls1Dot2 => TlsVersion::Tls12,
            tls_options::Version::Tls1Dot3 => TlsVersion::Tls13,
            other => return Err(bad(format!("TLS version {other:?} is not supported by isoproxy"))),
        },
        sni_keypairs: sni,
    })
}

fn timeouts(r: upstream_timeouts::Reader<'_>) -> UpstreamTimeouts {
    UpstreamTimeouts {
        connect_ms: r.get_connect_ms(),
        read_ms: r.get_read_ms(),
        total_ms: r.get_total_ms(),
        idle_ms: r.get_idle_ms(),
    }
}

fn service(r: service::Reader<'_>, overrides: &Overrides) -> R<Service> {
    let name = s(r.get_name())?;
    let kind = match r.which()? {
        service::Unspecified(()) => return Err(bad(format!("service {name:?} has no kind"))),
        service::Worker(w) => ServiceKind::Worker(worker_of(w?)?),
        service::Network(n) => ServiceKind::Network(network_of(n?)?),
        service::External(e) => ServiceKind::External(external(e?, &name, overrides)?),
        service::Router(r) => ServiceKind::Router(router_of(r?)?),
        service::Disk(d) => {
            let d = d?;
            ServiceKind::Disk(DiskDirectory {
                path: s(d.get_path())?.into(),
                allow_dotfiles: d.get_allow_dotfiles(),
            })
        }
    };
    Ok(Service { name, kind })
}

fn network_of(r: network::Reader<'_>) -> R<Network> {
    let rules = |l: Vec<String>| -> R<Vec<_>> { l.iter().map(|x| parse_rule(x).map_err(bad)).collect() };
    Ok(Network {
        allow: rules(texts(r.get_allow())?)?,
        deny: rules(texts(r.get_deny())?)?,
        tls: tls(r.get_tls_options()?)?,
        connect_ports: texts(r.get_connect_ports())?
            .iter()
            .map(|p| parse_ports(p).map_err(bad))
            .collect::<R<_>>()?,
        timeouts: timeouts(r.get_timeouts()?),
        allow_names: names(texts(r.get_allow_names())?, opt(r.get_allow_names_list())?),
        deny_names: names(texts(r.get_deny_names())?, opt(r.get_deny_names_list())?),
    })
}

/// Name patterns from a list field and a text of one pattern a line (`#`
/// starts a comment; blank lines are skipped).
fn names(mut listed: Vec<String>, text: Option<String>) -> Vec<String> {
    if let Some(text) = text {
        listed.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    listed
}

fn external(r: external_server::Reader<'_>, name: &str, overrides: &Overrides) -> R<ExternalServer> {
    let mut addresses = Vec::new();
    if let Some(a) = opt(r.get_address())? {
        addresses.push(a);
    }
    addresses.extend(texts(r.get_addresses())?);
    if let Some((_, a)) = overrides.external_addrs.iter().rev().find(|(n, _)| n == name) {
        addresses = vec![a.clone()];
    }
    let protocol = match r.which()? {
        external_server::Http(h) => ExternalProtocol::Http(http(h?)?),
        external_server::Https(g) => ExternalProtocol::Https {
            options: http(g.get_options()?)?,
            tls: tls(g.get_tls_options()?)?,
            certificate_host: opt(g.get_certificate_host())?,
        },
        external_server::Tcp(_) => {
            return Err(bad(format!("service {name:?}: tcp is not supported by isoproxy")));
        }
    };
    Ok(ExternalServer {
        addresses,
        protocol,
        timeouts: timeouts(r.get_timeouts()?),
        unhealthy_ms: r.get_unhealthy_ms(),
        max_concurrent_requests: r.get_max_concurrent_requests(),
        balancing: if r.has_balancing() {
            balancing_of(r.get_balancing()?)?
        } else {
            Balancing::default()
        },
        health_check: if r.has_health_check() {
            Some(health_check_of(r.get_health_check()?)?)
        } else {
            None
        },
        http2: match r.get_http2()? {
            crate::config_capnp::UpstreamHttp2::Off => UpstreamHttp2::Off,
            crate::config_capnp::UpstreamHttp2::Negotiate => UpstreamHttp2::Negotiate,
            crate::config_capnp::UpstreamHttp2::Only => UpstreamHttp2::Only,
        },
    })
}

fn worker_limits_of(l: worker_limits::Reader<'_>) -> WorkerLimits {
    WorkerLimits {
        cpu_ms: l.get_cpu_ms(),
        heap_mb: l.get_heap_mb(),
        subrequests: l.get_subrequests(),
        wall_ms: l.get_wall_ms(),
        startup_ms: l.get_startup_ms(),
        max_concurrent_subrequests: l.get_max_concurrent_subrequests(),
        max_buffered_body_bytes: l.get_max_buffered_body_bytes(),
        wait_until_ms: l.get_wait_until_ms(),
        max_websocket_message_bytes: l.get_max_web_socket_message_bytes(),
    }
}

fn worker_of(r: worker::Reader<'_>) -> R<Worker> {
    let source = match r.which()? {
        worker::Modules(mods) => {
            let mut out = Vec::new();
            for m in mods? {
                use worker::module;
                let kind = match m.which()? {
                    module::EsModule(t) => ModuleKind::EsModule(s(t)?),
                    module::Text(t) => ModuleKind::Text(s(t)?),
                    module::Data(d) => ModuleKind::Data(d?.to_vec()),
                    module::Wasm(d) => ModuleKind::Wasm(d?.to_vec()),
                    module::Json(t) => ModuleKind::Json(s(t)?),
                    module::CommonJsModule(t) => ModuleKind::CommonJs(s(t)?),
                };
                out.push(Module {
                    name: s(m.get_name())?,
                    kind,
                });
            }
            WorkerSource::Modules(out)
        }
        worker::ServiceWorkerScript(t) => WorkerSource::ServiceWorkerScript(s(t)?),
        worker::Inherit(_) => return Err(bad("inherit is not supported by isoproxy".into())),
    };
    let mut bindings = Vec::new();
    for b in r.get_bindings()? {
        use worker::binding;
        let name = s(b.get_name())?;
        let value = match b.which()? {
            binding::Text(t) => BindingValue::Text(s(t)?),
            binding::Data(d) => BindingValue::Data(d?.to_vec()),
            binding::Json(t) => BindingValue::Json(s(t)?),
            binding::WasmModule(d) => BindingValue::WasmModule(d?.to_vec()),
            binding::Service(d) => BindingValue::Service(designator(d?)?),
            binding::FromEnvironment(v) => {
                let variable = s(v)?;
                let value = std::env::var(&variable).ok();
                BindingValue::FromEnvironment { variable, value }
            }
            _ => return Err(bad(format!("binding {name:?}: this kind is not supported by isoproxy"))),
        };
        bindings.push(Binding { name, value });
    }
    Ok(Worker {
        source,
        compatibility_date: s(r.get_compatibility_date())?,
        compatibility_flags: texts(r.get_compatibility_flags())?,
        bindings,
        global_outbound: designator(r.get_global_outbound()?)?,
        limits: worker_limits_of(r.get_limits()?),
    })
}

// ---------------------------------------------------------------------------
// Traffic management (isoproxy additions).

fn proxy_protocol_of(r: proxy_protocol::Reader<'_>) -> R<ProxyProtocol> {
    Ok(ProxyProtocol {
        trusted_sources: texts(r.get_trusted_sources())?
            .iter()
            .map(|x| parse_rule(x).map_err(bad))
            .collect::<R<_>>()?,
        optional: r.get_optional(),
    })
}

fn router_of(r: router::Reader<'_>) -> R<Router> {
    let mut routes = Vec::new();
    for rt in r.get_routes()? {
        let host = opt(rt.get_host())?.filter(|h| h != "*").map(|h| h.to_ascii_lowercase());
        let mut path_prefix = s(rt.get_path_prefix())?;
        if path_prefix.is_empty() {
            path_prefix = "/".into();
        }
        let rewrite_prefix = match opt(rt.get_rewrite_prefix())? {
            Some(p) => Some(p),
            None if rt.get_strip_prefix() => Some(String::new()),
            None => None,
        };
        let name = match opt(rt.get_name())? {
            Some(n) => n,
            None => format!("{}{}", host.as_deref().unwrap_or("*"), path_prefix),
        };
        routes.push(Route {
            host,
            path_prefix,
            service: s(rt.get_service())?,
            rewrite_prefix,
            inject_request_headers: headers(rt.get_inject_request_headers())?,
            inject_response_headers: headers(rt.get_inject_response_headers())?,
            rate_limit: if rt.has_rate_limit() {
                Some(rate_limit_of(rt.get_rate_limit()?)?)
            } else {
                None
            },
            name,
        });
    }
    Ok(Router {
        routes,
        default: opt(r.get_default())?,
    })
}

fn rate_limit_of(r: rate_limit::Reader<'_>) -> R<RateLimit> {
    let rps = r.get_requests_per_second();
    Ok(RateLimit {
        requests_per_second: rps,
        burst: if r.get_burst() == 0 { rps } else { r.get_burst() },
        key: match r.get_key().which()? {
            rate_limit::key::ClientAddress(()) => RateLimitKey::ClientAddress,
            rate_limit::key::Header(h) => RateLimitKey::Header(s(h)?.to_ascii_lowercase()),
            rate_limit::key::All(()) => RateLimitKey::All,
        },
    })
}

fn balancing_of(r: balancing::Reader<'_>) -> R<Balancing> {
    Ok(Balancing {
        policy: match r.get_policy()? {
            balancing::Policy::RoundRobin => BalancingPolicy::RoundRobin,
            balancing::Policy::Random => BalancingPolicy::Random,
            balancing::Policy::ConsistentHash => BalancingPolicy::ConsistentHash,
            balancing::Policy::LeastConnections => BalancingPolicy::LeastConnections,
        },
        hash_key: match r.get_hash_key().which()? {
            balancing::hash_key::ClientAddress(()) => HashKey::ClientAddress,
            balancing::hash_key::Header(h) => HashKey::Header(s(h)?.to_ascii_lowercase()),
            balancing::hash_key::Cookie(c) => HashKey::Cookie(s(c)?),
            balancing::hash_key::Path(()) => HashKey::Path,
        },
        weights: r.get_weights()?.iter().collect(),
        dns_ttl_ms: r.get_dns_ttl_ms(),
        max_failures: r.get_max_failures(),
    })
}

fn health_check_of(r: health_check::Reader<'_>) -> R<HealthCheck> {
    Ok(HealthCheck {
        kind: match r.which()? {
            health_check::Tcp(()) => HealthCheckKind::Tcp,
            health_check::Http(h) => {
                let h = h?;
                HealthCheckKind::Http {
                    path: s(h.get_path())?,
                    host: opt(h.get_host())?,
                    expected_status: h.get_expected_status(),
                }
            }
            health_check::Grpc(service) => HealthCheckKind::Grpc { service: s(service)? },
        },
        interval_ms: r.get_interval_ms(),
        timeout_ms: r.get_timeout_ms(),
        rise: r.get_rise(),
        fall: r.get_fall(),
    })
}
