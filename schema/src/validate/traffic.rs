//! Validation of the traffic-management additions (routers, rate limits,
//! PROXY protocol), as methods of the validator.

use super::*;

impl V<'_> {
    pub(super) fn not_router(&self, p: &str, r: capnp::Result<service_designator::Reader<'_>>) -> Res {
        let name = self.text(&format!("{p}.name"), self.read(p, r)?.get_name())?;
        if self.services.get(&name) == Some(&Kind::Router) {
            return Err(self.err(
                p,
                format!("service {name:?} is a router: a router can only be a socket's service"),
            ));
        }
        Ok(())
    }

    pub(super) fn router(&self, p: &str, name: &str, r: router::Reader<'_>) -> Res {
        let rp = format!("{p}.routes");
        let routes = self.read(&rp, r.get_routes())?;
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        for (i, rt) in routes.iter().enumerate() {
            let ip = format!("{rp}[{i}]");
            let target = self.text(&format!("{ip}.service"), rt.get_service())?;
            self.routed_service(&format!("{ip}.service"), name, &target)?;
            let host = self.text(&format!("{ip}.host"), rt.get_host())?.to_ascii_lowercase();
            let host_ok =
                host.is_empty()
                    || host == "*"
                    || host.strip_prefix("*.").unwrap_or(&host).split('.').all(|l| {
                        !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    });
            if !host_ok {
                return Err(self.err(
                    &format!("{ip}.host"),
                    format!("expected a host name such as \"api.example.com\" or \"*.example.com\", got {host:?}"),
                ));
            }
            let prefix = self.text(&format!("{ip}.pathPrefix"), rt.get_path_prefix())?;
            let prefix = if prefix.is_empty() { "/".to_string() } else { prefix };
            let rewrite = self.text(&format!("{ip}.rewritePrefix"), rt.get_rewrite_prefix())?;
            for (field, v) in [("pathPrefix", &prefix), ("rewritePrefix", &rewrite)] {
                let bad = (field == "pathPrefix" || !v.is_empty()) && !v.starts_with('/')
                    || v.bytes().any(|b| b <= b' ' || b == b'?' || b == b'#' || b >= 0x7f);
                if bad {
                    return Err(self.err(
                        &format!("{ip}.{field}"),
                        format!("expected a path starting with \"/\" (no spaces, \"?\" or \"#\"), got {v:?}"),
                    ));
                }
            }
            let key = (
                host.trim_start_matches('*').to_string() + if host.starts_with('*') { "*" } else { "" },
                prefix.trim_end_matches('/').to_string(),
            );
            if let Some(j) = seen.insert(key, i) {
                return Err(self.err(&ip, format!("same host and path prefix as {rp}[{j}]")));
            }
            for (list, l) in [
                ("injectRequestHeaders", rt.get_inject_request_headers()),
                ("injectResponseHeaders", rt.get_inject_response_headers()),
            ] {
                let lp = format!("{ip}.{list}");
                for (k, hd) in self.read(&lp, l)?.iter().enumerate() {
                    let hp = format!("{lp}[{k}]");
                    let hname = self.text(&format!("{hp}.name"), hd.get_name())?;
                    if hname.is_empty() || !hname.bytes().all(is_token_char) {
                        return Err(self.err(&format!("{hp}.name"), format!("expected a header name, got {hname:?}")));
                    }
                    let value = self.text(&format!("{hp}.value"), hd.get_value())?;
                    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                        return Err(self.err(&format!("{hp}.value"), "a header value must not contain CR, LF or NUL"));
                    }
                }
            }
            if rt.has_rate_limit() {
                let lp = format!("{ip}.rateLimit");
                self.rate_limit(&lp, self.read(&lp, rt.get_rate_limit())?)?;
            }
        }
        let default = self.text(&format!("{p}.default"), r.get_default())?;
        if !default.is_empty() {
            self.routed_service(&format!("{p}.default"), name, &default)?;
        }
        Ok(())
    }

    /// A service a router sends requests to: known, and not a router.
    pub(super) fn routed_service(&self, p: &str, router: &str, target: &str) -> Res {
        match self.services.get(target) {
            None if target != "internet" => {
                let mut known: Vec<&str> = self.services.keys().map(String::as_str).collect();
                known.sort_unstable();
                Err(self.err(
                    p,
                    format!("unknown service {target:?} (services: {})", known.join(", ")),
                ))
            }
            Some(Kind::Router) => Err(self.err(
                p,
                format!("router {router:?} cannot send to router {target:?} (routers do not nest)"),
            )),
            _ => Ok(()),
        }
    }

    pub(super) fn rate_limit(&self, p: &str, r: rate_limit::Reader<'_>) -> Res {
        let rps = r.get_requests_per_second();
        if rps == 0 {
            return Err(self.err(
                &format!("{p}.requestsPerSecond"),
                "expected at least 1 request per second",
            ));
        }
        if r.get_burst() != 0 && r.get_burst() < rps {
            return Err(self.err(
                &format!("{p}.burst"),
                format!("expected at least requestsPerSecond ({rps}), or 0 for the same"),
            ));
        }
        if let rate_limit::key::Header(h) = self.read(&format!("{p}.key"), r.get_key().which())? {
            let h = self.text(&format!("{p}.key.header"), h)?;
            if h.is_empty() || !h.bytes().all(is_token_char) {
                return Err(self.err(&format!("{p}.key.header"), format!("expected a header name, got {h:?}")));
            }
        }
        Ok(())
    }

    pub(super) fn proxy_protocol(&self, p: &str, r: proxy_protocol::Reader<'_>) -> Res {
        let tp = format!("{p}.trustedSources");
        let sources = self.texts(&tp, r.get_trusted_sources())?;
        if sources.is_empty() {
            return Err(self.err(
                &tp,
                "expected at least one trusted source (a CIDR such as \"10.0.0.0/8\", or private, local, public)",
            ));
        }
        for (i, rule) in sources.iter().enumerate() {
            match parse_rule(rule) {
                Ok(crate::model::AddressRule::Unix | crate::model::AddressRule::UnixAbstract) => {
                    return Err(self.err(
                        &format!("{tp}[{i}]"),
                        "expected a CIDR or private, local, public, network",
                    ))
                }
                Ok(_) => {}
                Err(e) => return Err(self.err(&format!("{tp}[{i}]"), e)),
            }
        }
        Ok(())
    }
}
