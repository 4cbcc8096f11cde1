//! Names of schema types and fields as a config spells them, and the
//! resolution of a constant's declared type (`Workerd.Worker`) to one.

use capnp::introspect::{Type, TypeVariant};
use capnp::schema::{EnumSchema, Field, StructSchema};
use capnp::schema_capnp::field;

use crate::error::ConfigError;
use crate::sources::{FileId, Scope, Sources};
use crate::text::ast::TypeExpr;

/// A struct type's name as the schema spells it, e.g. `Worker.Module`.
pub fn struct_name(schema: StructSchema) -> String {
    let name = schema
        .get_proto()
        .get_display_name()
        .ok()
        .and_then(|t| t.to_str().ok())
        .unwrap_or("?");
    name.split_once(':').map(|(_, n)| n).unwrap_or(name).to_string()
}

pub fn enum_name(schema: EnumSchema) -> String {
    let name = schema
        .get_proto()
        .get_display_name()
        .ok()
        .and_then(|t| t.to_str().ok())
        .unwrap_or("?");
    name.split_once(':').map(|(_, n)| n).unwrap_or(name).to_string()
}

/// A type's name as written in a config, e.g. `List(Worker.Module)`.
pub fn type_name(ty: Type) -> String {
    match ty.which() {
        TypeVariant::Void => "Void".into(),
        TypeVariant::Bool => "Bool".into(),
        TypeVariant::Int8 => "Int8".into(),
        TypeVariant::Int16 => "Int16".into(),
        TypeVariant::Int32 => "Int32".into(),
        TypeVariant::Int64 => "Int64".into(),
        TypeVariant::UInt8 => "UInt8".into(),
        TypeVariant::UInt16 => "UInt16".into(),
        TypeVariant::UInt32 => "UInt32".into(),
        TypeVariant::UInt64 => "UInt64".into(),
        TypeVariant::Float32 => "Float32".into(),
        TypeVariant::Float64 => "Float64".into(),
        TypeVariant::Text => "Text".into(),
        TypeVariant::Data => "Data".into(),
        TypeVariant::Struct(s) => struct_name(s.into()),
        TypeVariant::Enum(e) => enum_name(e.into()),
        TypeVariant::List(inner) => format!("List({})", type_name(inner)),
        TypeVariant::AnyPointer => "AnyPointer".into(),
        TypeVariant::Capability => "Capability".into(),
    }
}

/// Fields of workerd's schema that isoproxy's schema leaves out: naming one
/// is "not supported", not a typo.
pub const WORKERD_ONLY_FIELDS: &[&str] = &[
    "durableObjectNamespaces",
    "durableObjectUniqueKeyModifier",
    "durableObjectStorage",
    "moduleFallback",
    "tails",
    "streamingTails",
    "containerEngine",
    "pythonModule",
    "pythonRequirement",
    "memoryCache",
    "analyticsEngine",
    "hyperdrive",
    "unsafeEval",
    "workerd",
    "workerLoader",
    "durableObjectClass",
    "actorClass",
    "workerdDebugPort",
];

pub const BUILTIN_TYPES: [&str; 14] = [
    "Void", "Bool", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64",
    "Text", "Data",
];

pub fn field_name(f: Field) -> String {
    f.get_proto()
        .get_name()
        .ok()
        .and_then(|n| n.to_str().ok())
        .unwrap_or("?")
        .to_string()
}

pub fn is_union_member(f: Field) -> bool {
    f.get_proto().get_discriminant_value() != field::NO_DISCRIMINANT
}

/// The name of the declared type of a constant, in schema terms
/// (`Config`, `List(Text)`), or an error naming what is unknown.
pub fn declared_type_of(src: &Sources, file: FileId, ty: &TypeExpr) -> Result<String, ConfigError> {
    let first = ty.path.first().map(String::as_str).unwrap_or("");
    let mut name = if ty.path.len() == 1 && BUILTIN_TYPES.contains(&first) {
        first.to_string()
    } else {
        match src.files.get(file).and_then(|f| f.aliases.get(first)) {
            Some(Scope::Schema(prefix)) => {
                let mut parts: Vec<String> = prefix.clone();
                parts.extend(ty.path.iter().skip(1).cloned());
                parts.join(".")
            }
            _ => {
                return Err(src.error(
                    file,
                    ty.pos,
                    "",
                    format!(
                    "unknown type `{}`: import the schema with `using Workerd = import \"/workerd/workerd.capnp\";`",
                    ty.path.join(".")
                ),
                ))
            }
        }
    };
    for _ in 0..ty.list_depth {
        name = format!("List({name})");
    }
    Ok(name)
}
