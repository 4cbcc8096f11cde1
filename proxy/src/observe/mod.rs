//! What the proxy tells its operator: the access log, Prometheus metrics,
//! the admin listener and the process log.

pub mod access_log;
pub mod admin;
pub mod logging;
pub mod metrics;
pub mod record;
