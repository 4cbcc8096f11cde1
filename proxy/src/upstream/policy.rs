//! Allow/deny rules of a `Network` service: which resolved addresses a
//! request may reach.
//!
//! Rules follow workerd's network filter: the named classes (`public`,
//! `private`, `local`, `network`) match with specificity 0, a CIDR block with
//! its prefix length + 1. An address is allowed when its most specific
//! matching allow rule is strictly more specific than its most specific
//! matching deny rule (a deny of equal specificity wins).
//!
//! An IPv6 address that carries an IPv4 address (mapped `::ffff:0:0/96`,
//! translated `::ffff:0:0:0/96`, compatible `::/96`, NAT64 `64:ff9b::/96`
//! and `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo `2001::/32`) is judged by
//! the IPv4 address(es) it carries: a packet sent to it ends up there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use isoproxy_schema::model::{AddressRule, Network, PortRange};

/// A compiled allow/deny list.
#[derive(Debug, Clone)]
pub struct Policy {
    allow: Vec<AddressRule>,
    deny: Vec<AddressRule>,
    connect_ports: Vec<PortRange>,
}

/// Why an address was refused: the rule that decided, for the 403 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A short description such as `deny 10.0.0.0/8` or `no allow rule matches`.
    pub rule: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rule)
    }
}

impl Policy {
    /// Compile the rules of a Network service.
    pub fn new(net: &Network) -> Policy {
        Policy {
            allow: net.allow.clone(),
            deny: net.deny.clone(),
            connect_ports: net.connect_ports.clone(),
        }
    }

    /// Whether CONNECT may reach `port`.
    pub fn connect_port_allowed(&self, port: u16) -> bool {
        self.connect_ports.iter().any(|r| r.first <= port && port <= r.last)
    }

    /// Decide for one resolved address: the rule that let it through
    /// (`allow public`), or the refusal. Either names the rule, not the
    /// address (a 403 body must not reveal what a name resolved to).
    pub fn check(&self, ip: IpAddr) -> Result<String, Refusal> {
        let carried = match ip {
            IpAddr::V6(v6) => embedded_v4(v6),
            IpAddr::V4(_) => [None, None],
        };
        if carried.iter().all(Option::is_none) {
            return self.check_one(ip);
        }
        let mut allowed = String::new();
        for v4 in carried.into_iter().flatten() {
            allowed = self.check_one(IpAddr::V4(v4))?;
        }
        Ok(allowed)
    }

    fn check_one(&self, ip: IpAddr) -> Result<String, Refusal> {
        let best_allow = best_match(&self.allow, ip);
        let best_deny = best_match(&self.deny, ip);
        match (best_allow, best_deny) {
            (None, _) => Err(Refusal {
                rule: "no allow rule matches".into(),
            }),
            (Some((a, _)), Some((d, rule))) if d >= a => Err(Refusal {
                rule: format!("deny {rule}"),
            }),
            (Some((_, rule)), _) => Ok(format!("allow {rule}")),
        }
    }
}

/// The IPv4 addresses an IPv6 address carries, if it is one of the forms
/// that embed one (Teredo carries two: its server and, obfuscated, its
/// client).
fn embedded_v4(a: Ipv6Addr) -> [Option<Ipv4Addr>; 2] {
    let s = a.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let low = v4(s[6], s[7]);
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        return [Some(low), None]; // mapped ::ffff:a.b.c.d
    }
    if s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0 {
        return [Some(low), None]; // translated ::ffff:0:a.b.c.d (RFC 2765)
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !a.is_loopback() && !a.is_unspecified() {
        return [Some(low), None]; // compatible ::a.b.c.d (deprecated)
    }
    if s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0, 0, 0, 0] || s[2] == 1) {
        return [Some(low), None]; // NAT64, well-known and local-use prefixes
    }
    if s[0] == 0x2002 {
        return [Some(v4(s[1], s[2])), None]; // 6to4
    }
    if s[0] == 0x2001 && s[1] == 0 {
        return [Some(v4(s[2], s[3])), Some(v4(!s[6], !s[7]))]; // Teredo
    }
    [None, None]
}

/// The most specific rule of `rules` that matches `ip`, with its specificity.
fn best_match(rules: &[AddressRule], ip: IpAddr) -> Option<(u32, &AddressRule)> {
    let mut best: Option<(u32, &AddressRule)> = None;
    for rule in rules {
        if let Some(s) = specificity(rule, ip) {
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, rule));
            }
        }
    }
    best
}

fn specificity(rule: &AddressRule, ip: IpAddr) -> Option<u32> {
    let hit = match rule {
        AddressRule::Public => !is_private(ip),
        AddressRule::Private => is_private(ip),
        AddressRule::Local => is_local(ip),
        AddressRule::Network => !is_local(ip),
        AddressRule::Unix | AddressRule::UnixAbstract => false,
        AddressRule::Cidr(net) => {
            let inside = match (net, ip) {
                (IpNet::V4(n), IpAddr::V4(a)) => n.contains(&a),
                (IpNet::V6(n), IpAddr::V6(a)) => n.contains(&a),
                _ => false,
            };
            return inside.then(|| u32::from(net.prefix_len()) + 1);
        }
    };
    hit.then_some(0)
}

/// Reachable only from this machine.
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback(),
    }
}

/// Reserved for private or special use (not publicly routable). A superset
/// of [`is_local`].
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_private_v4(a),
        IpAddr::V6(a) => is_private_v6(a),
    }
}

fn in_v4(a: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (u32::from(a) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn is_private_v4(a: Ipv4Addr) -> bool {
    const BLOCKS: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([100, 64, 0, 0], 10),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 24),
        ([192, 0, 2, 0], 24),
        ([192, 88, 99, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([224, 0, 0, 0], 4),
        ([240, 0, 0, 0], 4),
    ];
    BLOCKS.iter().any(|(net, len)| in_v4(a, *net, *len))
}

fn is_private_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    a.is_unspecified()
        || a.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link local fe80::/10
        || (s[0] & 0xff00) == 0xff00 // multicast ff00::/8
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0)
    // IPv4-compatible
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: Vec<AddressRule>, deny: Vec<AddressRule>) -> Policy {
        Policy::new(&Network {
            allow,
            deny,
            ..Network::default()
        })
    }

    fn cidr(s: &str) -> AddressRule {
        AddressRule::Cidr(s.parse().unwrap())
    }

    #[test]
    fn table() {
        use AddressRule::*;
        let cases: Vec<(Policy, &str, bool)> = vec![
            (policy(vec![Public], vec![]), "8.8.8.8", true),
            (policy(vec![Public], vec![]), "127.0.0.1", false),
            (policy(vec![Public], vec![]), "10.1.2.3", false),
            (policy(vec![Public], vec![]), "192.168.1.1", false),
            (policy(vec![Public], vec![]), "169.254.169.254", false),
            (policy(vec![Public], vec![]), "::1", false),
            (policy(vec![Public], vec![]), "::ffff:127.0.0.1", false),
            (policy(vec![Public], vec![]), "fd00::1", false),
            (policy(vec![Public], vec![]), "fe80::1", false),
            (policy(vec![Public], vec![]), "2606:4700::1111", true),
            (policy(vec![Local], vec![]), "127.0.0.1", true),
            (policy(vec![Local], vec![]), "10.0.0.1", false),
            (policy(vec![Private], vec![]), "10.0.0.1", true),
            (policy(vec![Private], vec![]), "127.0.0.1", true),
            (policy(vec![Network], vec![]), "127.0.0.1", false),
            (policy(vec![Network], vec![]), "10.0.0.1", true),
            (policy(vec![Private], vec![Local]), "127.0.0.1", false),
            (policy(vec![Private], vec![cidr("10.0.0.0/8")]), "10.0.0.1", false),
            (
                policy(vec![cidr("10.1.0.0/16")], vec![cidr("10.0.0.0/8")]),
                "10.1.0.1",
                true,
            ),
            (
                policy(vec![cidr("10.0.0.0/8")], vec![cidr("10.1.0.0/16")]),
                "10.1.0.1",
                false,
            ),
            (
                policy(vec![cidr("10.0.0.0/8")], vec![cidr("10.1.0.0/16")]),
                "10.2.0.1",
                true,
            ),
            (policy(vec![cidr("127.0.0.1/32")], vec![Private]), "127.0.0.1", true),
            (policy(vec![cidr("::1/128")], vec![]), "::1", true),
            (policy(vec![cidr("::1/128")], vec![]), "127.0.0.1", false),
            (
                policy(vec![cidr("10.0.0.0/8")], vec![cidr("10.0.0.0/8")]),
                "10.0.0.1",
                false,
            ),
            (policy(vec![], vec![]), "8.8.8.8", false),
            // IPv6 forms that carry an IPv4 address are judged by it.
            (policy(vec![Public], vec![]), "::ffff:0:7f00:1", false),
            (policy(vec![Public], vec![]), "::ffff:0:808:808", true),
            (policy(vec![Public], vec![]), "64:ff9b::7f00:1", false),
            (policy(vec![Public], vec![]), "64:ff9b::a00:1", false),
            (policy(vec![Public], vec![]), "64:ff9b::808:808", true),
            (policy(vec![Public], vec![]), "64:ff9b:1::7f00:1", false),
            (policy(vec![Public], vec![]), "2002:7f00:1::", false),
            (policy(vec![Public], vec![]), "2002:c0a8:101::1", false),
            (policy(vec![Public], vec![]), "2002:808:808::1", true),
            (policy(vec![Public], vec![]), "::7f00:1", false),
            // Teredo: server 65.54.227.120, client 127.0.0.1 (obfuscated).
            (
                policy(vec![Public], vec![]),
                "2001:0:4136:e378:8000:63bf:80ff:fffe",
                false,
            ),
            // Teredo: server 65.54.227.120, client 8.8.8.8 (obfuscated).
            (
                policy(vec![Public], vec![]),
                "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
                true,
            ),
            (policy(vec![Local], vec![]), "::ffff:127.0.0.1", true),
            (
                policy(vec![Public], vec![cidr("8.8.8.0/24")]),
                "64:ff9b::808:808",
                false,
            ),
        ];
        for (i, (p, ip, want)) in cases.iter().enumerate() {
            let got = p.check(ip.parse().unwrap()).is_ok();
            assert_eq!(got, *want, "case {i}: {ip}");
        }
    }

    #[test]
    fn connect_ports() {
        let p = Policy::new(&Network::default());
        assert!(p.connect_port_allowed(443));
        assert!(!p.connect_port_allowed(80));
    }

    #[test]
    fn refusal_names_rule() {
        let p = policy(vec![AddressRule::Private], vec![cidr("10.0.0.0/8")]);
        let r = p.check("10.0.0.1".parse().unwrap()).unwrap_err();
        assert!(r.rule.contains("10.0.0.0/8"), "{}", r.rule);
        assert!(
            !r.rule.contains("10.0.0.1"),
            "the refusal names the rule, not the address: {}",
            r.rule
        );
    }
}
