//! The `isoproxy` command: `serve`, `check` and `compile`.

mod cli;
mod serve;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
