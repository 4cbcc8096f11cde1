//! The `isoproxy` command: `serve`, `check` and `compile`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
