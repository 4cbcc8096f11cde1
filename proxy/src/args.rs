//! The arguments of `serve`, `check` and `compile`, and loading the config
//! they name. Kept apart from the command-line entry point (`cli`) so that
//! the server, which reloads with the same arguments, depends on them
//! without depending on the entry point.

use std::path::PathBuf;

use clap::Args;
use isoproxy_schema::model::AccessLogFormat;
use isoproxy_schema::{ConfigError, Overrides};

/// Exit status for usage and config errors (BSD `EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;

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
