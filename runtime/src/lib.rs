//! isoproxy's Worker runtime: V8 isolates running JavaScript Workers.
//!
//! `proxy/` reaches the runtime only through [`WorkerPool`], a `Send + Sync`
//! handle, and gives it an [`Outbound`] through which Workers reach the
//! network. No V8 type leaves this crate.
#![deny(missing_docs)]

mod api;

pub use api::*;

use std::sync::Arc;

use isoproxy_schema::model::Config;

/// Settings of the isolate threads.
#[derive(Debug, Clone, Default)]
pub struct PoolOptions {
    /// Number of isolate threads; 0 = one per core.
    pub threads: usize,
}

/// A failure to start Workers (bad script, failed top-level evaluation).
#[derive(Debug, Clone, thiserror::Error)]
#[error("worker {worker}: {message}")]
pub struct RuntimeError {
    /// Service name of the Worker.
    pub worker: String,
    /// What went wrong, with the script location when known.
    pub message: String,
}

/// Why a Worker produced no response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct WorkerFailure {
    /// The class of failure; decides the status.
    pub outcome: Outcome,
    /// A short description for the log (never sent to the client).
    pub message: String,
}

/// The handle to the isolate threads. Cheap to clone.
#[derive(Clone)]
pub struct WorkerPool {
    _config: Arc<Config>,
}

impl WorkerPool {
    /// Start the isolate threads for the Workers of `config`.
    pub fn start(
        config: Arc<Config>,
        _options: PoolOptions,
        _outbound: Arc<dyn Outbound>,
        _observer: Arc<dyn Observer>,
    ) -> Result<WorkerPool, RuntimeError> {
        Ok(WorkerPool { _config: config })
    }

    /// Run the `fetch` handler of Worker service `worker` for `request`.
    pub async fn fetch(&self, worker: &str, _request: Request, _info: RequestInfo) -> Result<Response, WorkerFailure> {
        Err(WorkerFailure {
            outcome: Outcome::Internal,
            message: format!("worker {worker}: runtime not built yet"),
        })
    }
}
