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
    // No transparent huge pages for this process. mimalloc asks for them on
    // its arenas (`madvise(MADV_HUGEPAGE)`), and with them every touched
    // 2 MiB region stays resident whole: about 13 MiB of RSS with one Worker
    // under load, for no measurable gain in a proxy's short-lived
    // allocations. A failure (an old kernel) only leaves THP as it was.
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    cli::main()
}
