//! What went wrong in an upstream exchange, classified once: the kind
//! decides the status the client gets, the outcome label of
//! `isoproxy_upstream_requests_total`, and what a Worker's `fetch()` sees.
//! Pingora's errors are classified by their type, never by their text.

use std::borrow::Cow;

use isoproxy_runtime::OutboundError;
use pingora_error::{Error, ErrorSource, ErrorType};

use crate::error::Reject;

/// The class of an upstream failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// A Network rule refused the destination (403).
    Denied,
    /// The origin refused the connection (502).
    Refused,
    /// The origin could not be reached: no route, no name, TLS failed (502).
    Unreachable,
    /// The origin did not answer in time, connect included (504).
    Timeout,
    /// The origin answered with something we refuse to pass on (502).
    BadResponse,
    /// The request cannot be sent as given: no host to send it to (400),
    /// or a Worker's bad URL (its `fetch()` throws a TypeError).
    BadRequest,
}

/// An upstream failure: its kind and a short reason, safe to show a client
/// (never a resolved address or the bytes of a bad response).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Fault {
    /// The class.
    pub kind: FaultKind,
    /// What happened.
    pub reason: Cow<'static, str>,
    /// For a Network's refusal: the rule that decided.
    pub rule: Option<std::sync::Arc<str>>,
}

impl Fault {
    /// A fault of this kind.
    pub fn new(kind: FaultKind, reason: impl Into<Cow<'static, str>>) -> Fault {
        Fault {
            kind,
            reason: reason.into(),
            rule: None,
        }
    }

    /// Classify an error Pingora's client reported for the upstream side.
    pub fn from_pingora(e: &Error) -> Fault {
        use ErrorType::*;
        match e.etype() {
            ConnectTimedout | TLSHandshakeTimedout => Fault::new(FaultKind::Timeout, "upstream connect timed out"),
            ReadTimedout | WriteTimedout => Fault::new(FaultKind::Timeout, "upstream timed out"),
            ConnectRefused => Fault::new(FaultKind::Refused, "upstream refused the connection"),
            ConnectNoRoute | ConnectError | TLSHandshakeFailure | InvalidCert | HandshakeError
            | ConnectProxyFailure => Fault::new(FaultKind::Unreachable, "upstream unreachable"),
            InvalidHTTPHeader | H1Error | InvalidH2 | H2Error | H2Downgrade => {
                tracing::debug!(error = %e, "malformed upstream response");
                Fault::new(FaultKind::BadResponse, "malformed upstream response head")
            }
            _ => Fault::new(FaultKind::BadResponse, "bad response from upstream"),
        }
    }

    /// Whether a Pingora error is the upstream's doing (else the client's
    /// or ours).
    pub fn is_upstream(e: &Error) -> bool {
        e.esource() == &ErrorSource::Upstream
            || matches!(
                e.etype(),
                ErrorType::ConnectTimedout
                    | ErrorType::TLSHandshakeTimedout
                    | ErrorType::ConnectRefused
                    | ErrorType::ConnectNoRoute
                    | ErrorType::ConnectError
                    | ErrorType::TLSHandshakeFailure
            )
    }

    /// The refusal the client gets when nobody handled this fault.
    pub fn reject(&self) -> Reject {
        match self.kind {
            FaultKind::Denied => {
                let mut r = Reject::policy(self.reason.clone());
                r.rule = self.rule.clone();
                r
            }
            FaultKind::Timeout => Reject::upstream(true, self.reason.clone()),
            FaultKind::Refused | FaultKind::Unreachable | FaultKind::BadResponse => {
                Reject::upstream(false, self.reason.clone())
            }
            FaultKind::BadRequest => Reject::new(400, self.reason.clone()),
        }
    }

    /// The `outcome` label of `isoproxy_upstream_requests_total`.
    pub fn outcome(&self) -> &'static str {
        match self.kind {
            FaultKind::Denied => "denied",
            FaultKind::Refused => "refused",
            FaultKind::Unreachable => "unreachable",
            FaultKind::Timeout => "timeout",
            FaultKind::BadResponse | FaultKind::BadRequest => "error",
        }
    }

    /// What a Worker's `fetch()` rejects with.
    pub fn to_outbound(&self) -> OutboundError {
        let m = self.reason.to_string();
        match self.kind {
            FaultKind::Denied => OutboundError::Denied(m),
            FaultKind::Refused | FaultKind::Unreachable => OutboundError::Unreachable(m),
            FaultKind::Timeout => OutboundError::Timeout(m),
            FaultKind::BadRequest => OutboundError::BadRequest(m),
            FaultKind::BadResponse => OutboundError::Other(m),
        }
    }

    /// The fault for a refusal of [`crate::upstream::network`] (policy, DNS).
    pub fn from_reject(r: Reject) -> Fault {
        let kind = match r.status {
            403 => FaultKind::Denied,
            504 => FaultKind::Timeout,
            _ => FaultKind::Unreachable,
        };
        let mut f = Fault::new(kind, r.reason);
        f.rule = r.rule;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_statuses_and_labels() {
        let cases = [
            (ErrorType::ConnectRefused, 502, "refused"),
            (ErrorType::ConnectTimedout, 504, "timeout"),
            (ErrorType::ReadTimedout, 504, "timeout"),
            (ErrorType::TLSHandshakeFailure, 502, "unreachable"),
            (ErrorType::InvalidHTTPHeader, 502, "error"),
        ];
        for (etype, status, label) in cases {
            let f = Fault::from_pingora(&Error::new(etype.clone()).into_up());
            assert_eq!(f.reject().status, status, "{etype:?}");
            assert_eq!(f.outcome(), label, "{etype:?}");
        }
        let denied = Fault::new(FaultKind::Denied, "x");
        assert_eq!(denied.reject().status, 403);
        assert!(matches!(denied.to_outbound(), OutboundError::Denied(_)));
    }
}
