//! Command-line parsing and the `check` / `compile` subcommands. `serve`
//! hands over to the server once the config is loaded.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use crate::args::{ConfigArgs, LoadError, ServeArgs, EXIT_USAGE};

#[derive(Parser, Debug)]
#[command(
    name = "isoproxy",
    version,
    about = "A programmable HTTP proxy running JavaScript Workers in V8 isolates"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load a config and serve it.
    Serve(ServeArgs),
    /// Validate a config as `serve` would (load every Worker, build every
    /// upstream and TLS config, bind nothing) and print a summary of its
    /// sockets and services.
    Check(ConfigArgs),
    /// Compile a text config into a binary Cap'n Proto message.
    Compile {
        #[command(flatten)]
        config: ConfigArgs,
        /// Output file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
}

/// Entry point: parse arguments and run the subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => match args.load() {
            Ok(loaded) => {
                // The same start-up steps as `serve`, short of the sockets.
                let config = std::sync::Arc::new(loaded.config);
                if let Err(e) = crate::server::generation::check(&config) {
                    return e.report();
                }
                let mut out = std::io::stdout().lock();
                let _ = write!(out, "{}", summary(&config));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Compile { config, output } => compile(&config, &output),
        Command::Serve(args) => {
            let loaded = args.config.load().and_then(|loaded| {
                crate::server::socket_fd::check(&loaded.config).map_err(LoadError::Usage)?;
                Ok(loaded)
            });
            match loaded {
                Ok(loaded) => crate::server::run(&args, loaded),
                Err(e) => fail(&e),
            }
        }
    }
}

/// `isoproxy compile`: validate the text config (with any overrides checked
/// against it) and write the binary message.
fn compile(args: &ConfigArgs, output: &std::path::Path) -> ExitCode {
    if args.binary {
        return fail(&LoadError::Usage(
            "compile reads a text config; --binary makes no sense here".into(),
        ));
    }
    // Load first: this applies the same validation (and override checks) as `check`.
    if let Err(e) = args.load() {
        return fail(&e);
    }
    let bytes = match isoproxy_schema::compile(&args.config, args.const_name.as_deref()) {
        Ok(b) => b,
        Err(e) => return fail(&LoadError::Config(e)),
    };
    if let Err(e) = std::fs::write(output, &bytes) {
        eprintln!("isoproxy: cannot write {}: {e}", output.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn fail(e: &LoadError) -> ExitCode {
    eprintln!("{e}");
    ExitCode::from(EXIT_USAGE)
}

/// A short human-readable summary of a config, printed by `check`: one line
/// per socket and per service, saying where traffic goes.
pub fn summary(config: &isoproxy_schema::model::Config) -> String {
    use isoproxy_schema::model::{
        AddressRule, BindingValue, ExternalProtocol, HttpStyle, PortRange, ServiceKind, SocketProtocol, WorkerSource,
    };
    use std::fmt::Write as _;

    fn rules(r: &[AddressRule]) -> String {
        let names: Vec<String> = r.iter().map(ToString::to_string).collect();
        if names.is_empty() {
            "nothing".into()
        } else {
            names.join(",")
        }
    }
    fn ports(p: &[PortRange]) -> String {
        let v: Vec<String> = p
            .iter()
            .map(|r| {
                if r.first == r.last {
                    r.first.to_string()
                } else {
                    format!("{}-{}", r.first, r.last)
                }
            })
            .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(",")
        }
    }

    let mut s = format!(
        "config ok: {} socket(s), {} service(s)\n",
        config.sockets.len(),
        config.services.len()
    );
    for sock in &config.sockets {
        let proto = match sock.protocol {
            SocketProtocol::Http(_) => "http",
            SocketProtocol::Https { .. } => "https",
            SocketProtocol::Tcp => "tcp",
        };
        let style = match sock.http_options().style {
            HttpStyle::Host => "",
            HttpStyle::Proxy => " (proxy style)",
        };
        let addr = match (&sock.address, sock.fd) {
            (_, Some(fd)) => format!("fd {fd}"),
            (Some(a), None) => a.clone(),
            (None, None) => "(no address)".into(),
        };
        let _ = writeln!(s, "socket {} {proto}{style} {addr} -> {}", sock.name, sock.service.name);
    }
    for svc in &config.services {
        let kind = match &svc.kind {
            ServiceKind::Worker(w) => {
                let code = match &w.source {
                    WorkerSource::Modules(m) => format!(
                        "{} module(s), main {}",
                        m.len(),
                        m.first().map(|m| m.name.as_str()).unwrap_or("?")
                    ),
                    WorkerSource::ServiceWorkerScript(_) => "service-worker script".into(),
                };
                let bindings: Vec<String> = w
                    .bindings
                    .iter()
                    .map(|b| match &b.value {
                        BindingValue::Service(d) => format!("{}->{}", b.name, d.name),
                        _ => b.name.clone(),
                    })
                    .collect();
                format!(
                    "worker: {code}, compatibilityDate {}, bindings [{}], fetch() -> {}",
                    w.compatibility_date,
                    bindings.join(", "),
                    w.global_outbound.name
                )
            }
            ServiceKind::Network(n) => format!(
                "network: allow {}{}, CONNECT ports {}",
                rules(&n.allow),
                if n.deny.is_empty() {
                    String::new()
                } else {
                    format!(", deny {}", rules(&n.deny))
                },
                ports(&n.connect_ports)
            ),
            ServiceKind::External(e) => {
                let proto = match e.protocol {
                    ExternalProtocol::Http(_) => "http",
                    ExternalProtocol::Https { .. } => "https",
                };
                format!("external: {proto}://{}", e.addresses.join(", "))
            }
            ServiceKind::Disk(d) => format!("disk: {}", d.path.display()),
        };
        let _ = writeln!(s, "service {} {kind}", svc.name);
    }
    s
}
