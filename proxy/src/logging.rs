//! Process-wide logging set-up: the access log and the application log are
//! two `tracing` layers on one subscriber.
//!
//! - Access records (target [`access_log::TARGET`]) go only to the access
//!   log (stdout or a file), formatted by [`access_log::AccessLayer`].
//! - Everything else (Worker `console.*` output, warnings, errors, and
//!   Pingora's own `log` records) goes to stderr, as text or JSON lines.
//!   `RUST_LOG` overrides the level; `--verbose` raises it.

use std::io;

use isoproxy_schema::model::AccessLogOptions;
use prometheus::IntCounter;
use tracing_subscriber::filter::{filter_fn, EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::access_log::{self, AccessLayer, AccessLogHandle};

/// Handles kept alive for the life of the process.
pub struct Logging {
    /// The access-log writer, for reopening on SIGUSR1.
    pub access: AccessLogHandle,
}

/// The default application log filter for a `--verbose` count.
fn default_filter(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn,isoproxy=info",
        1 => "info,isoproxy=debug",
        _ => "debug,isoproxy=trace",
    }
}

/// Install the global subscriber. Fails if the access-log file cannot be
/// opened. Calling it twice keeps the first subscriber (the second returns
/// an error the caller may ignore).
pub fn init(access: &AccessLogOptions, structured: bool, verbose: u8, dropped: IntCounter) -> io::Result<Logging> {
    let (access_layer, handle) = AccessLayer::start(access, dropped)?;
    // `Targets` (unlike a closure filter) tells tracing the most verbose level
    // this layer wants, so disabled levels (Pingora's `log::debug!` calls
    // among them) are dropped at the call site instead of being built and
    // then discarded.
    let access_layer = access_layer.with_filter(Targets::new().with_target(access_log::TARGET, LevelFilter::INFO));

    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter(verbose)));
    let not_access = filter_fn(|m| m.target() != access_log::TARGET);
    let app = if structured {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(io::stderr)
            .with_filter(env)
            .with_filter(not_access)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(io::stderr)
            .with_ansi(false)
            .with_filter(env)
            .with_filter(not_access)
            .boxed()
    };
    tracing_subscriber::registry()
        .with(access_layer)
        .with(app)
        .try_init()
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Logging { access: handle })
}
