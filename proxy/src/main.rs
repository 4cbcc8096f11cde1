//! The `isoproxy` command: `serve`, `check` and `compile`.

mod args;
mod cache;
mod cli;
mod downstream;
mod error;
mod observe;
mod pipeline;
mod server;
mod syntax;
mod tls;
mod upstream;

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a proxied request makes a few dozen
/// short-lived allocations (headers, buffers, futures), and glibc's
/// allocator was a fifth of the instructions spent on one.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main()
}
