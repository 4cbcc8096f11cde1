//! Host-name rules of a `Network` service (`allowNames`, `denyNames` and
//! their lists): which names a forward-proxy request or a Worker's
//! `fetch()` may reach, checked before the name is resolved. The address
//! rules (`policy.rs`) still judge every address the name resolves to.
//!
//! A pattern is an exact name (`api.example.com`) or every subdomain of a
//! name (`*.example.com`). Names and patterns are compared in one canonical
//! form: IDNA to ASCII (UTS #46, which also lower-cases), without a trailing
//! dot. A lookup costs one hash probe for the exact name and one per
//! parent name, so a list of 100,000 names is as fast as a list of ten.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::upstream::policy::Refusal;

/// A host as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IP literal (`10.0.0.1`, `[::1]`): no name to match.
    Ip(IpAddr),
    /// A name in canonical form.
    Name(String),
}

/// Put a host of a request into canonical form; `None` for something that
/// is not a valid host name.
pub fn canonical(host: &str) -> Option<Host> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(Host::Ip(ip));
    }
    let bare = bare.strip_suffix('.').unwrap_or(bare);
    if bare.is_empty() || bare.ends_with('.') {
        return None;
    }
    let ascii = idna::domain_to_ascii(bare).ok()?;
    // Letters, digits, hyphens and (as real hosts have them) underscores,
    // in non-empty labels.
    let ok = |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ascii.split('.').all(ok) {
        return None;
    }
    Some(Host::Name(ascii))
}

/// One list of patterns: exact names and `*.` suffixes, by canonical name,
/// each with the pattern as written (to name it in a refusal) when that
/// differs from the canonical form. Lists run to hundreds of thousands of
/// names, so an entry is two boxed strings at most, usually one.
#[derive(Debug, Default)]
struct NameSet {
    exact: HashMap<Box<str>, Option<Box<str>>>,
    subdomains: HashMap<Box<str>, Option<Box<str>>>,
}

/// A pattern that matched, shown as it was written.
struct Matched<'a> {
    name: &'a str,
    written: Option<&'a str>,
    subdomains: bool,
}

impl std::fmt::Display for Matched<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.written {
            Some(w) => f.write_str(w),
            None if self.subdomains => write!(f, "*.{}", self.name),
            None => f.write_str(self.name),
        }
    }
}

impl NameSet {
    fn new(patterns: &[String], list: &str) -> Result<NameSet, String> {
        let mut set = NameSet::default();
        for p in patterns {
            let (suffix, rest) = match p.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, p.as_str()),
            };
            let Some(Host::Name(name)) = canonical(rest) else {
                return Err(format!("{list}: {p:?} is not a host name or \"*.\" followed by one"));
            };
            let map = if suffix { &mut set.subdomains } else { &mut set.exact };
            let written = (name != rest).then(|| p.as_str().into());
            map.entry(name.into()).or_insert(written);
        }
        set.exact.shrink_to_fit();
        set.subdomains.shrink_to_fit();
        Ok(set)
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.subdomains.is_empty()
    }

    /// The most specific pattern matching `name`, with its specificity:
    /// an exact match beats a `*.` match of the same name's parent, and a
    /// longer suffix beats a shorter one.
    fn best<'a>(&'a self, name: &str) -> Option<(usize, Matched<'a>)> {
        let labels = name.split('.').count();
        if let Some((k, w)) = self.exact.get_key_value(name) {
            let m = Matched {
                name: k,
                written: w.as_deref(),
                subdomains: false,
            };
            return Some((2 * labels + 1, m));
        }
        // Parents, longest first: b.example.com, example.com, com.
        let mut rest = name;
        let mut left = labels;
        while let Some(dot) = rest.find('.') {
            rest = &rest[dot + 1..];
            left -= 1;
            if let Some((k, w)) = self.subdomains.get_key_value(rest) {
                let m = Matched {
                    name: k,
                    written: w.as_deref(),
                    subdomains: true,
                };
                return Some((2 * left, m));
            }
        }
        None
    }
}

/// The compiled name rules of one Network.
#[derive(Debug, Default)]
pub struct NameRules {
    allow: NameSet,
    deny: NameSet,
}

impl NameRules {
    /// Compile the patterns; an invalid one is a config error naming it.
    pub fn new(allow: &[String], deny: &[String]) -> Result<NameRules, String> {
        Ok(NameRules {
            allow: NameSet::new(allow, "allowNames")?,
            deny: NameSet::new(deny, "denyNames")?,
        })
    }

    /// Whether any name rule is configured.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Decide for a host as the client gave it (the tests' entry; the
    /// request path canonicalises once and calls `check_canonical`).
    #[cfg(test)]
    fn check(&self, host: &str) -> Result<(), Refusal> {
        if self.is_empty() {
            return Ok(());
        }
        self.check_canonical(canonical(host).as_ref()).map(|_| ())
    }

    /// Decide for a host already put in canonical form (`None`: not a
    /// valid host name): the allowed-name pattern that let it through
    /// (`allow name *.github.com`; `None` when no allow list applies), or
    /// the refusal.
    pub fn check_canonical(&self, host: Option<&Host>) -> Result<Option<String>, Refusal> {
        if self.is_empty() {
            return Ok(None);
        }
        let refuse = |rule: String| Err(Refusal { rule });
        let name = match host {
            None => return refuse("not a valid host name".into()),
            Some(Host::Ip(_)) if self.allow.is_empty() => return Ok(None),
            Some(Host::Ip(_)) => return refuse("an IP address matches no allowed name".into()),
            Some(Host::Name(n)) => n.as_str(),
        };
        let allow = self.allow.best(name);
        let deny = self.deny.best(name);
        match (allow, deny) {
            (Some((a, _)), Some((d, p))) if d >= a => refuse(format!("deny name {p}")),
            (None, Some((_, p))) => refuse(format!("deny name {p}")),
            (None, None) if !self.allow.is_empty() => refuse("no allowed name matches".into()),
            (Some((_, p)), _) => Ok(Some(format!("allow name {p}"))),
            (None, _) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], deny: &[&str]) -> NameRules {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        NameRules::new(&v(allow), &v(deny)).unwrap()
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical("Example.COM."), Some(Host::Name("example.com".into())));
        assert_eq!(
            canonical("bücher.example"),
            Some(Host::Name("xn--bcher-kva.example".into()))
        );
        assert_eq!(canonical("[::1]"), Some(Host::Ip("::1".parse().unwrap())));
        assert_eq!(canonical("10.0.0.1"), Some(Host::Ip("10.0.0.1".parse().unwrap())));
        for bad in ["", ".", "a..b", "example.com..", "exa mple.com", "a_b\u{0}.com"] {
            assert_eq!(canonical(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rule_table() {
        let r = rules(
            &["*.github.com", "example.org", "api.evil.com"],
            &["gist.github.com", "*.evil.com"],
        );
        let table: &[(&str, Result<(), &str>)] = &[
            ("api.github.com", Ok(())),
            ("API.GitHub.com.", Ok(())),
            ("a.b.github.com", Ok(())),
            ("github.com", Err("no allowed name matches")),
            ("gist.github.com", Err("deny name gist.github.com")),
            ("example.org", Ok(())),
            ("www.example.org", Err("no allowed name matches")),
            ("api.evil.com", Ok(())),
            ("www.evil.com", Err("deny name *.evil.com")),
            ("10.0.0.1", Err("an IP address matches no allowed name")),
            ("[::1]", Err("an IP address matches no allowed name")),
            ("a..b", Err("not a valid host name")),
        ];
        for (host, want) in table {
            let got = r.check(host).map_err(|e| e.rule);
            assert_eq!(got, want.map_err(str::to_string), "{host}");
        }
    }

    #[test]
    fn deny_only_lists_pass_other_names_and_ip_literals() {
        let deny = [
            "*.ads.example",
            "tracker.test",
            "bücher.example",
            "Shouty.TEST.",
            "*.Big.Test",
        ];
        let r = rules(&[], &deny);
        // A refusal names the pattern as it was written.
        let written = [
            ("shouty.test", "deny name Shouty.TEST."),
            ("a.big.test", "deny name *.Big.Test"),
            ("a.ads.example", "deny name *.ads.example"),
            ("xn--bcher-kva.example", "deny name bücher.example"),
            ("tracker.test", "deny name tracker.test"),
        ];
        for (host, rule) in written {
            assert_eq!(r.check(host).map_err(|e| e.rule), Err(rule.to_string()), "{host}");
        }
        assert_eq!(r.check("news.example"), Ok(()));
        assert_eq!(r.check("10.1.2.3"), Ok(()));
        assert!(r.check("x.ads.example").is_err());
        assert!(r.check("Tracker.Test.").is_err());
        assert!(r.check("xn--bcher-kva.example").is_err());
        assert!(r.check("BÜCHER.example").is_err());
        assert_eq!(r.check("ads.example"), Ok(()), "*. covers subdomains only");
    }

    #[test]
    fn invalid_patterns_are_config_errors() {
        let e = NameRules::new(&["ok.example".into(), "*.".into()], &[]).unwrap_err();
        assert!(e.contains("\"*.\""), "{e}");
        assert!(NameRules::new(&[], &["a..b".into()]).is_err());
    }

    #[test]
    fn a_large_list_is_one_probe_per_label() {
        let deny: Vec<String> = (0..100_000).map(|i| format!("host{i}.blocked.test")).collect();
        let r = NameRules::new(&[], &deny).unwrap();
        assert!(r.check("host99999.blocked.test").is_err());
        assert_eq!(r.check("host100000.blocked.test"), Ok(()));
    }
}
