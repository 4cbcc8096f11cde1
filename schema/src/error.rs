//! Config errors: every one names a file, a position and a field path.

use std::fmt;
use std::path::PathBuf;

/// A config error at a place in a config file.
///
/// Displayed as `file:line:col: field.path: message`, e.g.
/// `config.capnp:12:7: services[1].external.address: expected host:port, got "nope"`.
/// `line` and `col` are 1-based; 0 means "no position" (binary configs,
/// unreadable files) and is left out of the display.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
pub struct ConfigError {
    /// The file the error is in.
    pub file: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub col: u32,
    /// Path of the field inside the config constant, e.g.
    /// `services[1].external.address`; empty for syntax errors.
    pub field_path: String,
    /// What was expected, and what was found.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col)?;
        }
        f.write_str(": ")?;
        if !self.field_path.is_empty() {
            write!(f, "{}: ", self.field_path)?;
        }
        f.write_str(&self.message)
    }
}
