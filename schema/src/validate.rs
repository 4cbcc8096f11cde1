//! Validation of a config message before it is converted: every error names
//! the file, line and column (from the source map when the config was text)
//! and the field path, and says what was expected.

use std::collections::HashMap;
use std::path::Path;

use capnp::text;

use crate::config_capnp::{
    balancing, config, external_server, health_check, http_options, network, proxy_protocol, rate_limit, router,
    service, service_designator, socket, tls_options, worker,
};
use crate::error::ConfigError;
use crate::fill::SourceMap;
use crate::rules::{check_address, check_date, parse_ports, parse_rule};
use crate::Overrides;

mod traffic;

type Res = Result<(), ConfigError>;

struct V<'a> {
    path: &'a Path,
    map: Option<&'a SourceMap>,
    overrides: &'a Overrides,
    /// Service name -> its kind.
    services: HashMap<String, Kind>,
}

/// What a service is, as far as references to it care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Worker,
    External,
    Router,
    Other,
}

const UNSUPPORTED: &str = "not supported by isoproxy";

/// Check `r`; the first problem found is returned.
pub fn validate(r: config::Reader<'_>, path: &Path, map: Option<&SourceMap>, overrides: &Overrides) -> Res {
    let mut v = V {
        path,
        map,
        overrides,
        services: HashMap::new(),
    };
    v.config(r)
}

impl V<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> ConfigError {
        let (file, pos) = self
            .map
            .and_then(|m| m.locate(field))
            .unwrap_or_else(|| (self.path.to_path_buf(), Default::default()));
        ConfigError {
            file,
            line: pos.line,
            col: pos.col,
            field_path: field.to_string(),
            message: message.into(),
        }
    }

    /// An error about the command line, not a place in the file.
    fn usage(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.path.to_path_buf(),
            line: 0,
            col: 0,
            field_path: String::new(),
            message: message.into(),
        }
    }

    fn read<T, E: std::fmt::Display>(&self, field: &str, r: Result<T, E>) -> Result<T, ConfigError> {
        r.map_err(|e| self.err(field, format!("malformed message: {e}")))
    }

    fn text(&self, field: &str, r: capnp::Result<text::Reader<'_>>) -> Result<String, ConfigError> {
        let t = self.read(field, r)?;
        t.to_string().map_err(|_| self.err(field, "text is not valid UTF-8"))
    }

    fn texts(&self, field: &str, r: capnp::Result<capnp::text_list::Reader<'_>>) -> Result<Vec<String>, ConfigError> {
        let l = self.read(field, r)?;
        let mut out = Vec::new();
        for (i, t) in l.iter().enumerate() {
            out.push(self.text(&format!("{field}[{i}]"), t)?);
        }
        Ok(out)
    }

    /// Text that must be a JSON document.
    fn json(&self, field: &str, r: capnp::Result<text::Reader<'_>>) -> Res {
        let t = self.text(field, r)?;
        serde_json::from_str::<serde_json::Value>(&t)
            .map(|_| ())
            .map_err(|e| self.err(field, format!("expected JSON: {e}")))
    }

    fn config(&mut self, r: config::Reader<'_>) -> Res {
        // Collect service names first: sockets and bindings refer to them.
        let services = self.read("services", r.get_services())?;
        let mut first_seen: HashMap<String, usize> = HashMap::new();
        for (i, s) in services.iter().enumerate() {
            let p = format!("services[{i}]");
            let name = self.text(&format!("{p}.name"), s.get_name())?;
            if name.is_empty() {
                return Err(self.err(&p, "a service needs a name"));
            }
            if let Some(j) = first_seen.get(&name) {
                return Err(self.err(
                    &format!("{p}.name"),
                    format!("duplicate service name {name:?} (also services[{j}])"),
                ));
            }
            first_seen.insert(name.clone(), i);
            let kind = match s.which() {
                Ok(service::Worker(_)) => Kind::Worker,
                Ok(service::External(_)) => Kind::External,
                Ok(service::Router(_)) => Kind::Router,
                _ => Kind::Other,
            };
            self.services.insert(name, kind);
        }
        for (i, s) in services.iter().enumerate() {
            self.service(&format!("services[{i}]"), s)?;
        }

        let sockets = self.read("sockets", r.get_sockets())?;
        let mut all_socket_names = Vec::new();
        for (i, s) in sockets.iter().enumerate() {
            all_socket_names.push(self.text(&format!("sockets[{i}].name"), s.get_name())?);
        }
        self.overrides_name_known_things(&all_socket_names)?;
        let mut socket_names: HashMap<String, usize> = HashMap::new();
        for (i, s) in sockets.iter().enumerate() {
            let p = format!("sockets[{i}]");
            let name = self.text(&format!("{p}.name"), s.get_name())?;
            if name.is_empty() {
                return Err(self.err(&p, "a socket needs a name"));
            }
            if let Some(j) = socket_names.get(&name) {
                return Err(self.err(
                    &format!("{p}.name"),
                    format!("duplicate socket name {name:?} (also sockets[{j}])"),
                ));
            }
            socket_names.insert(name.clone(), i);
            self.socket(&p, &name, s)?;
        }

        let ext = self.read("extensions", r.get_extensions())?;
        if !ext.is_empty() {
            return Err(self.err("extensions", format!("extensions are {UNSUPPORTED}")));
        }
        if r.has_metrics() {
            let m = self.read("metrics", r.get_metrics())?;
            let a = self.text("metrics.address", m.get_address())?;
            if !a.is_empty() {
                check_address(&a, true).map_err(|e| self.err("metrics.address", e))?;
            }
            let path = self.text("metrics.path", m.get_path())?;
            if !path.starts_with('/') {
                return Err(self.err(
                    "metrics.path",
                    format!("expected a path starting with \"/\", got {path:?}"),
                ));
            }
        }
        if r.has_admin() {
            let a = self.read("admin", r.get_admin())?;
            let addr = self.text("admin.address", a.get_address())?;
            check_address(&addr, true).map_err(|e| self.err("admin.address", e))?;
        }
        if r.has_cache() {
            // isoproxy addition: the HTTP cache (issue 16).
            let c = self.read("cache", r.get_cache())?;
            for (i, name) in self.texts("cache.sockets", c.get_sockets())?.iter().enumerate() {
                if !socket_names.contains_key(name) {
                    return Err(self.err(&format!("cache.sockets[{i}]"), format!("no socket named {name:?}")));
                }
            }
            for (i, h) in self.texts("cache.keyHeaders", c.get_key_headers())?.iter().enumerate() {
                if h.is_empty() || !h.bytes().all(is_token_char) {
                    return Err(self.err(
                        &format!("cache.keyHeaders[{i}]"),
                        format!("expected a header name, got {h:?}"),
                    ));
                }
            }
            if c.get_memory_bytes() == 0 {
                return Err(self.err("cache.memoryBytes", "expected a budget above 0 bytes"));
            }
            self.text("cache.statusName", c.get_status_name())?;
            self.text("cache.purgeToken", c.get_purge_token())?;
            self.text("cache.diskPath", c.get_disk_path())?;
            if c.get_disk_bytes() == 0 {
                return Err(self.err("cache.diskBytes", "expected a budget above 0 bytes"));
            }
        }
        let al = self.read("accessLog", r.get_access_log())?;
        self.read("accessLog.format", al.get_format())?;

        Ok(())
    }

    /// Command-line overrides must name things that exist.
    fn overrides_name_known_things(&self, socket_names: &[String]) -> Res {
        for (name, addr) in &self.overrides.socket_addrs {
            if !socket_names.iter().any(|s| s == name) {
                return Err(self.usage(format!("--socket-addr names unknown socket {name:?}")));
            }
            check_address(addr, true).map_err(|e| self.usage(format!("--socket-addr {name}: {e}")))?;
        }
        for (name, _) in &self.overrides.socket_fds {
            if !socket_names.iter().any(|s| s == name) {
                return Err(self.usage(format!("--socket-fd names unknown socket {name:?}")));
            }
        }
        for (name, addr) in &self.overrides.external_addrs {
            match self.services.get(name) {
                None => return Err(self.usage(format!("--external-addr names unknown service {name:?}"))),
                Some(Kind::Worker | Kind::Router | Kind::Other) => {
                    return Err(self.usage(format!("--external-addr: service {name:?} is not an ExternalServer")))
                }
                Some(Kind::External) => {}
            }
            check_address(addr, false).map_err(|e| self.usage(format!("--external-addr {name}: {e}")))?;
        }
        Ok(())
    }

    fn designator(&self, p: &str, r: capnp::Result<service_designator::Reader<'_>>, what: &str) -> Res {
        let d = self.read(p, r)?;
        let name = self.text(&format!("{p}.name"), d.get_name())?;
        if name.is_empty() {
            return Err(self.err(p, format!("{what} names no service")));
        }
        if !self.services.contains_key(&name) && name != "internet" {
            let mut known: Vec<&str> = self.services.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(self.err(p, format!("unknown service {name:?} (services: {})", known.join(", "))));
        }
        let worker = self.services.get(&name) == Some(&Kind::Worker);
        let entrypoint = self.text(&format!("{p}.entrypoint"), d.get_entrypoint())?;
        if !entrypoint.is_empty() && !worker {
            return Err(self.err(
                &format!("{p}.entrypoint"),
                format!("entrypoint {entrypoint:?} needs a Worker, but service {name:?} is not one"),
            ));
        }
        if let service_designator::props::Json(j) = self.read(&format!("{p}.props"), d.get_props().which())? {
            if !worker {
                return Err(self.err(
                    &format!("{p}.props"),
                    format!("props are given to a Worker, but service {name:?} is not one"),
                ));
            }
            self.json(&format!("{p}.props.json"), j)?;
        }
        Ok(())
    }

    fn socket(&self, p: &str, name: &str, s: socket::Reader<'_>) -> Res {
        let address = self.text(&format!("{p}.address"), s.get_address())?;
        let overridden = self.overrides.socket_addrs.iter().any(|(n, _)| n == name)
            || self.overrides.socket_fds.iter().any(|(n, _)| n == name);
        if !overridden {
            if address.is_empty() {
                return Err(self.err(
                    &format!("{p}.address"),
                    format!("socket {name:?} has no address: expected host:port here, or --socket-addr {name}=ADDR"),
                ));
            }
            check_address(&address, true).map_err(|e| self.err(&format!("{p}.address"), e))?;
        }
        match self.read(p, s.which())? {
            socket::Http(h) => self.http(&format!("{p}.http"), h)?,
            socket::Https(g) => {
                let hp = format!("{p}.https");
                self.http(&format!("{hp}.options"), g.get_options())?;
                let tp = format!("{hp}.tlsOptions");
                let tls = self.read(&tp, g.get_tls_options())?;
                self.tls(&tp, tls)?;
                let sni = self.read(&format!("{tp}.sniKeypairs"), tls.get_sni_keypairs())?;
                if !tls.has_keypair() && sni.is_empty() {
                    return Err(self.err(
                        &format!("{tp}.keypair"),
                        format!("https socket {name:?} needs a keypair (privateKey and certificateChain)"),
                    ));
                }
            }
            socket::Tcp(g) => {
                if g.has_tls_options() {
                    return Err(self.err(
                        &format!("{p}.tcp.tlsOptions"),
                        format!("TLS on tcp sockets is {UNSUPPORTED}"),
                    ));
                }
                // Each connection goes to a Worker's connect handler.
                let service = self.read(&format!("{p}.service"), s.get_service())?;
                let target = self.text(&format!("{p}.service.name"), service.get_name())?;
                if self.services.get(&target) != Some(&Kind::Worker) {
                    return Err(self.err(
                        &format!("{p}.service"),
                        format!("a tcp socket hands its connections to a Worker's connect handler, but service {target:?} is not a Worker"),
                    ));
                }
            }
        }
        let limits = self.read(&format!("{p}.limits"), s.get_limits())?;
        // A zero here would not mean "no limit": it would close every
        // connection at its first write.
        if limits.get_send_timeout_ms() == 0 {
            return Err(self.err(
                &format!("{p}.limits.sendTimeoutMs"),
                "expected at least 1 (milliseconds)",
            ));
        }
        if s.has_rate_limit() {
            let rp = format!("{p}.rateLimit");
            self.rate_limit(&rp, self.read(&rp, s.get_rate_limit())?)?;
        }
        if s.has_proxy_protocol() {
            let pp = format!("{p}.proxyProtocol");
            self.proxy_protocol(&pp, self.read(&pp, s.get_proxy_protocol())?)?;
        }
        if !s.has_service() {
            return Err(self.err(
                p,
                format!("socket {name:?} has no service: expected service = \"NAME\""),
            ));
        }
        self.designator(&format!("{p}.service"), s.get_service(), &format!("socket {name:?}"))
    }

    fn http(&self, p: &str, r: capnp::Result<http_options::Reader<'_>>) -> Res {
        let h = self.read(p, r)?;
        self.read(&format!("{p}.style"), h.get_style())?;
        if !self
            .text(&format!("{p}.cfBlobHeader"), h.get_cf_blob_header())?
            .is_empty()
        {
            return Err(self.err(&format!("{p}.cfBlobHeader"), format!("cfBlobHeader is {UNSUPPORTED}")));
        }
        if !self
            .text(&format!("{p}.capnpConnectHost"), h.get_capnp_connect_host())?
            .is_empty()
        {
            return Err(self.err(
                &format!("{p}.capnpConnectHost"),
                format!("capnpConnectHost is {UNSUPPORTED}"),
            ));
        }
        for (list, r) in [
            ("injectRequestHeaders", h.get_inject_request_headers()),
            ("injectResponseHeaders", h.get_inject_response_headers()),
        ] {
            let lp = format!("{p}.{list}");
            for (i, hd) in self.read(&lp, r)?.iter().enumerate() {
                let hp = format!("{lp}[{i}]");
                let name = self.text(&format!("{hp}.name"), hd.get_name())?;
                if name.is_empty() || !name.bytes().all(is_token_char) {
                    return Err(self.err(&format!("{hp}.name"), format!("expected a header name, got {name:?}")));
                }
                let value = self.text(&format!("{hp}.value"), hd.get_value())?;
                if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                    return Err(self.err(&format!("{hp}.value"), "a header value must not contain CR, LF or NUL"));
                }
            }
        }
        Ok(())
    }

    fn tls(&self, p: &str, t: tls_options::Reader<'_>) -> Res {
        use tls_options::Version;
        let bad_version = match self.read(&format!("{p}.minVersion"), t.get_min_version())? {
            Version::Ssl3 => Some("ssl3"),
            Version::Tls1Dot0 => Some("tls1Dot0"),
            Version::Tls1Dot1 => Some("tls1Dot1"),
            Version::GoodDefault | Version::Tls1Dot2 | Version::Tls1Dot3 => None,
        };
        if let Some(name) = bad_version {
            return Err(self.err(
                &format!("{p}.minVersion"),
                format!("{name} is {UNSUPPORTED}: expected goodDefault, tls1Dot2 or tls1Dot3"),
            ));
        }
        if !self.text(&format!("{p}.cipherList"), t.get_cipher_list())?.is_empty() {
            return Err(self.err(
                &format!("{p}.cipherList"),
                format!("cipherList is {UNSUPPORTED} (rustls uses its own safe list): leave it empty"),
            ));
        }
        if t.has_keypair() {
            self.keypair(&format!("{p}.keypair"), t.get_keypair())?;
        }
        for (i, k) in self
            .read(&format!("{p}.sniKeypairs"), t.get_sni_keypairs())?
            .iter()
            .enumerate()
        {
            let kp = format!("{p}.sniKeypairs[{i}]");
            if self.texts(&format!("{kp}.hostnames"), k.get_hostnames())?.is_empty() {
                return Err(self.err(&format!("{kp}.hostnames"), "expected at least one host name"));
            }
            self.keypair(&format!("{kp}.keypair"), k.get_keypair())?;
        }
        self.texts(&format!("{p}.trustedCertificates"), t.get_trusted_certificates())?;
        Ok(())
    }

    fn keypair(&self, p: &str, r: capnp::Result<tls_options::keypair::Reader<'_>>) -> Res {
        let k = self.read(p, r)?;
        if self.text(&format!("{p}.privateKey"), k.get_private_key())?.is_empty() {
            return Err(self.err(&format!("{p}.privateKey"), "expected a PEM private key"));
        }
        if self
            .text(&format!("{p}.certificateChain"), k.get_certificate_chain())?
            .is_empty()
        {
            return Err(self.err(&format!("{p}.certificateChain"), "expected a PEM certificate chain"));
        }
        Ok(())
    }

    fn service(&self, p: &str, s: service::Reader<'_>) -> Res {
        let name = self.text(&format!("{p}.name"), s.get_name())?;
        match self.read(p, s.which())? {
            service::Unspecified(()) => Err(self.err(
                p,
                format!("service {name:?} has no kind: expected worker, network, external or disk"),
            )),
            service::Worker(w) => self.worker(&format!("{p}.worker"), self.read(p, w)?),
            service::Network(n) => self.network(&format!("{p}.network"), self.read(p, n)?),
            service::External(e) => self.external(&format!("{p}.external"), &name, self.read(p, e)?),
            service::Router(r) => self.router(&format!("{p}.router"), &name, self.read(p, r)?),
            service::Disk(d) => {
                let dp = format!("{p}.disk");
                let d = self.read(&dp, d)?;
                if self.text(&format!("{dp}.path"), d.get_path())?.is_empty() {
                    return Err(self.err(&format!("{dp}.path"), "expected a directory path"));
                }
                if d.get_writable() {
                    return Err(self.err(
                        &format!("{dp}.writable"),
                        format!("writable disk services are {UNSUPPORTED}"),
                    ));
                }
                Ok(())
            }
        }
    }

    fn network(&self, p: &str, n: network::Reader<'_>) -> Res {
        for list in ["allow", "deny"] {
            let lp = format!("{p}.{list}");
            let rules = if list == "allow" { n.get_allow() } else { n.get_deny() };
            for (i, rule) in self.texts(&lp, rules)?.iter().enumerate() {
                parse_rule(rule).map_err(|e| self.err(&format!("{lp}[{i}]"), e))?;
            }
        }
        let cp = format!("{p}.connectPorts");
        for (i, ports) in self.texts(&cp, n.get_connect_ports())?.iter().enumerate() {
            parse_ports(ports).map_err(|e| self.err(&format!("{cp}[{i}]"), e))?;
        }
        let tp = format!("{p}.tlsOptions");
        self.tls(&tp, self.read(&tp, n.get_tls_options())?)
    }

    fn external(&self, p: &str, name: &str, e: external_server::Reader<'_>) -> Res {
        let ap = format!("{p}.address");
        let address = self.text(&ap, e.get_address())?;
        let pool = self.texts(&format!("{p}.addresses"), e.get_addresses())?;
        let overridden = self.overrides.external_addrs.iter().any(|(n, _)| n == name);
        if !address.is_empty() {
            check_address(&address, false).map_err(|m| self.err(&ap, m))?;
        }
        for (i, a) in pool.iter().enumerate() {
            check_address(a, false).map_err(|m| self.err(&format!("{p}.addresses[{i}]"), m))?;
        }
        if address.is_empty() && pool.is_empty() && !overridden {
            return Err(self.err(
                &ap,
                format!("service {name:?} has no address: expected host:port here, or --external-addr {name}=ADDR"),
            ));
        }
        if e.has_balancing() {
            let bp = format!("{p}.balancing");
            let b = self.read(&bp, e.get_balancing())?;
            self.read(&format!("{bp}.policy"), b.get_policy())?;
            let weights = self.read(&format!("{bp}.weights"), b.get_weights())?;
            let origins = pool.len() + usize::from(!address.is_empty());
            if weights.len() as usize > origins {
                return Err(self.err(
                    &format!("{bp}.weights"),
                    format!(
                        "{} weights for {origins} origin(s): expected at most one per origin",
                        weights.len()
                    ),
                ));
            }
            match self.read(&format!("{bp}.hashKey"), b.get_hash_key().which())? {
                balancing::hash_key::Header(h) => {
                    let h = self.text(&format!("{bp}.hashKey.header"), h)?;
                    if h.is_empty() || !h.bytes().all(is_token_char) {
                        return Err(self.err(
                            &format!("{bp}.hashKey.header"),
                            format!("expected a header name, got {h:?}"),
                        ));
                    }
                }
                balancing::hash_key::Cookie(c) => {
                    let c = self.text(&format!("{bp}.hashKey.cookie"), c)?;
                    if c.is_empty() || !c.bytes().all(is_token_char) {
                        return Err(self.err(
                            &format!("{bp}.hashKey.cookie"),
                            format!("expected a cookie name, got {c:?}"),
                        ));
                    }
                }
                _ => {}
            }
        }
        if e.has_health_check() {
            let hp = format!("{p}.healthCheck");
            let h = self.read(&hp, e.get_health_check())?;
            for (field, v) in [
                ("intervalMs", h.get_interval_ms()),
                ("timeoutMs", h.get_timeout_ms()),
                ("rise", h.get_rise()),
                ("fall", h.get_fall()),
            ] {
                if v == 0 {
                    return Err(self.err(&format!("{hp}.{field}"), "expected at least 1"));
                }
            }
            if let health_check::Http(c) = self.read(&hp, h.which())? {
                let c = self.read(&format!("{hp}.http"), c)?;
                let path = self.text(&format!("{hp}.http.path"), c.get_path())?;
                if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b >= 0x7f) {
                    return Err(self.err(
                        &format!("{hp}.http.path"),
                        format!("expected a path starting with \"/\", got {path:?}"),
                    ));
                }
                let host = self.text(&format!("{hp}.http.host"), c.get_host())?;
                if host.bytes().any(|b| b <= b' ' || b >= 0x7f) {
                    return Err(self.err(
                        &format!("{hp}.http.host"),
                        format!("expected a host name, got {host:?}"),
                    ));
                }
                if !(100..=599).contains(&c.get_expected_status()) {
                    return Err(self.err(
                        &format!("{hp}.http.expectedStatus"),
                        "expected a status from 100 to 599",
                    ));
                }
            }
        }
        match self.read(p, e.which())? {
            external_server::Http(h) => self.http(&format!("{p}.http"), h),
            external_server::Https(g) => {
                let hp = format!("{p}.https");
                self.http(&format!("{hp}.options"), g.get_options())?;
                let tp = format!("{hp}.tlsOptions");
                self.tls(&tp, self.read(&tp, g.get_tls_options())?)?;
                self.text(&format!("{hp}.certificateHost"), g.get_certificate_host())?;
                Ok(())
            }
            external_server::Tcp(_) => Err(self.err(&format!("{p}.tcp"), format!("tcp is {UNSUPPORTED}"))),
        }
    }

    fn worker(&self, p: &str, w: worker::Reader<'_>) -> Res {
        match self.read(p, w.which())? {
            worker::Modules(mods) => {
                let mp = format!("{p}.modules");
                let mods = self.read(&mp, mods)?;
                if mods.is_empty() {
                    return Err(self.err(&mp, "expected at least one module (the first is the main module)"));
                }
                let mut names: HashMap<String, usize> = HashMap::new();
                for (i, m) in mods.iter().enumerate() {
                    let ip = format!("{mp}[{i}]");
                    let name = self.text(&format!("{ip}.name"), m.get_name())?;
                    if name.is_empty() {
                        return Err(self.err(&ip, "a module needs a name"));
                    }
                    if let Some(j) = names.get(&name) {
                        return Err(self.err(
                            &format!("{ip}.name"),
                            format!("duplicate module name {name:?} (also modules[{j}])"),
                        ));
                    }
                    names.insert(name, i);
                    use worker::module;
                    match self.read(&ip, m.which())? {
                        module::EsModule(t) => {
                            self.text(&format!("{ip}.esModule"), t)?;
                        }
                        _ if i == 0 => {
                            return Err(self.err(&ip, "the first module is the main module and must be an esModule"))
                        }
                        module::Text(t) => {
                            self.text(&ip, t)?;
                        }
                        module::Json(t) => self.json(&format!("{ip}.json"), t)?,
                        module::CommonJsModule(t) => {
                            self.text(&format!("{ip}.commonJsModule"), t)?;
                        }
                        module::Data(d) | module::Wasm(d) => {
                            self.read(&ip, d)?;
                        }
                    }
                }
            }
            worker::ServiceWorkerScript(t) => {
                self.text(&format!("{p}.serviceWorkerScript"), t)?;
            }
            worker::Inherit(_) => return Err(self.err(&format!("{p}.inherit"), format!("inherit is {UNSUPPORTED}"))),
        }
        let dp = format!("{p}.compatibilityDate");
        let date = self.text(&dp, w.get_compatibility_date())?;
        if date.is_empty() {
            return Err(self.err(&dp, "a Worker needs a compatibilityDate: expected \"YYYY-MM-DD\""));
        }
        check_date(&date).map_err(|e| self.err(&dp, e))?;
        self.texts(&format!("{p}.compatibilityFlags"), w.get_compatibility_flags())?;

        let bp = format!("{p}.bindings");
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, b) in self.read(&bp, w.get_bindings())?.iter().enumerate() {
            let ip = format!("{bp}[{i}]");
            let name = self.text(&format!("{ip}.name"), b.get_name())?;
            if name.is_empty() {
                return Err(self.err(&ip, "a binding needs a name"));
            }
            if let Some(j) = names.get(&name) {
                return Err(self.err(
                    &format!("{ip}.name"),
                    format!("duplicate binding name {name:?} (also bindings[{j}])"),
                ));
            }
            names.insert(name.clone(), i);
            use worker::binding;
            let unsupported = |member: &str| {
                Err(self.err(
                    &format!("{ip}.{member}"),
                    format!("{member} bindings are {UNSUPPORTED}"),
                ))
            };
            match self.read(&ip, b.which())? {
                binding::Unspecified(()) => {
                    return Err(self.err(
                        &ip,
                        format!("binding {name:?} has no value: expected text, data, json, wasmModule, service or fromEnvironment"),
                    ))
                }
                binding::Parameter(_) => return unsupported("parameter"),
                binding::CryptoKey(_) => return unsupported("cryptoKey"),
                binding::DurableObjectNamespace(_) => return unsupported("durableObjectNamespace"),
                binding::KvNamespace(_) => return unsupported("kvNamespace"),
                binding::R2Bucket(_) => return unsupported("r2Bucket"),
                binding::Obsolete0(_) => return unsupported("obsolete0"),
                binding::Wrapped(_) => return unsupported("wrapped"),
                binding::Queue(_) => return unsupported("queue"),
                binding::Service(d) => {
                    let d = self.read(&format!("{ip}.service"), d)?;
                    self.designator(&format!("{ip}.service"), Ok(d), &format!("binding {name:?}"))?;
                    self.not_router(&format!("{ip}.service"), Ok(d))?;
                }
                binding::Text(t) | binding::FromEnvironment(t) => {
                    self.text(&ip, t)?;
                }
                binding::Json(t) => self.json(&format!("{ip}.json"), t)?,
                binding::Data(d) | binding::WasmModule(d) => {
                    self.read(&ip, d)?;
                }
            }
        }
        self.designator(
            &format!("{p}.globalOutbound"),
            w.get_global_outbound(),
            "globalOutbound",
        )?;
        self.not_router(&format!("{p}.globalOutbound"), w.get_global_outbound())?;
        self.read(&format!("{p}.limits"), w.get_limits())?;
        if w.has_cache_api_outbound() {
            // Accepted for workerd configs; the built-in store serves the Cache API.
            self.designator(
                &format!("{p}.cacheApiOutbound"),
                w.get_cache_api_outbound(),
                "cacheApiOutbound",
            )?;
        }
        Ok(())
    }
}

/// RFC 9110 token characters (header names).
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
