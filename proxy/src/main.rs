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

fn main() -> ExitCode {
    cli::main()
}
