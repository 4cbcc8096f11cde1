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
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::observe::access_log::{self, AccessLayer, AccessLogHandle};
use crate::observe::metrics::Metrics;

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
pub fn init(access: &AccessLogOptions, structured: bool, verbose: u8, metrics: &Metrics) -> io::Result<Logging> {
    let (access_layer, handle) = AccessLayer::start(access, metrics.access_log_dropped.clone())?;
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
    // Pingora's pool race is counted, not logged (see `PoolRace`). The hint
    // of TRACE says this filter narrows no level, so `env`'s hint stands.
    let env = env.and(filter_fn(|m| !is_pool_race(m)).with_max_level_hint(LevelFilter::TRACE));
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
        .with(pool_race_layer(metrics.upstream_pool_races.clone()))
        .with(app)
        .try_init()
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Logging { access: handle })
}

/// The one ERROR record of Pingora's connector module: "failed to acquire
/// reusable stream", written when a pooled upstream connection is asked
/// for while the task that watched it idle still holds its last reference
/// (a race in Pingora 0.9's `TransportConnector::reused_stream`). Nothing
/// fails: the request opens a new connection. Under steady keep-alive load
/// it happened thousands of times a minute, so it is counted in
/// `isoproxy_upstream_pool_races_total` instead of flooding the log at
/// ERROR. The connector's sub-modules (`connectors::l4`, `::tls`, ...)
/// have targets of their own and are logged as before.
fn is_pool_race(meta: &Metadata<'_>) -> bool {
    *meta.level() == Level::ERROR && meta.target() == "pingora_core::connectors"
}

/// A layer that counts Pingora's pool races (see [`is_pool_race`]).
fn pool_race_layer<S>(counter: IntCounter) -> impl Layer<S>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    PoolRace(counter).with_filter(filter_fn(is_pool_race).with_max_level_hint(LevelFilter::ERROR))
}

struct PoolRace(IntCounter);

impl<S: Subscriber> Layer<S> for PoolRace {
    fn on_event(&self, _event: &tracing::Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_races_are_counted_not_logged_and_other_connector_errors_are_logged() {
        let counter = IntCounter::new("races", "test").unwrap();
        let logged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = logged.clone();
        let app = filter_fn(|m| !is_pool_race(m))
            .with_max_level_hint(LevelFilter::TRACE)
            .and(LevelFilter::WARN);
        struct Collect(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
        impl<S: Subscriber> Layer<S> for Collect {
            fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
                self.0.lock().unwrap().push(e.metadata().target().to_string());
            }
        }
        let subscriber = tracing_subscriber::registry()
            .with(pool_race_layer(counter.clone()))
            .with(Collect(sink).with_filter(app));
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "pingora_core::connectors", "failed to acquire reusable stream");
            tracing::error!(target: "pingora_core::connectors", "failed to acquire reusable stream");
            tracing::error!(target: "pingora_core::connectors::l4", "connect failed");
            tracing::warn!(target: "pingora_core::connectors", "something else");
        });
        assert_eq!(counter.get(), 2);
        assert_eq!(
            *logged.lock().unwrap(),
            vec![
                "pingora_core::connectors::l4".to_string(),
                "pingora_core::connectors".to_string()
            ]
        );
    }
}
