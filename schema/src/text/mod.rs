//! The Cap'n Proto text form: the only place that knows its syntax.
//!
//! [`lexer`] turns a file into tokens, [`parser`] turns tokens into the
//! [`ast`] of `using` and `const` declarations with positions on every value.

pub mod ast;
pub mod lexer;
pub mod parser;

use std::fmt;

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A syntax error at a position of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where.
    pub pos: Pos,
    /// What was expected, what was found.
    pub message: String,
}

impl SyntaxError {
    /// A new error.
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
        }
    }
}

/// Parse a whole file.
pub fn parse_file(src: &str) -> Result<ast::File, SyntaxError> {
    let tokens = lexer::lex(src)?;
    parser::parse(&tokens)
}
