//! Parsing the small string languages inside a config: listen and origin
//! addresses (`host:port`, `*:port`, `[v6]:port`), allow/deny rules
//! (`public`, CIDRs) and CONNECT port lists (`443`, `8000-8999`, `*`).

use crate::model::{AddressRule, PortRange};

/// Check a `host:port` address; `listen` also allows `*` as the host.
/// Returns what was wrong.
pub fn check_address(s: &str, listen: bool) -> Result<(), String> {
    let bad = || {
        if listen {
            format!("expected host:port, *:port or [v6]:port, got {s:?}")
        } else {
            format!("expected host:port or [v6]:port, got {s:?}")
        }
    };
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (v6, port) = rest.split_once("]:").ok_or_else(bad)?;
        v6.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        (v6, port)
    } else {
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        if host.contains(':') {
            return Err(bad());
        }
        (host, port)
    };
    if host.is_empty() || (host == "*" && !listen) {
        return Err(bad());
    }
    if host != "*"
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return Err(bad());
    }
    if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok(())
}

/// Parse one allow/deny rule.
pub fn parse_rule(s: &str) -> Result<AddressRule, String> {
    Ok(match s {
        "public" => AddressRule::Public,
        "private" => AddressRule::Private,
        "local" => AddressRule::Local,
        "network" => AddressRule::Network,
        "unix" => AddressRule::Unix,
        "unix-abstract" => AddressRule::UnixAbstract,
        _ => {
            if let Ok(net) = s.parse::<ipnet::IpNet>() {
                AddressRule::Cidr(net)
            } else if let Ok(ip) = s.parse::<std::net::IpAddr>() {
                AddressRule::Cidr(ipnet::IpNet::from(ip))
            } else {
                return Err(format!(
                    "expected public, private, local, network, unix, unix-abstract or a CIDR such as \"10.0.0.0/8\", got {s:?}"
                ));
            }
        }
    })
}

/// Parse one CONNECT port entry.
pub fn parse_ports(s: &str) -> Result<PortRange, String> {
    let bad = || format!("expected a port, a range \"first-last\" or \"*\", got {s:?}");
    let port = |p: &str| -> Result<u16, String> {
        let p = p.trim();
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad()),
            Ok(v) => Ok(v),
        }
    };
    if s.trim() == "*" {
        return Ok(PortRange { first: 1, last: 65535 });
    }
    match s.split_once('-') {
        Some((a, b)) => {
            let (first, last) = (port(a)?, port(b)?);
            if first > last {
                return Err(format!("port range {s:?} is empty: {first} is above {last}"));
            }
            Ok(PortRange { first, last })
        }
        None => {
            let p = port(s)?;
            Ok(PortRange { first: p, last: p })
        }
    }
}

/// Check a `YYYY-MM-DD` date.
pub fn check_date(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && matches!(s[5..7].parse::<u32>(), Ok(1..=12))
        && matches!(s[8..10].parse::<u32>(), Ok(1..=31));
    if ok {
        Ok(())
    } else {
        Err(format!("expected a date YYYY-MM-DD, got {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in ["127.0.0.1:80", "example.com:443", "[::1]:8080", "localhost:1"] {
            assert!(check_address(ok, false).is_ok(), "{ok}");
        }
        assert!(check_address("*:8080", true).is_ok());
        for bad in [
            "nope",
            "*:80",
            ":80",
            "host:",
            "host:99999",
            "::1:80",
            "[zz]:80",
            "a b:80",
            "host:8x",
        ] {
            assert!(check_address(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules() {
        assert_eq!(parse_rule("public"), Ok(AddressRule::Public));
        assert!(matches!(parse_rule("10.0.0.0/8"), Ok(AddressRule::Cidr(_))));
        assert!(matches!(parse_rule("::1"), Ok(AddressRule::Cidr(_))));
        assert!(parse_rule("10.0.0.0/99").is_err());
        assert!(parse_rule("publik").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(parse_ports("443"), Ok(PortRange { first: 443, last: 443 }));
        assert_eq!(
            parse_ports("8000-8999"),
            Ok(PortRange {
                first: 8000,
                last: 8999
            })
        );
        assert_eq!(parse_ports("*"), Ok(PortRange { first: 1, last: 65535 }));
        for bad in ["0", "70000", "9-1", "x", "", "1-"] {
            assert!(parse_ports(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert!(check_date("2024-09-01").is_ok());
        for bad in ["2024-9-01", "2024-13-01", "yesterday", "2024-09-32", "2024-09-01x"] {
            assert!(check_date(bad).is_err(), "{bad}");
        }
    }
}
