//! Rate limits (requests per second per key, with a burst) on sockets and
//! routes, and the cap on requests in flight to one upstream service
//! (circuit breaking).
//!
//! A rate limit counts with `pingora-limits`' two-slot estimator: a request
//! is admitted while the sliding-window estimate (the previous window's
//! count weighted by how much of it still overlaps, plus the current
//! window's) stays within `burst`, over a window of `burst /
//! requestsPerSecond` seconds. A key may thus send `burst` requests at once
//! and `requestsPerSecond` on average. Refused requests are not counted, so
//! a client that keeps retrying still gets the configured rate.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use isoproxy_schema::model::{RateLimit, RateLimitKey};
use pingora_http::RequestHeader;
use pingora_limits::rate::Rate;

/// A compiled rate limit.
pub struct Limiter {
    rate: Rate,
    window: Duration,
    burst: f64,
    key: RateLimitKey,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("window", &self.window)
            .field("burst", &self.burst)
            .field("key", &self.key)
            .finish()
    }
}

/// The key of one request, hashed.
fn key_hash(key: &RateLimitKey, client: Option<IpAddr>, req: &RequestHeader) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match key {
        RateLimitKey::ClientAddress => client.hash(&mut h),
        RateLimitKey::Header(name) => req.headers.get(name.as_str()).map(|v| v.as_bytes()).hash(&mut h),
        RateLimitKey::All => {}
    }
    h.finish()
}

impl Limiter {
    /// Compile a (validated) rate limit.
    pub fn new(l: &RateLimit) -> Limiter {
        let rps = u64::from(l.requests_per_second.max(1));
        let burst = u64::from(l.burst.max(l.requests_per_second).max(1));
        // At least a second: the estimator's clock has millisecond steps.
        let window = Duration::from_millis((burst * 1000 / rps).max(1000));
        Limiter {
            rate: Rate::new(window),
            window,
            burst: burst as f64,
            key: l.key.clone(),
        }
    }

    /// Admit one request, or say in how many seconds one more would pass.
    pub fn check(&self, client: Option<IpAddr>, req: &RequestHeader) -> Result<(), u64> {
        let key = key_hash(&self.key, client, req);
        self.rate.observe(&key, 1);
        let c = self.rate.rate_with(&key, |c| c);
        let weighted = c.prev_samples as f64 * (1.0 - c.current_interval_fraction) + c.curr_samples as f64;
        if weighted <= self.burst {
            return Ok(());
        }
        // Not admitted: not counted either.
        self.rate.observe(&key, -1);
        let w = Window {
            prev: c.prev_samples as f64,
            curr: c.curr_samples as f64,
            fraction: c.current_interval_fraction,
            secs: c.interval.as_secs_f64(),
        };
        Err(retry_after(w, self.burst))
    }
}

/// The estimator's view of one key.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Count of the previous window.
    prev: f64,
    /// Count of the current window, the refused request included.
    curr: f64,
    /// How much of the current window has passed (0..1).
    fraction: f64,
    /// Window length in seconds.
    secs: f64,
}

/// Whole seconds until the estimate, with the refused request taken back
/// out, leaves room for one more (at least 1).
fn retry_after(c: Window, burst: f64) -> u64 {
    let w = c.secs;
    let f = c.fraction;
    let prev = c.prev;
    let curr = (c.curr - 1.0).max(0.0);
    let room = burst - 1.0 - curr;
    let secs = if room >= 0.0 && prev > 0.0 {
        // Still in this window, once enough of the previous one slid out.
        (w * (1.0 - f - room / prev)).max(0.0)
    } else if curr > 0.0 {
        // Into the next window, where this one's count slides out.
        w * (1.0 - f) + w * (1.0 - (burst - 1.0) / curr).max(0.0)
    } else {
        0.0
    };
    // A hair under a whole second is that second, not the next one.
    ((secs - 1e-9).ceil() as u64).max(1)
}

/// A cap on requests in flight to one upstream service.
#[derive(Debug)]
pub struct Concurrency {
    max: u32,
    open: Arc<AtomicU32>,
}

/// Held while a request is in flight; releases its place when dropped.
#[derive(Debug)]
pub struct Slot(Arc<AtomicU32>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Concurrency {
    /// A cap of `max` (0: none, then `None`).
    pub fn new(max: u32) -> Option<Concurrency> {
        (max > 0).then(|| Concurrency {
            max,
            open: Arc::new(AtomicU32::new(0)),
        })
    }

    /// Take a place, or `None` when all are taken.
    pub fn acquire(&self) -> Option<Slot> {
        let mut n = self.open.load(Ordering::Acquire);
        loop {
            if n >= self.max {
                return None;
            }
            match self
                .open
                .compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(Slot(self.open.clone())),
                Err(now) => n = now,
            }
        }
    }

    /// Requests in flight now.
    #[cfg(test)]
    pub fn open(&self) -> u32 {
        self.open.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(h: Option<&str>) -> RequestHeader {
        let mut r = RequestHeader::build("GET", b"/", None).unwrap();
        if let Some(v) = h {
            r.insert_header("x-key", v).unwrap();
        }
        r
    }

    #[test]
    fn burst_then_refusal_per_key() {
        let l = Limiter::new(&RateLimit {
            requests_per_second: 1,
            burst: 5,
            key: RateLimitKey::Header("x-key".into()),
        });
        // A five-second window: nothing slides out during this test unless
        // it straddles a window boundary, which only admits more, and at
        // most one more per elapsed second.
        let a: Vec<bool> = (0..20).map(|_| l.check(None, &req(Some("a"))).is_ok()).collect();
        let admitted = a.iter().filter(|x| **x).count();
        assert!((5..=6).contains(&admitted), "{a:?}");
        assert!(a[..5].iter().all(|x| *x), "the burst comes first: {a:?}");
        let b = (0..20).filter(|_| l.check(None, &req(Some("b"))).is_ok()).count();
        assert!((5..=6).contains(&b), "another key has its own count");
        if let Err(secs) = l.check(None, &req(Some("a"))) {
            assert!((1..=6).contains(&secs), "{secs}");
        }
    }

    #[test]
    fn retry_after_table() {
        let c = |prev: f64, curr: f64, fraction: f64| Window {
            prev,
            curr,
            fraction,
            secs: 10.0,
        };
        // (components incl. the refused request, burst, seconds)
        let rows = [
            (c(0.0, 11.0, 0.0), 10.0, 11),  // full window ahead, then 1/10 of the next
            (c(0.0, 11.0, 0.5), 10.0, 6),   // half a window, then 1/10 of the next
            (c(10.0, 1.0, 0.0), 10.0, 1),   // the previous window slides out: 1 s per request
            (c(10.0, 6.0, 0.2), 10.0, 4),   // room 4: 4/10 of prev must slide out past 0.2 -> 0.6
            (c(10.0, 11.0, 0.99), 10.0, 2), // into the next window
        ];
        for (comp, burst, want) in rows {
            assert_eq!(retry_after(comp, burst), want, "{comp:?}");
        }
    }

    #[test]
    fn concurrency_cap() {
        let c = Concurrency::new(2).unwrap();
        let a = c.acquire().unwrap();
        let b = c.acquire().unwrap();
        assert!(c.acquire().is_none());
        drop(a);
        let _c = c.acquire().unwrap();
        assert!(c.acquire().is_none());
        drop(b);
        assert_eq!(c.open(), 1);
        assert!(Concurrency::new(0).is_none());
    }
}
