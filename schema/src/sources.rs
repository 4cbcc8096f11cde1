//! Reading a text config and the config files it imports: parse each file
//! once, resolve its `using` aliases, remember every path read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use crate::text::ast::{self, UsingTarget};
use crate::text::{self, Pos};

/// Import paths that mean "isoproxy's schema".
pub const SCHEMA_IMPORTS: [&str; 2] = ["/workerd/workerd.capnp", "/isoproxy/config.capnp"];

/// Most config files one load may read through imports.
const MAX_FILES: usize = 256;

/// Index of a file in [`Sources::files`].
pub type FileId = usize;

/// What a `using` alias stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The schema, at this dotted path (empty = the file scope of the schema).
    Schema(Vec<String>),
    /// Another config file.
    File(FileId),
}

/// One parsed config file.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as reached (the main path, or relative to the importing file).
    pub path: PathBuf,
    /// Syntax tree.
    pub ast: ast::File,
    /// Resolved `using` aliases.
    pub aliases: HashMap<String, Scope>,
}

impl SourceFile {
    /// The constant `name` declared in this file.
    pub fn constant(&self, name: &str) -> Option<&ast::Const> {
        self.ast.consts.iter().find(|c| c.name == name)
    }
}

/// All config files of one load.
#[derive(Debug, Default)]
pub struct Sources {
    /// Parsed files; index 0 is the main one.
    pub files: Vec<SourceFile>,
    /// Every file read, imports and embeds included, in reading order.
    pub read: Vec<PathBuf>,
}

impl Sources {
    /// Read and parse `main` and, transitively, the config files it imports.
    pub fn load(main: &Path) -> Result<Sources, ConfigError> {
        let mut s = Sources::default();
        let mut by_path: HashMap<PathBuf, FileId> = HashMap::new();
        s.add_file(main.to_path_buf(), &mut by_path, None)?;
        let mut next = 0;
        while next < s.files.len() {
            s.resolve_aliases(next, &mut by_path)?;
            next += 1;
        }
        Ok(s)
    }

    /// Note that `path` was read (for `--watch`).
    pub fn note_read(&mut self, path: &Path) {
        if !self.read.iter().any(|p| p == path) {
            self.read.push(path.to_path_buf());
        }
    }

    /// A config error at `pos` in file `file`.
    pub fn error(&self, file: FileId, pos: Pos, field_path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.files.get(file).map(|f| f.path.clone()).unwrap_or_default(),
            line: pos.line,
            col: pos.col,
            field_path: field_path.to_string(),
            message: message.into(),
        }
    }

    fn add_file(
        &mut self,
        path: PathBuf,
        by_path: &mut HashMap<PathBuf, FileId>,
        from: Option<(FileId, Pos)>,
    ) -> Result<FileId, ConfigError> {
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if let Some(&id) = by_path.get(&key) {
            return Ok(id);
        }
        let fail = |s: &Self, msg: String| match from {
            Some((f, pos)) => s.error(f, pos, "", msg),
            None => ConfigError {
                file: path.clone(),
                line: 0,
                col: 0,
                field_path: String::new(),
                message: msg,
            },
        };
        if self.files.len() >= MAX_FILES {
            return Err(fail(self, format!("too many imported files (more than {MAX_FILES})")));
        }
        let bytes = read_regular_file(&path).map_err(|e| fail(self, format!("cannot read {}: {e}", path.display())))?;
        self.note_read(&path);
        let src = String::from_utf8(bytes).map_err(|e| {
            let pos = line_col_of_offset(e.as_bytes(), e.utf8_error().valid_up_to());
            ConfigError {
                file: path.clone(),
                line: pos.line,
                col: pos.col,
                field_path: String::new(),
                message: "the file is not valid UTF-8".into(),
            }
        })?;
        let ast = text::parse_file(&src).map_err(|e| ConfigError {
            file: path.clone(),
            line: e.pos.line,
            col: e.pos.col,
            field_path: String::new(),
            message: e.message,
        })?;
        let id = self.files.len();
        by_path.insert(key, id);
        self.files.push(SourceFile {
            path,
            ast,
            aliases: HashMap::new(),
        });
        Ok(id)
    }

    fn resolve_aliases(&mut self, id: FileId, by_path: &mut HashMap<PathBuf, FileId>) -> Result<(), ConfigError> {
        let usings = self.files[id].ast.usings.clone();
        for u in usings {
            if self.files[id].aliases.contains_key(&u.name) {
                return Err(self.error(id, u.pos, "", format!("`{}` is declared twice", u.name)));
            }
            let scope = match &u.target {
                UsingTarget::Import { path, members } => {
                    if SCHEMA_IMPORTS.contains(&path.as_str()) {
                        Scope::Schema(members.clone())
                    } else if path.starts_with('/') {
                        return Err(self.error(
                            id,
                            u.pos,
                            "",
                            format!(
                                "unknown import {path:?}: only {:?}, {:?} and relative config files can be imported",
                                SCHEMA_IMPORTS[0], SCHEMA_IMPORTS[1]
                            ),
                        ));
                    } else if !members.is_empty() {
                        return Err(self.error(
                            id,
                            u.pos,
                            "",
                            "selecting a member of an imported config file is not supported; use Alias.name in values",
                        ));
                    } else {
                        let base = self.files[id].path.parent().map(Path::to_path_buf).unwrap_or_default();
                        let target = base.join(path);
                        Scope::File(self.add_file(target, by_path, Some((id, u.pos)))?)
                    }
                }
                UsingTarget::Name(names) => {
                    let first = names.first().map(String::as_str).unwrap_or("");
                    match self.files[id].aliases.get(first) {
                        Some(Scope::Schema(prefix)) => {
                            let mut p = prefix.clone();
                            p.extend(names.iter().skip(1).cloned());
                            Scope::Schema(p)
                        }
                        Some(Scope::File(f)) if names.len() == 1 => Scope::File(*f),
                        _ => {
                            return Err(self.error(
                                id,
                                u.pos,
                                "",
                                format!("unknown name `{}` in `using`", names.join(".")),
                            ))
                        }
                    }
                }
            };
            self.files[id].aliases.insert(u.name.clone(), scope);
        }
        Ok(())
    }
}

/// Largest file a config may read or embed (256 MiB).
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Read a whole file, refusing what is not a regular file (a directory,
/// `/dev/zero`, a FIFO) or larger than [`MAX_FILE_BYTES`].
pub fn read_regular_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
        ));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut out)?;
    Ok(out)
}

/// Line and column of a byte offset.
pub fn line_col_of_offset(src: &[u8], offset: usize) -> Pos {
    let mut pos = Pos { line: 1, col: 1 };
    for &b in src.iter().take(offset) {
        if b == b'\n' {
            pos.line += 1;
            pos.col = 1;
        } else if b & 0xC0 != 0x80 {
            pos.col += 1;
        }
    }
    pos
}
