//! `isoproxy serve`: start the server for a loaded config.

use std::process::ExitCode;

use crate::cli::ServeArgs;

/// Run the server until it is told to stop.
pub fn run(args: &ServeArgs, loaded: isoproxy_schema::Loaded) -> ExitCode {
    let _ = (args, loaded);
    eprintln!("isoproxy: serve is not built yet");
    ExitCode::FAILURE
}
