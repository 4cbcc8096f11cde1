//! `Proxy-Authorization: Basic` on forward-proxy sockets (`proxyAuth`).
//!
//! Passwords are kept only as argon2 (PHC) or bcrypt hashes. Checking one
//! is slow on purpose (tens of milliseconds), so it runs on a blocking
//! thread, and credentials that passed are remembered for
//! [`VERIFIED_TTL`] by a SHA-256 digest of `user:password` (never the
//! password): a client sending the same header on every request pays the
//! hash once. Wrong credentials are counted per client address; past
//! `maxFailuresPerMinute` the address gets 429 until its minute is over,
//! without any hash being checked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use isoproxy_schema::model;

use crate::error::Reject;
use crate::pipeline::route::{ServiceRoute, Target};

/// How long credentials that passed are accepted without a new hash check.
pub const VERIFIED_TTL: Duration = Duration::from_secs(300);

/// Most remembered credentials and counted addresses; past it the oldest
/// half is forgotten.
const MAX_REMEMBERED: usize = 10_000;

/// The window of `maxFailuresPerMinute`.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// SHA-256 of `user:password`: how remembered credentials are keyed.
type CredentialsDigest = [u8; 32];

/// A password hash in one of the accepted forms.
#[derive(Debug)]
enum Hash {
    Argon2(String),
    Bcrypt(String),
}

impl Hash {
    fn parse(text: &str) -> Result<Hash, String> {
        if text.starts_with("$argon2") {
            let parsed =
                argon2::password_hash::PasswordHash::new(text).map_err(|e| format!("not an argon2 PHC string: {e}"))?;
            if parsed.salt.is_none() || parsed.hash.is_none() {
                return Err("an argon2 PHC string needs a salt and a hash".into());
            }
            Ok(Hash::Argon2(text.to_string()))
        } else if ["$2a$", "$2b$", "$2x$", "$2y$"].iter().any(|p| text.starts_with(p)) {
            Ok(Hash::Bcrypt(text.to_string()))
        } else {
            Err("a password hash must be argon2 (\"$argon2id$...\") or bcrypt (\"$2b$...\")".into())
        }
    }

    fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Argon2(h) => {
                use argon2::password_hash::PasswordVerifier;
                argon2::password_hash::PasswordHash::new(h)
                    .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password, &parsed).is_ok())
            }
            Hash::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
        }
    }
}

#[derive(Debug)]
struct User {
    name: Arc<str>,
    hash: Arc<Hash>,
    service: Option<Arc<ServiceRoute>>,
}

/// Who a request comes from, once authenticated.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user name.
    pub user: Arc<str>,
    /// The user's own Network, when the config gives one.
    pub service: Option<Arc<ServiceRoute>>,
}

/// The compiled `proxyAuth` of one socket.
#[derive(Debug)]
pub struct ProxyAuth {
    realm: Arc<str>,
    users: HashMap<String, User>,
    max_failures: u32,
    verified: Mutex<HashMap<CredentialsDigest, (Arc<str>, Instant)>>,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    /// Checked when the user does not exist, so that a wrong name costs
    /// the same time as a wrong password.
    decoy: Arc<Hash>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ProxyAuth {
    /// Compile `proxyAuth`; `services` resolves per-user services, which
    /// must be Networks.
    pub fn new(m: &model::ProxyAuth, services: &HashMap<String, Arc<ServiceRoute>>) -> Result<ProxyAuth, String> {
        let mut users = HashMap::new();
        for u in &m.users {
            if u.name.is_empty() || u.name.contains(':') {
                return Err(format!("proxyAuth: user name {:?} is empty or has a \":\"", u.name));
            }
            let hash = Hash::parse(&u.password_hash).map_err(|e| format!("proxyAuth: user {:?}: {e}", u.name))?;
            let service = match &u.service {
                None => None,
                Some(s) => match services.get(s) {
                    Some(route) if matches!(route.target, Target::Network(_)) => Some(route.clone()),
                    Some(_) => return Err(format!("proxyAuth: user {:?}: service {s:?} is not a network", u.name)),
                    None => return Err(format!("proxyAuth: user {:?}: no service named {s:?}", u.name)),
                },
            };
            let user = User {
                name: Arc::from(u.name.as_str()),
                hash: Arc::new(hash),
                service,
            };
            if users.insert(u.name.clone(), user).is_some() {
                return Err(format!("proxyAuth: user {:?} is listed twice", u.name));
            }
        }
        // Checked for unknown users: a hash of nothing anyone sends, with
        // argon2's default cost (the cost `htpasswd`-style tools use).
        let decoy = {
            use argon2::password_hash::{PasswordHasher, SaltString};
            let salt = SaltString::encode_b64(b"isoproxy decoy salt").map_err(|e| e.to_string())?;
            let h = argon2::Argon2::default()
                .hash_password(b"no user has this password", &salt)
                .map_err(|e| e.to_string())?;
            Hash::parse(&h.to_string())?
        };
        Ok(ProxyAuth {
            realm: Arc::from(m.realm.as_str()),
            users,
            max_failures: m.max_failures_per_minute,
            verified: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            decoy: Arc::new(decoy),
        })
    }

    fn challenge(&self, reason: &'static str) -> Reject {
        Reject::proxy_auth_required(reason, self.realm.clone())
    }

    /// Check a request's `Proxy-Authorization` header value.
    pub async fn check(&self, header: Option<&[u8]>, client: Option<IpAddr>) -> Result<Authenticated, Reject> {
        if let Some(ip) = client {
            if self.over_limit(ip) {
                return Err(Reject::too_many(
                    "too many failed proxy authentications; try again later",
                ));
            }
        }
        let Some(header) = header else {
            return Err(self.challenge("proxy authentication required"));
        };
        let Some((name, password)) = basic_credentials(header) else {
            self.failed(client);
            return Err(self.challenge("malformed Proxy-Authorization"));
        };
        let key = digest(&name, &password);
        if let Some(user) = self.remembered(&key) {
            if let Some(u) = self.users.get(user.as_ref()) {
                return Ok(Authenticated {
                    user,
                    service: u.service.clone(),
                });
            }
        }
        let user = self.users.get(&name);
        let hash = user.map_or_else(|| self.decoy.clone(), |u| u.hash.clone());
        let pw = password.clone();
        let ok = tokio::task::spawn_blocking(move || hash.verify(pw.as_bytes()))
            .await
            .unwrap_or(false);
        match user {
            Some(u) if ok => {
                self.remember(key, u.name.clone());
                Ok(Authenticated {
                    user: u.name.clone(),
                    service: u.service.clone(),
                })
            }
            _ => {
                tracing::info!(user = %name, client = ?client, "proxy authentication failed");
                self.failed(client);
                Err(self.challenge("wrong proxy credentials"))
            }
        }
    }

    fn remembered(&self, key: &[u8; 32]) -> Option<Arc<str>> {
        let map = lock(&self.verified);
        map.get(key)
            .filter(|(_, at)| at.elapsed() < VERIFIED_TTL)
            .map(|(u, _)| u.clone())
    }

    fn remember(&self, key: [u8; 32], user: Arc<str>) {
        let mut map = lock(&self.verified);
        if map.len() >= MAX_REMEMBERED {
            map.retain(|_, (_, at)| at.elapsed() < VERIFIED_TTL / 2);
        }
        map.insert(key, (user, Instant::now()));
    }

    fn over_limit(&self, ip: IpAddr) -> bool {
        if self.max_failures == 0 {
            return false;
        }
        lock(&self.failures)
            .get(&ip)
            .is_some_and(|(start, n)| start.elapsed() < FAILURE_WINDOW && *n >= self.max_failures)
    }

    fn failed(&self, client: Option<IpAddr>) {
        let (Some(ip), true) = (client, self.max_failures > 0) else {
            return;
        };
        let mut map = lock(&self.failures);
        if map.len() >= MAX_REMEMBERED {
            map.retain(|_, (start, _)| start.elapsed() < FAILURE_WINDOW);
        }
        let entry = map.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= FAILURE_WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

/// `Basic base64(user:password)` → (user, password).
fn basic_credentials(header: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn digest(user: &str, password: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(user.as_bytes());
    ctx.update(b":");
    ctx.update(password.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_forms() {
        assert_eq!(
            basic_credentials(b"Basic YWxpY2U6czNjcjp0"),
            Some(("alice".into(), "s3cr:t".into()))
        );
        assert_eq!(
            basic_credentials(b"basic  YWxpY2U6eA== "),
            Some(("alice".into(), "x".into()))
        );
        for bad in [
            &b"Bearer YWxpY2U6eA=="[..],
            b"Basic",
            b"Basic !!!",
            b"Basic YWxpY2U=",
            b"\xff",
        ] {
            assert_eq!(basic_credentials(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn hashes_in_both_forms_verify() {
        let bcrypt_hash = bcrypt::hash("pw", 4).unwrap();
        let b = Hash::parse(&bcrypt_hash).unwrap();
        assert!(b.verify(b"pw"));
        assert!(!b.verify(b"pW"));
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let a = argon2::Argon2::default()
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        let a = Hash::parse(&a).unwrap();
        assert!(a.verify(b"pw"));
        assert!(!a.verify(b"px"));
        assert!(Hash::parse("plain-text").is_err());
        assert!(Hash::parse("$argon2id$garbage").is_err());
    }
}
