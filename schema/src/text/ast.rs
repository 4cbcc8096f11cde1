//! The syntax tree of a text config: declarations and values, each value
//! carrying the position it was written at.

use super::Pos;

/// A parsed file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    /// `using` declarations, in file order.
    pub usings: Vec<Using>,
    /// `const` declarations, in file order.
    pub consts: Vec<Const>,
}

/// `using Name = import "path";` or `using Name = Other.Path;`.
#[derive(Debug, Clone, PartialEq)]
pub struct Using {
    /// The alias.
    pub name: String,
    /// Where the declaration is.
    pub pos: Pos,
    /// What it stands for.
    pub target: UsingTarget,
}

/// What a `using` names.
#[derive(Debug, Clone, PartialEq)]
pub enum UsingTarget {
    /// `import "path"`, optionally followed by `.Member.Path`.
    Import {
        /// The import string.
        path: String,
        /// Members selected after the import.
        members: Vec<String>,
    },
    /// A dotted name, e.g. `Workerd.Worker`.
    Name(Vec<String>),
}

/// `const name :Type = value;`.
#[derive(Debug, Clone, PartialEq)]
pub struct Const {
    /// Constant name.
    pub name: String,
    /// Position of the name.
    pub pos: Pos,
    /// Declared type.
    pub ty: TypeExpr,
    /// Value.
    pub value: Value,
}

/// A type as written: a dotted name, possibly wrapped in `List(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeExpr {
    /// Dotted name, e.g. `["Workerd", "Worker", "Module"]` or `["Text"]`.
    pub path: Vec<String>,
    /// How many `List( )` wrap it.
    pub list_depth: u32,
    /// Where the type is written.
    pub pos: Pos,
}

/// A value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Where the value starts.
    pub pos: Pos,
    /// What it is.
    pub kind: ValueKind,
}

/// One `name = value` inside a struct literal.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInit {
    /// Field name.
    pub name: String,
    /// Position of the name.
    pub pos: Pos,
    /// Value.
    pub value: Value,
}

/// The kinds of value.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// `( a = 1, b = "x" )`.
    Struct(Vec<FieldInit>),
    /// `[ 1, 2 ]`.
    List(Vec<Value>),
    /// A string (adjacent strings already joined); bytes as written.
    Text(Vec<u8>),
    /// `0x"0a0b"`.
    Data(Vec<u8>),
    /// An integer, possibly negated.
    Int {
        /// Written with a leading `-`.
        negative: bool,
        /// The digits' value.
        magnitude: u64,
    },
    /// A floating-point number (`inf`, `nan` included).
    Float(f64),
    /// A bare name: `true`, `false`, `void`, an enumerant, or a constant of
    /// this file.
    Ident(String),
    /// `.name` or `.name.member` (from the file's top level), or
    /// `Alias.name` (a constant of an imported file).
    Ref {
        /// Started with `.`.
        absolute: bool,
        /// The dotted name.
        path: Vec<String>,
    },
    /// `embed "file"`.
    Embed(String),
}

impl ValueKind {
    /// How the value is named in "expected X, got Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::Struct(_) => "a struct literal",
            ValueKind::List(_) => "a list",
            ValueKind::Text(_) => "a string",
            ValueKind::Data(_) => "a data literal",
            ValueKind::Int { .. } | ValueKind::Float(_) => "a number",
            ValueKind::Ident(_) => "a name",
            ValueKind::Ref { .. } => "a constant reference",
            ValueKind::Embed(_) => "an embed",
        }
    }
}
