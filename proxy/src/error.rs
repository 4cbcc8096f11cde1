//! Who is to blame for a failed request, and the one map from blame to
//! status and to the short plain-text body the client sees.

use std::borrow::Cow;

use isoproxy_runtime::Outcome;

/// Who caused a failure; recorded in the access log as `error_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The client sent something unusable (4xx).
    Downstream,
    /// A Network rule refused the destination (403).
    Policy,
    /// The Worker failed (500, 503, 504).
    Script,
    /// The origin was unreachable, refused, timed out or misbehaved (502/504).
    Upstream,
    /// Our own fault (500).
    Internal,
    /// The proxy is at a configured cap (connections, queue): 503.
    Overload,
}

impl Blame {
    /// Label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Blame::Downstream => "downstream",
            Blame::Policy => "policy",
            Blame::Script => "script",
            Blame::Upstream => "upstream",
            Blame::Internal => "internal",
            Blame::Overload => "overload",
        }
    }
}

/// A request refused with a status and a short reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// HTTP status.
    pub status: u16,
    /// Short plain-text cause, sent as the body.
    pub reason: Cow<'static, str>,
    /// Who is to blame.
    pub blame: Blame,
    /// For a 407: the realm of the `Proxy-Authenticate: Basic` challenge.
    pub challenge: Option<std::sync::Arc<str>>,
    /// For a Network's refusal: the rule that decided (`deny name
    /// *.ads.example`), for the access record.
    pub rule: Option<std::sync::Arc<str>>,
}

impl Reject {
    /// A downstream error with this status.
    pub fn new(status: u16, reason: impl Into<Cow<'static, str>>) -> Reject {
        Reject {
            status,
            reason: reason.into(),
            blame: Blame::Downstream,
            challenge: None,
            rule: None,
        }
    }

    /// 400 Bad Request.
    pub const fn bad_request(reason: &'static str) -> Reject {
        Reject {
            status: 400,
            reason: Cow::Borrowed(reason),
            blame: Blame::Downstream,
            challenge: None,
            rule: None,
        }
    }

    /// A policy refusal (403).
    pub fn policy(reason: impl Into<Cow<'static, str>>) -> Reject {
        Reject {
            status: 403,
            reason: reason.into(),
            blame: Blame::Policy,
            challenge: None,
            rule: None,
        }
    }

    /// An upstream failure: 504 for timeouts, 502 otherwise.
    pub fn upstream(timeout: bool, reason: impl Into<Cow<'static, str>>) -> Reject {
        Reject {
            status: if timeout { 504 } else { 502 },
            reason: reason.into(),
            blame: Blame::Upstream,
            challenge: None,
            rule: None,
        }
    }

    /// The proxy is at a configured cap (503).
    pub fn overload(reason: impl Into<Cow<'static, str>>) -> Reject {
        Reject {
            status: 503,
            reason: reason.into(),
            blame: Blame::Overload,
            challenge: None,
            rule: None,
        }
    }

    /// 407: the forward proxy wants credentials (`Proxy-Authenticate: Basic`
    /// with `realm`).
    pub fn proxy_auth_required(reason: &'static str, realm: std::sync::Arc<str>) -> Reject {
        Reject {
            status: 407,
            reason: Cow::Borrowed(reason),
            blame: Blame::Downstream,
            challenge: Some(realm),
            rule: None,
        }
    }

    /// 429: the client sent too many of something; `Retry-After` says when
    /// the window is over.
    pub fn too_many(reason: &'static str) -> Reject {
        Reject {
            status: 429,
            reason: Cow::Borrowed(reason),
            blame: Blame::Downstream,
            challenge: None,
            rule: None,
        }
    }

    /// An internal failure (500).
    pub fn internal(reason: impl Into<Cow<'static, str>>) -> Reject {
        Reject {
            status: 500,
            reason: reason.into(),
            blame: Blame::Internal,
            challenge: None,
            rule: None,
        }
    }

    /// The header fields of this refusal's response besides its status:
    /// a short plain-text body, and for an overload `Retry-After` (the
    /// queue or cap that was full drains within about a second).
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("content-type", "text/plain; charset=utf-8".to_string()),
            ("content-length", self.body().len().to_string()),
        ];
        if self.blame == Blame::Overload {
            f.push(("retry-after", RETRY_AFTER_SECS.to_string()));
        }
        if self.status == 429 {
            f.push(("retry-after", "60".to_string()));
        }
        if let Some(realm) = &self.challenge {
            let realm = realm.replace(['"', '\\'], "");
            f.push((
                "proxy-authenticate",
                format!("Basic realm=\"{realm}\", charset=\"UTF-8\""),
            ));
        }
        f
    }

    /// The body of this refusal's response.
    pub fn body(&self) -> String {
        format!("{}\n", self.reason)
    }

    /// The whole HTTP/1.1 response for this refusal, closing the connection.
    pub fn to_http1(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason_phrase(self.status));
        for (name, value) in self.fields() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("connection: close\r\n\r\n");
        head.push_str(&self.body());
        head.into_bytes()
    }
}

/// `Retry-After` of an overload refusal, in seconds.
pub const RETRY_AFTER_SECS: u32 = 1;

/// A fault of the client's found while reading its request body, carried
/// inside the `io::Error` of the connection's stream so that the status
/// can be chosen by type when Pingora hands the error back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DownstreamFault {
    /// The body arrived slower than `minBodyBytesPerSec` allows (408).
    #[error("request body too slow")]
    BodyTooSlow,
    /// The chunked framing of the body is invalid (400).
    #[error("invalid chunked framing")]
    InvalidChunked,
}

impl DownstreamFault {
    /// The refusal for this fault.
    pub fn reject(self) -> Reject {
        match self {
            DownstreamFault::BodyTooSlow => Reject::new(408, "request body too slow"),
            DownstreamFault::InvalidChunked => Reject::bad_request("invalid chunked framing"),
        }
    }

    /// An `io::Error` that carries this fault.
    pub fn into_io(self) -> std::io::Error {
        let kind = match self {
            DownstreamFault::BodyTooSlow => std::io::ErrorKind::TimedOut,
            DownstreamFault::InvalidChunked => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, self)
    }

    /// The fault carried by a Pingora error, if it is one of ours.
    pub fn of(e: &pingora_error::Error) -> Option<DownstreamFault> {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = e.cause.as_deref().map(|c| c as _);
        while let Some(c) = cause {
            if let Some(f) = c.downcast_ref::<DownstreamFault>() {
                return Some(*f);
            }
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                // An io::Error's `source()` skips the error it wraps.
                cause = io.get_ref().map(|i| i as _);
                continue;
            }
            // Pingora nests its errors, boxed (`BError`) or not.
            let nested = c
                .downcast_ref::<pingora_error::Error>()
                .or_else(|| c.downcast_ref::<Box<pingora_error::Error>>().map(|b| &**b));
            if let Some(pe) = nested {
                cause = pe.cause.as_deref().map(|c| c as _);
                continue;
            }
            cause = c.source();
        }
        None
    }
}

/// Status and body for a Worker that produced no response.
pub fn worker_failure(outcome: Outcome) -> Reject {
    let (status, reason) = match outcome {
        Outcome::CpuLimit => (503, "worker exceeded its CPU time limit"),
        Outcome::HeapLimit => (503, "worker exceeded its memory limit"),
        Outcome::Overloaded => {
            return Reject::overload("worker overloaded");
        }
        Outcome::WallLimit => (504, "worker exceeded its time limit"),
        Outcome::Exception => (500, "worker threw an exception"),
        Outcome::Canceled => (499, "request canceled"),
        Outcome::Ok | Outcome::Internal => (500, "worker failed"),
    };
    Reject {
        status,
        reason: Cow::Borrowed(reason),
        blame: Blame::Script,
        challenge: None,
        rule: None,
    }
}

/// The reason phrase of the statuses we produce.
pub fn reason_phrase(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http1_response() {
        let r = Reject::new(431, "too many request headers").to_http1();
        let s = String::from_utf8(r).unwrap();
        assert!(s.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{s}");
        assert!(s.ends_with("\r\n\r\ntoo many request headers\n"), "{s}");
        assert!(s.contains("connection: close"));
    }

    #[test]
    fn downstream_fault_is_found_by_type() {
        let inner = std::io::Error::other(DownstreamFault::BodyTooSlow.into_io());
        let read = pingora_error::Error::because(pingora_error::ErrorType::ReadError, "when reading body", inner);
        let e = pingora_error::Error::because(pingora_error::ErrorType::ReadError, "peer", read);
        assert_eq!(DownstreamFault::of(&e), Some(DownstreamFault::BodyTooSlow));
        let plain = pingora_error::Error::because(
            pingora_error::ErrorType::ReadError,
            "when reading body",
            std::io::Error::other("request body too slow"),
        );
        assert_eq!(DownstreamFault::of(&plain), None, "matched by type, not text");
    }

    #[test]
    fn worker_outcomes() {
        assert_eq!(worker_failure(Outcome::CpuLimit).status, 503);
        assert_eq!(worker_failure(Outcome::WallLimit).status, 504);
        assert_eq!(worker_failure(Outcome::Exception).status, 500);
        assert_eq!(worker_failure(Outcome::Internal).status, 500);
    }
}
