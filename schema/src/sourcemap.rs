//! The source map: where in which file each field path of the config was
//! written, so that validation errors can point at file:line:col.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::sources::FileId;
use crate::text::Pos;

/// Longest field path kept in the source map; deeper values are located by
/// their nearest recorded parent (keeps memory linear in the config size).
pub const MAX_RECORDED_PATH: usize = 256;

/// Where a value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// File index in [`Sources::files`].
    pub file: FileId,
    /// Position.
    pub pos: Pos,
}

/// Field path (`services[1].external.address`) to the place it was written.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    pub(crate) entries: HashMap<String, Loc>,
    pub(crate) files: Vec<PathBuf>,
}

impl SourceMap {
    /// The file and position of `path`, or of its nearest written parent.
    pub fn locate(&self, path: &str) -> Option<(PathBuf, Pos)> {
        let mut p = path;
        loop {
            if let Some(loc) = self.entries.get(p) {
                return Some((self.files.get(loc.file).cloned().unwrap_or_default(), loc.pos));
            }
            if p.is_empty() {
                return None;
            }
            p = parent_path(p);
        }
    }
}

/// `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> ``.
pub fn parent_path(p: &str) -> &str {
    if let Some(stripped) = p.strip_suffix(']') {
        if let Some(i) = stripped.rfind('[') {
            return &p[..i];
        }
    }
    match p.rfind('.') {
        Some(i) => &p[..i],
        None => "",
    }
}

pub fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::parent_path;

    #[test]
    fn parents() {
        assert_eq!(parent_path("services[1].external.address"), "services[1].external");
        assert_eq!(parent_path("services[1].external"), "services[1]");
        assert_eq!(parent_path("services[1]"), "services");
        assert_eq!(parent_path("services"), "");
    }
}
