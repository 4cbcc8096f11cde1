//! The `isoproxy` command: `serve`, `check` and `compile`.

mod access_log;
mod admin;
mod chunked;
mod cli;
mod conn;
mod connect;
mod error;
mod generation;
mod handler;
mod logging;
mod metrics;
mod outbound;
mod policy;
mod precheck;
mod reload;
mod route;
mod serve;
mod tls;
mod upgrade;
mod upstream;
mod worker;

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a proxied request makes a few dozen
/// short-lived allocations (headers, buffers, futures), and glibc's
/// allocator was a fifth of the instructions spent on one.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main()
}
