//! What the runtime needs to know about one Worker, resolved from the config
//! once at start: its code, its limits, and where each of its bindings and
//! its global `fetch()` lead.

use rustc_hash::FxHashMap as HashMap;
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

/// From this compatibility date, `nodejs_compat` implies `nodejs_compat_v2`
/// in workerd: `Buffer`, `process` and `global` become globals and bare
/// names (`buffer`) import the built-in modules.
const NODEJS_COMPAT_V2_DATE: &str = "2024-09-23";

/// From this compatibility date workerd fills `process.env` with the text
/// and JSON bindings (`nodejs_compat_populate_process_env`).
const POPULATE_PROCESS_ENV_DATE: &str = "2025-04-01";

/// From this compatibility date `nodejs_compat` implies
/// `enable_nodejs_process_v2` and `enable_nodejs_fs_module` in workerd.
const PROCESS_V2_DATE: &str = "2025-09-15";

/// From this compatibility date `nodejs_compat` implies
/// `enable_nodejs_http_modules` in workerd.
const HTTP_MODULES_DATE: &str = "2025-08-15";

/// The Node.js compatibility a Worker asked for (see `WorkerSpec::node_compat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NodeCompat {
    /// `node:*` modules can be imported (`nodejs_compat`).
    pub(crate) modules: bool,
    /// `nodejs_compat_v2`: the globals and bare module names.
    pub(crate) globals: bool,
    /// `process.env` holds the text and JSON bindings.
    pub(crate) process_env: bool,
    /// `node:async_hooks` can be imported (`nodejs_als`, or `nodejs_compat`).
    pub(crate) als: bool,
    /// The full `process` (`enable_nodejs_process_v2`): version, cwd,
    /// hrtime, events, stdout, ... beside the small one's members.
    pub(crate) process_v2: bool,
    /// `node:fs` and `node:fs/promises` (`enable_nodejs_fs_module`).
    pub(crate) fs: bool,
    /// `node:http` and `node:https` (`enable_nodejs_http_modules`).
    pub(crate) http: bool,
    /// `navigator.storage` (`enable_web_file_system`): not Node's, but the
    /// same in-memory file system as node:fs.
    pub(crate) web_fs: bool,
}

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

    /// Which of workerd's Node.js compatibility behaviours the flags and
    /// the compatibility date turn on.
    pub(crate) fn node_compat(&self) -> NodeCompat {
        let flags = &self.worker.compatibility_flags;
        let has = |f: &str| flags.iter().any(|x| x == f);
        let date = self.worker.compatibility_date.as_str();
        let v2 = has("nodejs_compat_v2") || (has("nodejs_compat") && date >= NODEJS_COMPAT_V2_DATE);
        let modules = has("nodejs_compat") || has("nodejs_compat_v2");
        let v2 = v2 && !has("no_nodejs_compat_v2");
        let env = modules
            && !has("nodejs_compat_do_not_populate_process_env")
            && (has("nodejs_compat_populate_process_env") || date >= POPULATE_PROCESS_ENV_DATE);
        let process_v2 = modules
            && !has("disable_nodejs_process_v2")
            && (has("enable_nodejs_process_v2") || (has("nodejs_compat") && date >= PROCESS_V2_DATE));
        let fs = modules
            && !has("disable_nodejs_fs_module")
            && (has("enable_nodejs_fs_module") || (has("nodejs_compat") && date >= PROCESS_V2_DATE));
        NodeCompat {
            modules,
            globals: modules && v2,
            process_env: env,
            als: modules || has("nodejs_als"),
            process_v2,
            fs,
            http: modules
                && !has("disable_nodejs_http_modules")
                && (has("enable_nodejs_http_modules") || (has("nodejs_compat") && date >= HTTP_MODULES_DATE)),
            web_fs: has("enable_web_file_system"),
        }
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
    let mut out = HashMap::default();
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
