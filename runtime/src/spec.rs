//! What the runtime needs to know about one Worker, resolved from the config
//! once at start: its code, its limits, and where each of its bindings and
//! its global `fetch()` lead.

use std::collections::HashMap;
use std::sync::Arc;

use crate::pool::Entrypoint;

use isoproxy_schema::model::{
    BindingValue, Config, ServiceDesignator, ServiceKind, Worker, WorkerLimits, WorkerSource,
};

/// Where a `Fetcher` leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Another Worker (one of its entrypoints), called in process on the
    /// same thread.
    Worker(String, Entrypoint),
    /// A non-Worker service, reached through `Outbound`.
    Service(String),
    /// A service the config does not define: every fetch fails.
    Missing(String),
}

impl Target {
    fn resolve(config: &Config, designator: &ServiceDesignator) -> Target {
        match config.service(&designator.name) {
            Some(s) => match s.kind {
                ServiceKind::Worker(_) => Target::Worker(
                    s.name.clone(),
                    Entrypoint {
                        name: designator.entrypoint.clone(),
                        props_json: designator.props_json.clone(),
                    },
                ),
                _ => Target::Service(s.name.clone()),
            },
            None => Target::Missing(designator.name.clone()),
        }
    }
}

/// The compatibility date from which workerd lets a Worker's global scope
/// generate code (`allow_eval_during_startup`).
const EVAL_DURING_STARTUP_DATE: &str = "2025-06-01";

/// A Worker as the isolates see it.
#[derive(Debug)]
pub(crate) struct WorkerSpec {
    /// Service name.
    pub(crate) name: String,
    /// The code, bindings and limits from the config.
    pub(crate) worker: Worker,
    /// Targets of the service bindings, by index (the JS `Fetcher` holds the
    /// index).
    pub(crate) fetchers: Vec<Target>,
    /// Target of the global `fetch()`.
    pub(crate) global_outbound: Target,
}

impl WorkerSpec {
    /// Limits.
    pub(crate) fn limits(&self) -> &WorkerLimits {
        &self.worker.limits
    }

    /// Whether the code is ES modules.
    pub(crate) fn is_modules(&self) -> bool {
        matches!(self.worker.source, WorkerSource::Modules(_))
    }

    /// Whether the Worker's global scope may generate code from strings
    /// (`eval`, `new Function`) and compile WebAssembly from bytes while it
    /// starts, as workerd's `allow_eval_during_startup` flag decides: on from
    /// compatibility date 2025-06-01, forced by that flag, turned off by
    /// `disallow_eval_during_startup`. Once a request runs, never.
    pub(crate) fn code_generation_at_start_up(&self) -> bool {
        let flags = &self.worker.compatibility_flags;
        if flags.iter().any(|f| f == "disallow_eval_during_startup") {
            return false;
        }
        if flags.iter().any(|f| f == "allow_eval_during_startup") {
            return true;
        }
        // Validated as YYYY-MM-DD, so the text order is the date order.
        self.worker.compatibility_date.as_str() >= EVAL_DURING_STARTUP_DATE
    }

    /// Index in `fetchers` of each service binding, by binding position.
    pub(crate) fn fetcher_index(&self, binding: usize) -> Option<usize> {
        let mut n = 0;
        for (i, b) in self.worker.bindings.iter().enumerate() {
            if let BindingValue::Service(_) = b.value {
                if i == binding {
                    return Some(n);
                }
                n += 1;
            }
        }
        None
    }
}

/// Resolve every Worker of `config`.
pub(crate) fn resolve(config: &Config) -> HashMap<String, Arc<WorkerSpec>> {
    let mut out = HashMap::new();
    for service in &config.services {
        if let ServiceKind::Worker(worker) = &service.kind {
            let fetchers = worker
                .bindings
                .iter()
                .filter_map(|b| match &b.value {
                    BindingValue::Service(d) => Some(Target::resolve(config, d)),
                    _ => None,
                })
                .collect();
            let spec = WorkerSpec {
                name: service.name.clone(),
                worker: worker.clone(),
                fetchers,
                global_outbound: Target::resolve(config, &worker.global_outbound),
            };
            out.insert(service.name.clone(), Arc::new(spec));
        }
    }
    out
}
