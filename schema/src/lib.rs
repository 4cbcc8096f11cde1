//! isoproxy's configuration: the Cap'n Proto schema, a loader for the text
//! form, validation, and the plain-Rust [`model`] the rest of isoproxy uses.
//!
//! Text config → [`text`] (syntax tree) → Cap'n Proto message filled through
//! the schema's introspection → validation → [`model::Config`].
#![deny(missing_docs)]

pub mod generated;
pub use generated::config_capnp;
mod convert;
mod error;
mod fill;
pub mod model;
mod rules;
mod sourcemap;
mod sources;
pub mod text;
mod types;
mod validate;

use std::path::{Path, PathBuf};

pub use error::ConfigError;
use fill::{Filler, SourceMap};
use sources::Sources;

/// Command-line overrides applied after loading (`-s`, `-S`, `-e`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--socket-addr name=addr`.
    pub socket_addrs: Vec<(String, String)>,
    /// `--socket-fd name=fd`.
    pub socket_fds: Vec<(String, i32)>,
    /// `--external-addr name=addr`.
    pub external_addrs: Vec<(String, String)>,
    /// `--access-log json|combined|off`.
    pub access_log_format: Option<model::AccessLogFormat>,
    /// `--access-log-path PATH` (`-` for standard output).
    pub access_log_path: Option<PathBuf>,
}

/// A loaded, validated config and the files it was read from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The config.
    pub config: model::Config,
    /// Every file read: the config, its imports and its embeds (for `--watch`).
    pub files: Vec<PathBuf>,
}

/// Most a binary config may hold, in 8-byte words (1 GiB).
const MAX_BINARY_WORDS: usize = 1 << 27;

/// A text config turned into a message, with where everything came from.
struct Built {
    message: capnp::message::Builder<capnp::message::HeapAllocator>,
    map: SourceMap,
    files: Vec<PathBuf>,
}

fn no_pos(path: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: path.to_path_buf(),
        line: 0,
        col: 0,
        field_path: String::new(),
        message: message.into(),
    }
}

/// Parse the text config at `path` and fill a message from its `Config`
/// constant `const_name` (or its only one).
fn build(path: &Path, const_name: Option<&str>) -> Result<Built, ConfigError> {
    let mut src = Sources::load(path)?;
    let name = pick_const(&src, const_name)?;
    let mut message = capnp::message::Builder::new_default();
    let root: config_capnp::config::Builder<'_> = message.init_root();
    let capnp::dynamic_value::Builder::Struct(root) = capnp::dynamic_value::Builder::from(root) else {
        return Err(no_pos(path, "internal: the Config root is not a struct"));
    };
    let mut filler = Filler::new(&mut src);
    filler.fill_root(root, &name)?;
    let map = filler.into_source_map();
    Ok(Built {
        message,
        map,
        files: src.read,
    })
}

/// The `Config` constant to load.
fn pick_const(src: &Sources, const_name: Option<&str>) -> Result<String, ConfigError> {
    let Some(main) = src.files.first() else {
        return Err(ConfigError::default());
    };
    // A constant whose type names nothing known is an error wherever it is.
    let mut filler_types: Vec<(String, Option<String>)> = Vec::new();
    for c in &main.ast.consts {
        let ty = fill::declared_type_of(src, 0, &c.ty)?;
        filler_types.push((c.name.clone(), Some(ty)));
    }
    let configs: Vec<&str> = filler_types
        .iter()
        .filter(|(_, t)| t.as_deref() == Some("Config"))
        .map(|(n, _)| n.as_str())
        .collect();
    match const_name {
        Some(want) => match filler_types.iter().find(|(n, _)| n == want) {
            Some((_, Some(t))) if t == "Config" => Ok(want.to_string()),
            Some((_, t)) => Err(no_pos(
                &main.path,
                format!(
                    "constant `{want}` is a {}, not a Config; Config constants here: {}",
                    t.as_deref().unwrap_or("value of unknown type"),
                    list_or_none(&configs)
                ),
            )),
            None => Err(no_pos(
                &main.path,
                format!(
                    "no constant `{want}`; Config constants here: {}",
                    list_or_none(&configs)
                ),
            )),
        },
        None => match configs.as_slice() {
            [one] => Ok((*one).to_string()),
            [] => Err(no_pos(
                &main.path,
                "no constant of type Config (expected e.g. `const config :Workerd.Config = (...);`)",
            )),
            many => Err(no_pos(
                &main.path,
                format!("several Config constants ({}): name the one to use", many.join(", ")),
            )),
        },
    }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Load the text config at `path`, taking the `Config` constant `const_name`
/// (or the only `Config` constant when `None`), apply `overrides`, validate.
pub fn load(path: &Path, const_name: Option<&str>, overrides: &Overrides) -> Result<Loaded, ConfigError> {
    let built = build(path, const_name)?;
    let reader = built
        .message
        .get_root_as_reader::<config_capnp::config::Reader<'_>>()
        .map_err(|e| no_pos(path, format!("cannot read the built message: {e}")))?;
    let config = finish(reader, path, Some(&built.map), overrides)?;
    Ok(Loaded {
        config,
        files: built.files,
    })
}

/// Validate and convert a message.
fn finish(
    reader: config_capnp::config::Reader<'_>,
    path: &Path,
    map: Option<&SourceMap>,
    overrides: &Overrides,
) -> Result<model::Config, ConfigError> {
    validate::validate(reader, path, map, overrides)?;
    convert::config(reader, overrides).map_err(|e| no_pos(path, format!("invalid config: {e}")))
}

/// Compile the text config at `path` into a binary Cap'n Proto message
/// (standard stream framing, embeds inlined), after validating it.
pub fn compile(path: &Path, const_name: Option<&str>) -> Result<Vec<u8>, ConfigError> {
    let built = build(path, const_name)?;
    let reader = built
        .message
        .get_root_as_reader::<config_capnp::config::Reader<'_>>()
        .map_err(|e| no_pos(path, format!("cannot read the built message: {e}")))?;
    validate::validate(reader, path, Some(&built.map), &Overrides::default())?;
    Ok(capnp::serialize::write_message_to_words(&built.message))
}

/// Load a binary config made by [`compile`], apply `overrides`, validate.
pub fn load_binary(path: &Path, overrides: &Overrides) -> Result<Loaded, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| no_pos(path, format!("cannot read {}: {e}", path.display())))?;
    let options = capnp::message::ReaderOptions {
        traversal_limit_in_words: Some(MAX_BINARY_WORDS),
        nesting_limit: 64,
    };
    let mut slice = bytes.as_slice();
    let message = capnp::serialize::read_message_from_flat_slice(&mut slice, options)
        .map_err(|e| no_pos(path, format!("not a binary config message: {e}")))?;
    let reader = message
        .get_root::<config_capnp::config::Reader<'_>>()
        .map_err(|e| no_pos(path, format!("not a binary config message: {e}")))?;
    let config = finish(reader, path, None, overrides)?;
    Ok(Loaded {
        config,
        files: vec![path.to_path_buf()],
    })
}
