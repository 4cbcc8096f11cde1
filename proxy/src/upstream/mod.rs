//! The one upstream exchange: everything about a request that leaves the
//! process, whoever sends it (Pingora's phases on the no-script path, or a
//! Worker's `fetch()` through `pipeline::outbound`).
//!
//! - [`pool`] and [`network`]: choosing the peer (an ExternalServer pool, or
//!   a Network address that passed [`policy`]);
//! - [`headers`]: the header policy on the way out and back;
//! - [`check`]: the strict response-head check, 1xx and bodyless statuses;
//! - [`exchange`]: connecting, sending and reading for a Worker's subrequest;
//! - [`fault`]: what went wrong, classified once for status, metrics and log.

pub mod check;
pub mod exchange;
pub mod fault;
pub mod headers;
pub mod health;
pub mod names;
pub mod network;
pub mod peer;
pub mod policy;
pub mod pool;

pub use network::NetworkTarget;
pub use pool::External;
