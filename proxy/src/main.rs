//! The `isoproxy` command: `serve`, `check` and `compile`.

#[allow(dead_code)] // wired into the server with the proxy core
mod access_log;
#[allow(dead_code)] // wired into the server with the proxy core
mod admin;
mod chunked;
mod cli;
mod conn;
mod connect;
mod error;
mod handler;
mod logging;
#[allow(dead_code)] // wired into the server with the proxy core
mod metrics;
mod outbound;
mod policy;
mod precheck;
mod route;
mod serve;
mod tls;
mod upstream;
mod worker;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
