//! The `isoproxy` command: `serve`, `check` and `compile`.

#[allow(dead_code)] // wired into the server with the proxy core
mod access_log;
#[allow(dead_code)] // wired into the server with the proxy core
mod admin;
mod cli;
#[allow(dead_code)] // wired into the server with the proxy core
mod logging;
#[allow(dead_code)] // wired into the server with the proxy core
mod metrics;
mod serve;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
