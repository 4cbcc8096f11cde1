//! Command-line parsing and the `check` / `compile` subcommands. `serve`
//! hands over to the server once the config is loaded.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use isoproxy_schema::model::AccessLogFormat;
use isoproxy_schema::{ConfigError, Overrides};

/// Exit status for usage and config errors (BSD `EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;

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
    /// Validate a config and print a summary of its sockets and services.
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

#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// Config file (Cap'n Proto text, or binary with `--binary`).
    pub config: PathBuf,
    /// Name of the `Config` constant, when the file has several.
    pub const_name: Option<String>,
    /// Override a socket's address: `name=addr`.
    #[arg(short = 's', long = "socket-addr", value_name = "NAME=ADDR")]
    pub socket_addr: Vec<String>,
    /// Listen on an inherited file descriptor: `name=fd`.
    #[arg(short = 'S', long = "socket-fd", value_name = "NAME=FD")]
    pub socket_fd: Vec<String>,
    /// Override an ExternalServer's address: `name=addr`.
    #[arg(short = 'e', long = "external-addr", value_name = "NAME=ADDR")]
    pub external_addr: Vec<String>,
    /// The config file is a binary message made by `isoproxy compile`.
    #[arg(long)]
    pub binary: bool,
    /// Access-log format, overriding the config's `accessLog.format`.
    #[arg(long = "access-log", value_name = "json|combined|off")]
    pub access_log: Option<String>,
    /// Access-log file, overriding the config's `accessLog.path`; `-` is
    /// standard output.
    #[arg(long = "access-log-path", value_name = "PATH")]
    pub access_log_path: Option<PathBuf>,
    /// More application log output (repeat for more).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Write JSON lines about server events (e.g. the bound port) to this fd.
    #[arg(long = "control-fd", value_name = "FD")]
    pub control_fd: Option<i32>,
    /// Serve Prometheus metrics on this address (overrides the config).
    #[arg(long = "metrics-addr", value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// Reload when the config or a file it embeds changes.
    #[arg(long)]
    pub watch: bool,
    /// Listen on this Unix socket for a new isoproxy process to hand the
    /// listening sockets to (binary upgrade).
    #[arg(long = "upgrade-socket", value_name = "PATH")]
    pub upgrade_socket: Option<std::path::PathBuf>,
    /// Take the listening sockets over from the process listening on
    /// `--upgrade-socket`, then tell it to drain.
    #[arg(long, requires = "upgrade_socket")]
    pub upgrade: bool,
}

impl ConfigArgs {
    /// Parse the `name=value` overrides.
    pub fn overrides(&self) -> Result<Overrides, String> {
        fn split(flag: &str, s: &str) -> Result<(String, String), String> {
            match s.split_once('=') {
                Some((n, v)) if !n.is_empty() && !v.is_empty() => Ok((n.to_string(), v.to_string())),
                _ => Err(format!("{flag} expects NAME=VALUE, got {s:?}")),
            }
        }
        let mut o = Overrides::default();
        for s in &self.socket_addr {
            o.socket_addrs.push(split("--socket-addr", s)?);
        }
        for s in &self.socket_fd {
            let (n, v) = split("--socket-fd", s)?;
            let fd = v
                .parse::<i32>()
                .map_err(|_| format!("--socket-fd expects NAME=FD, got {s:?}"))?;
            o.socket_fds.push((n, fd));
        }
        for s in &self.external_addr {
            o.external_addrs.push(split("--external-addr", s)?);
        }
        o.access_log_format = match self.access_log.as_deref() {
            None => None,
            Some("json") => Some(AccessLogFormat::Json),
            Some("combined") => Some(AccessLogFormat::Combined),
            Some("off") => Some(AccessLogFormat::Off),
            Some(other) => return Err(format!("--access-log expects json, combined or off, got {other:?}")),
        };
        o.access_log_path = self.access_log_path.clone();
        Ok(o)
    }

    /// Load and validate the config these arguments name (text, or binary
    /// with `--binary`).
    pub fn load(&self) -> Result<isoproxy_schema::Loaded, LoadError> {
        let overrides = self.overrides().map_err(LoadError::Usage)?;
        if self.binary {
            if self.const_name.is_some() {
                return Err(LoadError::Usage(
                    "a binary config holds one Config: CONST cannot be given with --binary".into(),
                ));
            }
            return isoproxy_schema::load_binary(&self.config, &overrides).map_err(LoadError::Config);
        }
        isoproxy_schema::load(&self.config, self.const_name.as_deref(), &overrides).map_err(LoadError::Config)
    }
}

/// Why a config could not be used.
#[derive(Debug)]
pub enum LoadError {
    /// Bad command-line arguments.
    Usage(String),
    /// Bad config.
    Config(ConfigError),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Usage(s) => f.write_str(s),
            LoadError::Config(e) => e.fmt(f),
        }
    }
}

/// Entry point: parse arguments and run the subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => match args.load() {
            Ok(loaded) => {
                let mut out = std::io::stdout().lock();
                let _ = write!(out, "{}", summary(&loaded.config));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Compile { config, output } => compile(&config, &output),
        Command::Serve(args) => match args.config.load() {
            Ok(loaded) => crate::server::run(&args, loaded),
            Err(e) => fail(&e),
        },
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
        let names: Vec<String> = r
            .iter()
            .map(|r| match r {
                AddressRule::Public => "public".into(),
                AddressRule::Private => "private".into(),
                AddressRule::Local => "local".into(),
                AddressRule::Network => "network".into(),
                AddressRule::Unix => "unix".into(),
                AddressRule::UnixAbstract => "unix-abstract".into(),
                AddressRule::Cidr(n) => n.to_string(),
            })
            .collect();
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
