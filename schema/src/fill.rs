//! Filling a Cap'n Proto message from the syntax tree, through the schema's
//! run-time introspection: fields are looked up by name, their types and
//! union membership come from the generated schema nodes, so a new schema
//! field needs no change here. While filling, a [`SourceMap`] records where
//! each field path was written.

use std::collections::HashMap;
use std::path::Path;

use capnp::dynamic_list;
use capnp::dynamic_struct;
use capnp::dynamic_value;
use capnp::introspect::{Type, TypeVariant};
use capnp::schema::{EnumSchema, Field};
use capnp::schema_capnp::field;

use crate::error::ConfigError;
pub use crate::sourcemap::SourceMap;
use crate::sourcemap::{join, Loc, MAX_RECORDED_PATH};
use crate::sources::{FileId, Scope, Sources};
use crate::text::ast::{Const, TypeExpr, Value, ValueKind};
use crate::text::Pos;
pub use crate::types::declared_type_of;
use crate::types::{enum_name, field_name, is_union_member, struct_name, type_name, WORKERD_ONLY_FIELDS};

/// Deepest chain of constant references followed.
const MAX_REF_DEPTH: usize = 64;

/// Most structs and list elements one config may expand to (constants can
/// be referred to many times, so expansion could otherwise be exponential).
const MAX_VALUES: usize = 100_000;

/// Turns a capnp library error into a config error at a place.
fn internal(src: &Sources, file: FileId, pos: Pos, path: &str, e: capnp::Error) -> ConfigError {
    src.error(file, pos, path, format!("cannot build the message: {e}"))
}

/// An owned scalar about to be stored.
enum Scalar {
    Void,
    Bool(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    UInt8(u8),
    UInt16(u16),
    UInt32(u32),
    UInt64(u64),
    Float32(f32),
    Float64(f64),
    Text(String),
    Data(Vec<u8>),
    Enum(u16, EnumSchema),
}

impl Scalar {
    fn reader(&self) -> dynamic_value::Reader<'_> {
        match self {
            Scalar::Void => dynamic_value::Reader::Void,
            Scalar::Bool(v) => (*v).into(),
            Scalar::Int8(v) => (*v).into(),
            Scalar::Int16(v) => (*v).into(),
            Scalar::Int32(v) => (*v).into(),
            Scalar::Int64(v) => (*v).into(),
            Scalar::UInt8(v) => (*v).into(),
            Scalar::UInt16(v) => (*v).into(),
            Scalar::UInt32(v) => (*v).into(),
            Scalar::UInt64(v) => (*v).into(),
            Scalar::Float32(v) => (*v).into(),
            Scalar::Float64(v) => (*v).into(),
            Scalar::Text(s) => dynamic_value::Reader::Text(s.as_str().into()),
            Scalar::Data(d) => dynamic_value::Reader::Data(d),
            Scalar::Enum(v, s) => dynamic_value::Enum::new(*v, *s).into(),
        }
    }
}

/// Fills messages from the parsed sources.
pub struct Filler<'s> {
    src: &'s mut Sources,
    map: SourceMap,
    /// Constants being expanded, to catch cycles.
    stack: Vec<(FileId, String)>,
    /// Structs and list elements filled so far.
    values: usize,
}

impl<'s> Filler<'s> {
    /// A filler over `src`.
    pub fn new(src: &'s mut Sources) -> Self {
        let files = src.files.iter().map(|f| f.path.clone()).collect();
        Self {
            src,
            map: SourceMap {
                entries: HashMap::new(),
                files,
            },
            stack: Vec::new(),
            values: 0,
        }
    }

    /// The source map recorded so far.
    pub fn into_source_map(self) -> SourceMap {
        self.map
    }

    /// Count one more value; an error when the config grows too large.
    fn count(&mut self, file: FileId, pos: Pos, path: &str) -> Result<(), ConfigError> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.src.error(
                file,
                pos,
                path,
                format!("config too large: more than {MAX_VALUES} structs and list elements after expanding constants"),
            ));
        }
        Ok(())
    }

    fn record(&mut self, path: &str, file: FileId, pos: Pos) {
        if path.len() > MAX_RECORDED_PATH {
            return;
        }
        self.map.entries.entry(path.to_string()).or_insert(Loc { file, pos });
    }

    /// Fill `b` (a struct of the constant's type) from constant `name` of the
    /// main file.
    pub fn fill_root(&mut self, b: dynamic_struct::Builder<'_>, name: &str) -> Result<(), ConfigError> {
        let Some(c) = self.src.files.first().and_then(|f| f.constant(name)).cloned() else {
            return Err(self
                .src
                .error(0, Pos::default(), "", format!("no constant named `{name}`")));
        };
        self.record("", 0, c.value.pos);
        self.stack.push((0, c.name.clone()));
        let r = self.fill_struct(b, &c.value, 0, "");
        self.stack.pop();
        r
    }

    /// The name of the declared type of a constant.
    pub fn declared_type(&self, file: FileId, ty: &TypeExpr) -> Result<String, ConfigError> {
        declared_type_of(self.src, file, ty)
    }

    /// Follow a reference to its constant: `(file, const)`.
    fn resolve_ref(
        &self,
        file: FileId,
        pos: Pos,
        path: &str,
        absolute: bool,
        names: &[String],
    ) -> Result<(FileId, Const), ConfigError> {
        let shown = if absolute {
            format!(".{}", names.join("."))
        } else {
            names.join(".")
        };
        let unknown = || self.src.error(file, pos, path, format!("unknown constant `{shown}`"));
        let (target, name) = match names {
            [name] => (file, name),
            [alias, name] if !absolute => match self.src.files.get(file).and_then(|f| f.aliases.get(alias)) {
                Some(Scope::File(f)) => (*f, name),
                _ => return Err(unknown()),
            },
            _ => {
                return Err(self.src.error(
                    file,
                    pos,
                    path,
                    format!("`{shown}`: referring to a member of a constant is not supported"),
                ))
            }
        };
        match self.src.files.get(target).and_then(|f| f.constant(name)) {
            Some(c) => Ok((target, c.clone())),
            None => Err(unknown()),
        }
    }

    /// Follow `value` through constant references (checking each constant's
    /// declared type against `expected`) to a literal.
    fn deref(
        &mut self,
        value: &Value,
        file: FileId,
        path: &str,
        expected: Type,
    ) -> Result<(Value, FileId), ConfigError> {
        let mut value = value.clone();
        let mut file = file;
        for _ in 0..MAX_REF_DEPTH {
            let (absolute, names) = match &value.kind {
                ValueKind::Ref { absolute, path } => (*absolute, path.clone()),
                ValueKind::Ident(n) if self.src.files.get(file).is_some_and(|f| f.constant(n).is_some()) => {
                    (true, vec![n.clone()])
                }
                _ => return Ok((value, file)),
            };
            let (cfile, c) = self.resolve_ref(file, value.pos, path, absolute, &names)?;
            let declared = self.declared_type(cfile, &c.ty)?;
            let want = type_name(expected);
            if declared != want {
                return Err(self.src.error(
                    file,
                    value.pos,
                    path,
                    format!("expected {want}, but constant `{}` is a {declared}", c.name),
                ));
            }
            value = c.value.clone();
            file = cfile;
        }
        Err(self
            .src
            .error(file, value.pos, path, "constant references nest too deeply (a cycle?)"))
    }

    /// Fill struct builder `b` from `value`.
    fn fill_struct(
        &mut self,
        mut b: dynamic_struct::Builder<'_>,
        value: &Value,
        file: FileId,
        path: &str,
    ) -> Result<(), ConfigError> {
        self.count(file, value.pos, path)?;
        let schema = b.get_schema();
        let ty: Type = TypeVariant::Struct(schema.into()).into();
        if self.stack.len() > MAX_REF_DEPTH {
            return Err(self
                .src
                .error(file, value.pos, path, "constant references nest too deeply"));
        }
        let is_ref = matches!(value.kind, ValueKind::Ref { .. })
            || matches!(&value.kind, ValueKind::Ident(n) if self.src.files.get(file).is_some_and(|f| f.constant(n).is_some()));
        if is_ref {
            let (v, f) = self.deref(value, file, path, ty)?;
            let key = (f, format!("{:?}", v.pos));
            if self.stack.contains(&key) {
                return Err(self.src.error(file, value.pos, path, "constant refers to itself"));
            }
            self.stack.push(key);
            let r = self.fill_struct(b, &v, f, path);
            self.stack.pop();
            return r;
        }
        match &value.kind {
            ValueKind::Struct(fields) => {
                let mut seen: Vec<&str> = Vec::new();
                let mut union_member: Option<&str> = None;
                for fi in fields {
                    if seen.contains(&fi.name.as_str()) {
                        return Err(self.src.error(
                            file,
                            fi.pos,
                            path,
                            format!("field \"{}\" is given twice", fi.name),
                        ));
                    }
                    seen.push(&fi.name);
                    let sub = join(path, &fi.name);
                    let f = match schema.find_field_by_name(&fi.name) {
                        Ok(Some(f)) => f,
                        _ => {
                            let message = if WORKERD_ONLY_FIELDS.contains(&fi.name.as_str()) {
                                format!(
                                    "\"{}\" is a workerd feature not supported by isoproxy (no such field in {})",
                                    fi.name,
                                    struct_name(schema)
                                )
                            } else {
                                format!("unknown field \"{}\" in {}", fi.name, struct_name(schema))
                            };
                            return Err(self.src.error(file, fi.pos, &sub, message));
                        }
                    };
                    if is_union_member(f) {
                        if let Some(other) = union_member {
                            return Err(self.src.error(
                                file,
                                fi.pos,
                                &sub,
                                format!(
                                    "\"{}\" and \"{other}\" are both set, but only one of them may be",
                                    fi.name
                                ),
                            ));
                        }
                        union_member = Some(&fi.name);
                    }
                    self.record(&sub, file, fi.value.pos);
                    self.fill_field(b.reborrow(), f, &fi.value, file, &sub)?;
                }
                Ok(())
            }
            ValueKind::Text(_) | ValueKind::Embed(_) => {
                // First-field shorthand: `service = "name"` means `(name = "name")`.
                let first = schema.get_fields().ok().filter(|fs| !fs.is_empty()).map(|fs| fs.get(0));
                match first {
                    Some(f) if matches!(f.get_type().which(), TypeVariant::Text | TypeVariant::Data) => {
                        let sub = join(path, &field_name(f));
                        self.record(&sub, file, value.pos);
                        self.fill_field(b, f, value, file, &sub)
                    }
                    _ => Err(self.src.error(
                        file,
                        value.pos,
                        path,
                        format!(
                            "expected {} (a struct literal `( ... )`), got {}",
                            struct_name(schema),
                            value.kind.describe()
                        ),
                    )),
                }
            }
            other => Err(self.src.error(
                file,
                value.pos,
                path,
                format!(
                    "expected {} (a struct literal `( ... )`), got {}",
                    struct_name(schema),
                    other.describe()
                ),
            )),
        }
    }

    fn fill_field(
        &mut self,
        mut b: dynamic_struct::Builder<'_>,
        f: Field,
        value: &Value,
        file: FileId,
        path: &str,
    ) -> Result<(), ConfigError> {
        let pos = value.pos;
        let is_group = matches!(f.get_proto().which(), Ok(field::Group(_)));
        let ty = f.get_type();
        if is_group {
            let sub = b.init(f).map_err(|e| internal(self.src, file, pos, path, e))?;
            let dynamic_value::Builder::Struct(sb) = sub else {
                return Err(self.src.error(file, pos, path, "internal: a group is not a struct"));
            };
            return self.fill_struct(sb, value, file, path);
        }
        match ty.which() {
            TypeVariant::Struct(_) => {
                // Check the value's shape before touching the builder.
                let (v, vf) = self.deref(value, file, path, ty)?;
                let sub = b.init(f).map_err(|e| internal(self.src, file, pos, path, e))?;
                let dynamic_value::Builder::Struct(sb) = sub else {
                    return Err(self
                        .src
                        .error(file, pos, path, "internal: a struct field is not a struct"));
                };
                self.fill_struct(sb, &v, vf, path)
            }
            TypeVariant::List(elem) => {
                let (v, vf) = self.deref(value, file, path, ty)?;
                let ValueKind::List(items) = &v.kind else {
                    return Err(self.src.error(
                        vf,
                        v.pos,
                        path,
                        format!(
                            "expected {} (a list `[ ... ]`), got {}",
                            type_name(ty),
                            v.kind.describe()
                        ),
                    ));
                };
                let len = u32::try_from(items.len()).map_err(|_| self.src.error(vf, v.pos, path, "list too long"))?;
                let lb = b.initn(f, len).map_err(|e| internal(self.src, file, pos, path, e))?;
                let dynamic_value::Builder::List(lb) = lb else {
                    return Err(self.src.error(file, pos, path, "internal: a list field is not a list"));
                };
                self.fill_list(lb, elem, items, vf, path)
            }
            TypeVariant::AnyPointer | TypeVariant::Capability => Err(self.src.error(
                file,
                pos,
                path,
                format!("fields of type {} cannot be set in a config", type_name(ty)),
            )),
            _ => {
                let s = self.scalar(ty, value, file, path)?;
                b.set(f, s.reader()).map_err(|e| internal(self.src, file, pos, path, e))
            }
        }
    }

    fn fill_list(
        &mut self,
        mut lb: dynamic_list::Builder<'_>,
        elem: Type,
        items: &[Value],
        file: FileId,
        path: &str,
    ) -> Result<(), ConfigError> {
        for (i, item) in items.iter().enumerate() {
            let sub = format!("{path}[{i}]");
            self.count(file, item.pos, &sub)?;
            self.record(&sub, file, item.pos);
            let idx = i as u32;
            match elem.which() {
                TypeVariant::Struct(_) => {
                    let eb = lb
                        .reborrow()
                        .get(idx)
                        .map_err(|e| internal(self.src, file, item.pos, &sub, e))?;
                    let dynamic_value::Builder::Struct(sb) = eb else {
                        return Err(self.src.error(
                            file,
                            item.pos,
                            &sub,
                            "internal: a struct list element is not a struct",
                        ));
                    };
                    self.fill_struct(sb, item, file, &sub)?;
                }
                TypeVariant::List(inner) => {
                    let (v, vf) = self.deref(item, file, &sub, elem)?;
                    let ValueKind::List(inner_items) = &v.kind else {
                        return Err(self.src.error(
                            vf,
                            v.pos,
                            &sub,
                            format!(
                                "expected {} (a list `[ ... ]`), got {}",
                                type_name(elem),
                                v.kind.describe()
                            ),
                        ));
                    };
                    let len = u32::try_from(inner_items.len())
                        .map_err(|_| self.src.error(vf, v.pos, &sub, "list too long"))?;
                    let ib = lb
                        .reborrow()
                        .init(idx, len)
                        .map_err(|e| internal(self.src, file, item.pos, &sub, e))?;
                    let dynamic_value::Builder::List(ib) = ib else {
                        return Err(self
                            .src
                            .error(file, item.pos, &sub, "internal: a nested list is not a list"));
                    };
                    self.fill_list(ib, inner, inner_items, vf, &sub)?;
                }
                TypeVariant::AnyPointer | TypeVariant::Capability => {
                    return Err(self
                        .src
                        .error(file, item.pos, &sub, "this list cannot be set in a config"));
                }
                _ => {
                    let s = self.scalar(elem, item, file, &sub)?;
                    lb.set(idx, s.reader())
                        .map_err(|e| internal(self.src, file, item.pos, &sub, e))?;
                }
            }
        }
        Ok(())
    }

    /// Read an embedded file, relative to the file that names it.
    fn embed(&mut self, file: FileId, pos: Pos, path: &str, name: &str) -> Result<Vec<u8>, ConfigError> {
        let base = self
            .src
            .files
            .get(file)
            .and_then(|f| f.path.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let target = base.join(name);
        match crate::sources::read_regular_file(&target) {
            Ok(bytes) => {
                self.src.note_read(&target);
                Ok(bytes)
            }
            Err(e) => Err(self.src.error(
                file,
                pos,
                path,
                format!("cannot read embedded file {}: {e}", target.display()),
            )),
        }
    }

    fn scalar(&mut self, ty: Type, value: &Value, file: FileId, path: &str) -> Result<Scalar, ConfigError> {
        let (value, file) = self.deref(value, file, path, ty)?;
        let pos = value.pos;
        let mismatch = |s: &Sources, what: &str| {
            s.error(
                file,
                pos,
                path,
                format!("expected {what}, got {}", value.kind.describe()),
            )
        };
        match ty.which() {
            TypeVariant::Void => match &value.kind {
                ValueKind::Ident(n) if n == "void" => Ok(Scalar::Void),
                ValueKind::Struct(f) if f.is_empty() => Ok(Scalar::Void),
                _ => Err(mismatch(self.src, "`void`")),
            },
            TypeVariant::Bool => match &value.kind {
                ValueKind::Ident(n) if n == "true" => Ok(Scalar::Bool(true)),
                ValueKind::Ident(n) if n == "false" => Ok(Scalar::Bool(false)),
                _ => Err(mismatch(self.src, "`true` or `false`")),
            },
            TypeVariant::Text => {
                let bytes = match &value.kind {
                    ValueKind::Text(b) => b.clone(),
                    ValueKind::Embed(name) => self.embed(file, pos, path, name)?,
                    _ => return Err(mismatch(self.src, "Text")),
                };
                String::from_utf8(bytes)
                    .map(Scalar::Text)
                    .map_err(|_| self.src.error(file, pos, path, "text is not valid UTF-8"))
            }
            TypeVariant::Data => match &value.kind {
                ValueKind::Text(b) | ValueKind::Data(b) => Ok(Scalar::Data(b.clone())),
                ValueKind::Embed(name) => Ok(Scalar::Data(self.embed(file, pos, path, name)?)),
                _ => Err(mismatch(self.src, "Data")),
            },
            TypeVariant::Enum(raw) => {
                let schema: EnumSchema = raw.into();
                let ValueKind::Ident(name) = &value.kind else {
                    return Err(mismatch(self.src, &format!("a {} name", enum_name(schema))));
                };
                let names: Vec<(u16, String)> = schema
                    .get_enumerants()
                    .map(|list| {
                        list.iter()
                            .map(|e| {
                                let n = e
                                    .get_proto()
                                    .get_name()
                                    .ok()
                                    .and_then(|t| t.to_str().ok())
                                    .unwrap_or("");
                                (e.get_ordinal(), n.to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                match names.iter().find(|(_, n)| n == name) {
                    Some((ord, _)) => Ok(Scalar::Enum(*ord, schema)),
                    None => Err(self.src.error(
                        file,
                        pos,
                        path,
                        format!(
                            "unknown {} `{name}`; expected one of: {}",
                            enum_name(schema),
                            names.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    )),
                }
            }
            TypeVariant::Float32 | TypeVariant::Float64 => {
                let x = match value.kind {
                    ValueKind::Float(x) => x,
                    ValueKind::Int { negative, magnitude } => {
                        let m = magnitude as f64;
                        if negative {
                            -m
                        } else {
                            m
                        }
                    }
                    _ => return Err(mismatch(self.src, "a number")),
                };
                if matches!(ty.which(), TypeVariant::Float32) {
                    Ok(Scalar::Float32(x as f32))
                } else {
                    Ok(Scalar::Float64(x))
                }
            }
            _ => {
                let tn = type_name(ty);
                let (negative, magnitude) = match value.kind {
                    ValueKind::Int { negative, magnitude } => (negative, magnitude),
                    _ => return Err(mismatch(self.src, &format!("an integer ({tn})"))),
                };
                let v: i128 = if negative {
                    -i128::from(magnitude)
                } else {
                    i128::from(magnitude)
                };
                let out_of_range = || self.src.error(file, pos, path, format!("{v} is out of range for {tn}"));
                Ok(match ty.which() {
                    TypeVariant::Int8 => Scalar::Int8(i8::try_from(v).map_err(|_| out_of_range())?),
                    TypeVariant::Int16 => Scalar::Int16(i16::try_from(v).map_err(|_| out_of_range())?),
                    TypeVariant::Int32 => Scalar::Int32(i32::try_from(v).map_err(|_| out_of_range())?),
                    TypeVariant::Int64 => Scalar::Int64(i64::try_from(v).map_err(|_| out_of_range())?),
                    TypeVariant::UInt8 => Scalar::UInt8(u8::try_from(v).map_err(|_| out_of_range())?),
                    TypeVariant::UInt16 => Scalar::UInt16(u16::try_from(v).map_err(|_| out_of_range())?),
                    TypeVariant::UInt32 => Scalar::UInt32(u32::try_from(v).map_err(|_| out_of_range())?),
                    TypeVariant::UInt64 => Scalar::UInt64(u64::try_from(v).map_err(|_| out_of_range())?),
                    _ => return Err(mismatch(self.src, &tn)),
                })
            }
        }
    }
}
