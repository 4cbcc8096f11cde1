//! The parser: tokens to [`ast::File`]. Recursive descent with a nesting
//! limit, so no input can exhaust the stack.

use super::ast::{Const, FieldInit, File, TypeExpr, Using, UsingTarget, Value, ValueKind};
use super::lexer::{Tok, Token};
use super::{Pos, SyntaxError};

/// Deepest nesting of struct and list literals accepted.
pub const MAX_DEPTH: u32 = 64;

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
}

/// Parse a token stream that ends with [`Tok::Eof`].
pub fn parse(toks: &[Token]) -> Result<File, SyntaxError> {
    let mut p = Parser { toks, i: 0 };
    let mut file = File::default();
    loop {
        let t = p.peek();
        match &t.tok {
            Tok::Eof => return Ok(file),
            Tok::Punct('@') => {
                // The file id, `@0x...;`: accepted and ignored.
                p.next();
                p.expect_int()?;
                p.expect_punct(';')?;
            }
            Tok::Ident(k) if k == "using" => {
                p.next();
                file.usings.push(p.using(t.pos)?);
            }
            Tok::Ident(k) if k == "const" => {
                p.next();
                file.consts.push(p.constant()?);
            }
            Tok::Ident(k) if matches!(k.as_str(), "struct" | "enum" | "interface" | "annotation") => {
                return Err(SyntaxError::new(
                    t.pos,
                    format!("declaring types (`{k}`) is not supported in a config file; import the schema instead"),
                ));
            }
            other => {
                return Err(SyntaxError::new(
                    t.pos,
                    format!("expected `using` or `const`, got {}", other.describe()),
                ))
            }
        }
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &'a Token {
        // The lexer always ends the stream with Eof; never step past it.
        &self.toks[self.i.min(self.toks.len().saturating_sub(1))]
    }

    fn next(&mut self) -> &'a Token {
        let t = self.peek();
        if t.tok != Tok::Eof {
            self.i += 1;
        }
        t
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek().tok == Tok::Punct(c)
    }

    fn expect_punct(&mut self, c: char) -> Result<Pos, SyntaxError> {
        let t = self.peek();
        if t.tok == Tok::Punct(c) {
            self.next();
            Ok(t.pos)
        } else {
            Err(SyntaxError::new(
                t.pos,
                format!("expected `{c}`, got {}", t.tok.describe()),
            ))
        }
    }

    fn expect_ident(&mut self, what: &str) -> Result<(String, Pos), SyntaxError> {
        let t = self.peek();
        match &t.tok {
            Tok::Ident(s) => {
                self.next();
                Ok((s.clone(), t.pos))
            }
            other => Err(SyntaxError::new(
                t.pos,
                format!("expected {what}, got {}", other.describe()),
            )),
        }
    }

    fn expect_int(&mut self) -> Result<u64, SyntaxError> {
        let t = self.peek();
        match t.tok {
            Tok::Int(v) => {
                self.next();
                Ok(v)
            }
            ref other => Err(SyntaxError::new(
                t.pos,
                format!("expected an integer, got {}", other.describe()),
            )),
        }
    }

    fn expect_str(&mut self, what: &str) -> Result<String, SyntaxError> {
        let t = self.peek();
        match &t.tok {
            Tok::Str(b) => {
                self.next();
                String::from_utf8(b.clone()).map_err(|_| SyntaxError::new(t.pos, format!("{what} is not valid UTF-8")))
            }
            other => Err(SyntaxError::new(
                t.pos,
                format!("expected {what}, got {}", other.describe()),
            )),
        }
    }

    /// `.Ident` repeated.
    fn dotted_tail(&mut self, path: &mut Vec<String>) -> Result<(), SyntaxError> {
        while self.is_punct('.') {
            self.next();
            path.push(self.expect_ident("a name after `.`")?.0);
        }
        Ok(())
    }

    fn using(&mut self, pos: Pos) -> Result<Using, SyntaxError> {
        let (name, _) = self.expect_ident("a name after `using`")?;
        self.expect_punct('=')?;
        let t = self.peek();
        let target = match &t.tok {
            Tok::Ident(k) if k == "import" => {
                self.next();
                let path = self.expect_str("an import path string")?;
                let mut members = Vec::new();
                self.dotted_tail(&mut members)?;
                UsingTarget::Import { path, members }
            }
            Tok::Ident(_) => {
                let (first, _) = self.expect_ident("a name")?;
                let mut path = vec![first];
                self.dotted_tail(&mut path)?;
                UsingTarget::Name(path)
            }
            other => {
                return Err(SyntaxError::new(
                    t.pos,
                    format!("expected `import \"...\"` or a name, got {}", other.describe()),
                ))
            }
        };
        self.expect_punct(';')?;
        Ok(Using { name, pos, target })
    }

    fn constant(&mut self) -> Result<Const, SyntaxError> {
        let (name, pos) = self.expect_ident("a constant name")?;
        self.expect_punct(':')?;
        let ty = self.type_expr(0)?;
        self.expect_punct('=')?;
        let value = self.value(0)?;
        self.expect_punct(';')?;
        Ok(Const { name, pos, ty, value })
    }

    fn type_expr(&mut self, depth: u32) -> Result<TypeExpr, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError::new(self.peek().pos, "type nested too deeply"));
        }
        let (first, pos) = self.expect_ident("a type")?;
        if first == "List" && self.is_punct('(') {
            self.next();
            let mut inner = self.type_expr(depth + 1)?;
            self.expect_punct(')')?;
            inner.list_depth += 1;
            inner.pos = pos;
            return Ok(inner);
        }
        let mut path = vec![first];
        self.dotted_tail(&mut path)?;
        Ok(TypeExpr {
            path,
            list_depth: 0,
            pos,
        })
    }

    fn value(&mut self, depth: u32) -> Result<Value, SyntaxError> {
        let t = self.next();
        let pos = t.pos;
        if depth > MAX_DEPTH {
            return Err(SyntaxError::new(
                pos,
                format!("value nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        let kind = match &t.tok {
            Tok::Punct('(') if self.starts_single_value() => {
                // `( value )` is just the value, as in Cap'n Proto.
                let inner = self.value(depth + 1)?;
                self.expect_punct(')')?;
                return Ok(inner);
            }
            Tok::Punct('(') => ValueKind::Struct(self.struct_body(depth)?),
            Tok::Punct('[') => {
                let mut items = Vec::new();
                while !self.is_punct(']') {
                    items.push(self.value(depth + 1)?);
                    if !self.is_punct(']') {
                        self.comma_or(']')?;
                    }
                }
                self.next();
                ValueKind::List(items)
            }
            Tok::Str(s) => {
                let mut s = s.clone();
                // Adjacent string literals are joined, as in Cap'n Proto.
                while let Tok::Str(more) = &self.peek().tok {
                    s.extend_from_slice(more);
                    self.next();
                }
                ValueKind::Text(s)
            }
            Tok::HexData(d) => ValueKind::Data(d.clone()),
            Tok::Int(v) => ValueKind::Int {
                negative: false,
                magnitude: *v,
            },
            Tok::Float(f) => ValueKind::Float(*f),
            Tok::Punct('-') => {
                let n = self.next();
                match &n.tok {
                    Tok::Int(v) => ValueKind::Int {
                        negative: true,
                        magnitude: *v,
                    },
                    Tok::Float(f) => ValueKind::Float(-f),
                    Tok::Ident(s) if s == "inf" => ValueKind::Float(f64::NEG_INFINITY),
                    other => {
                        return Err(SyntaxError::new(
                            n.pos,
                            format!("expected a number after `-`, got {}", other.describe()),
                        ))
                    }
                }
            }
            Tok::Punct('.') => {
                let (first, _) = self.expect_ident("a constant name after `.`")?;
                let mut path = vec![first];
                self.dotted_tail(&mut path)?;
                ValueKind::Ref { absolute: true, path }
            }
            Tok::Ident(k) if k == "embed" && matches!(self.peek().tok, Tok::Str(_)) => {
                ValueKind::Embed(self.expect_str("a file name")?)
            }
            Tok::Ident(s) => {
                if self.is_punct('.') {
                    let mut path = vec![s.clone()];
                    self.dotted_tail(&mut path)?;
                    ValueKind::Ref { absolute: false, path }
                } else {
                    match s.as_str() {
                        "inf" => ValueKind::Float(f64::INFINITY),
                        "nan" => ValueKind::Float(f64::NAN),
                        _ => ValueKind::Ident(s.clone()),
                    }
                }
            }
            other => {
                return Err(SyntaxError::new(
                    pos,
                    format!("expected a value, got {}", other.describe()),
                ))
            }
        };
        Ok(Value { pos, kind })
    }

    /// After `(`: whether this is `( value )` rather than a struct literal.
    fn starts_single_value(&self) -> bool {
        let first = &self.peek().tok;
        let second = self.toks.get(self.i + 1).map(|t| &t.tok);
        match first {
            Tok::Punct(')' | '=' | ',') => false,
            Tok::Ident(_) => !matches!(second, Some(Tok::Punct('='))),
            _ => true,
        }
    }

    /// After `(`: `name = value, ...` up to and including `)`.
    fn struct_body(&mut self, depth: u32) -> Result<Vec<FieldInit>, SyntaxError> {
        let mut fields = Vec::new();
        while !self.is_punct(')') {
            let t = self.peek();
            let (name, pos) = match &t.tok {
                Tok::Ident(s) => {
                    self.next();
                    (s.clone(), t.pos)
                }
                other => {
                    return Err(SyntaxError::new(
                        t.pos,
                        format!("expected a field name or `)`, got {}", other.describe()),
                    ))
                }
            };
            self.expect_punct('=')?;
            let value = self.value(depth + 1)?;
            fields.push(FieldInit { name, pos, value });
            if !self.is_punct(')') {
                self.comma_or(')')?;
            }
        }
        self.next();
        Ok(fields)
    }

    fn comma_or(&mut self, close: char) -> Result<(), SyntaxError> {
        let t = self.peek();
        if t.tok == Tok::Punct(',') {
            self.next();
            Ok(())
        } else {
            Err(SyntaxError::new(
                t.pos,
                format!("expected `,` or `{close}`, got {}", t.tok.describe()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_file;
    use super::*;

    fn err(src: &str) -> String {
        let e = parse_file(src).unwrap_err();
        format!("{}: {}", e.pos, e.message)
    }

    #[test]
    fn using_and_const() {
        let f = parse_file(
            "@0xabcdef;\nusing Workerd = import \"/workerd/workerd.capnp\";\n\
             const c :Workerd.Config = (a = 1, b = \"x\" \"y\", c = [.w, Other.v], d = embed \"f.js\",);\n\
             const l :List(Text) = [];",
        )
        .unwrap();
        assert_eq!(f.usings.len(), 1);
        assert_eq!(
            f.usings[0].target,
            UsingTarget::Import {
                path: "/workerd/workerd.capnp".into(),
                members: vec![]
            }
        );
        assert_eq!(f.consts.len(), 2);
        assert_eq!(f.consts[0].ty.path, vec!["Workerd", "Config"]);
        assert_eq!(f.consts[1].ty.list_depth, 1);
        let ValueKind::Struct(fields) = &f.consts[0].value.kind else {
            panic!("not a struct")
        };
        assert_eq!(fields.len(), 4);
        assert_eq!(fields[1].value.kind, ValueKind::Text(b"xy".to_vec()));
        assert_eq!(fields[1].pos, Pos { line: 3, col: 35 });
        let ValueKind::List(items) = &fields[2].value.kind else {
            panic!("not a list")
        };
        assert_eq!(
            items[0].kind,
            ValueKind::Ref {
                absolute: true,
                path: vec!["w".into()]
            }
        );
        assert_eq!(
            items[1].kind,
            ValueKind::Ref {
                absolute: false,
                path: vec!["Other".into(), "v".into()]
            }
        );
        assert_eq!(fields[3].value.kind, ValueKind::Embed("f.js".into()));
    }

    #[test]
    fn numbers_and_names() {
        let f = parse_file("const a :X = [-5, -1.5, inf, -inf, true, host, 0x\"ff\"];").unwrap();
        let ValueKind::List(items) = &f.consts[0].value.kind else {
            panic!("not a list")
        };
        assert_eq!(
            items[0].kind,
            ValueKind::Int {
                negative: true,
                magnitude: 5
            }
        );
        assert_eq!(items[1].kind, ValueKind::Float(-1.5));
        assert_eq!(items[2].kind, ValueKind::Float(f64::INFINITY));
        assert_eq!(items[3].kind, ValueKind::Float(f64::NEG_INFINITY));
        assert_eq!(items[4].kind, ValueKind::Ident("true".into()));
        assert_eq!(items[5].kind, ValueKind::Ident("host".into()));
        assert_eq!(items[6].kind, ValueKind::Data(vec![255]));
    }

    #[test]
    fn parenthesized_value_is_the_value() {
        let f = parse_file("const a :X = (\"s\");\nconst b :X = ((x = 1));\nconst c :X = (.d);").unwrap();
        assert_eq!(f.consts[0].value.kind, ValueKind::Text(b"s".to_vec()));
        assert!(matches!(f.consts[1].value.kind, ValueKind::Struct(ref v) if v.len() == 1));
        assert!(matches!(f.consts[2].value.kind, ValueKind::Ref { .. }));
        assert_eq!(err("const a :X = (1, 2);"), "1:16: expected `)`, got `,`");
    }

    #[test]
    fn syntax_errors_point_at_the_token() {
        assert_eq!(err("const a :X = (b = 1 c = 2);"), "1:21: expected `,` or `)`, got `c`");
        assert_eq!(
            err("const a :X = (b = 1)"),
            "1:21: expected `;`, got the end of the file"
        );
        assert_eq!(
            err("const a :X = (= 1);"),
            "1:15: expected a field name or `)`, got `=`"
        );
        assert_eq!(err("foo"), "1:1: expected `using` or `const`, got `foo`");
        assert_eq!(err("const a :X = [1,,2];"), "1:17: expected a value, got `,`");
        assert_eq!(err("const a X = 1;"), "1:9: expected `:`, got `X`");
        assert_eq!(
            err("const a :X = - \"s\";"),
            "1:16: expected a number after `-`, got a string"
        );
        assert!(err("struct Foo {}").contains("not supported"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!("const a :X = {}{};", "[".repeat(10_000), "]".repeat(10_000));
        assert!(err(&src).contains("nested too deeply"));
        let src = format!("const a :X = {};", "(a = ".repeat(10_000));
        assert!(err(&src).contains("nested too deeply"));
    }
}
