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
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::observe::access_log::{self, AccessLayer, AccessLogHandle};

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

    // The application log never carries access records. Saying so with a
    // directive (not a closure filter) keeps the level hint: `try_init` sets
    // the `log` crate's max level from it, so Pingora's disabled `log::debug!`
    // and `trace!` calls cost a comparison instead of a trip through
    // `tracing-log` and every filter (about a tenth of a request's CPU).
    let mut env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter(verbose)));
    if let Ok(off) = format!("{}=off", access_log::TARGET).parse() {
        env = env.add_directive(off);
    }
    let app = if structured {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(io::stderr)
            .with_filter(env)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(io::stderr)
            .with_ansi(false)
            .with_filter(env)
            .boxed()
    };
    tracing_subscriber::registry()
        .with(access_layer)
        .with(app)
        .try_init()
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Logging { access: handle })
}
