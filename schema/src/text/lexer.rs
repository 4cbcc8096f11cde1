//! The tokenizer for the Cap'n Proto text form: identifiers, numbers, strings
//! (with the C-style escapes Cap'n Proto accepts), hex data literals,
//! punctuation and `#` comments, each token with its line and column.

use super::{Pos, SyntaxError};

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name: `const`, `Workerd`, `true`, `myConst`.
    Ident(String),
    /// A double-quoted string, escapes decoded (bytes: `\x` may make non-UTF-8).
    Str(Vec<u8>),
    /// A hex data literal `0x"0a 0b"`.
    HexData(Vec<u8>),
    /// An integer literal (decimal, `0x` hex or leading-zero octal).
    Int(u64),
    /// A floating-point literal.
    Float(f64),
    /// One punctuation character: `( ) [ ] = , ; : . - @ $ { }`.
    Punct(char),
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token is named in "expected X, got Y" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(_) => "a string".into(),
            Tok::HexData(_) => "a data literal".into(),
            Tok::Int(_) | Tok::Float(_) => "a number".into(),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::Eof => "the end of the file".into(),
        }
    }
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its first character.
    pub pos: Pos,
}

struct Lexer<'a> {
    src: &'a [u8],
    i: usize,
    line: u32,
    col: u32,
}

/// Split `src` into tokens; the last one is [`Tok::Eof`].
pub fn lex(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut lx = Lexer {
        src: src.as_bytes(),
        i: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    loop {
        lx.skip_space_and_comments();
        let pos = lx.pos();
        let Some(c) = lx.peek() else {
            out.push(Token { tok: Tok::Eof, pos });
            return Ok(out);
        };
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            Tok::Ident(lx.ident())
        } else if c.is_ascii_digit() {
            lx.number(pos)?
        } else if c == b'"' {
            Tok::Str(lx.string(pos)?)
        } else if b"()[]=,;:.-@${}".contains(&c) {
            lx.bump();
            Tok::Punct(c as char)
        } else {
            let ch = src.get(lx.i..).and_then(|s| s.chars().next()).unwrap_or('?');
            return Err(SyntaxError::new(pos, format!("unexpected character {ch:?}")));
        };
        out.push(Token { tok, pos });
    }
}

impl Lexer<'_> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.i).copied()
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.src.get(self.i + n).copied()
    }

    /// Advance one byte, keeping line and column (in characters) right.
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if c & 0xC0 != 0x80 {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_space_and_comments(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() {
                self.bump();
            } else if c == b'#' {
                while let Some(c) = self.peek() {
                    if c == b'\n' {
                        break;
                    }
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.bump();
        }
        String::from_utf8_lossy(&self.src[start..self.i]).into_owned()
    }

    fn number(&mut self, pos: Pos) -> Result<Tok, SyntaxError> {
        // Hex integer or hex data literal.
        if self.peek() == Some(b'0') && matches!(self.peek_at(1), Some(b'x' | b'X')) {
            if self.peek_at(2) == Some(b'"') {
                self.bump();
                self.bump();
                return self.hex_data(pos);
            }
            self.bump();
            self.bump();
            let start = self.i;
            while matches!(self.peek(), Some(c) if c.is_ascii_hexdigit()) {
                self.bump();
            }
            let digits = std::str::from_utf8(&self.src[start..self.i]).unwrap_or("");
            if digits.is_empty() {
                return Err(SyntaxError::new(pos, "expected hex digits after `0x`"));
            }
            self.no_trailing_junk(pos)?;
            return u64::from_str_radix(digits, 16)
                .map(Tok::Int)
                .map_err(|_| SyntaxError::new(pos, "integer literal too large (more than 64 bits)"));
        }
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.bump();
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.peek_at(1), Some(c) if c.is_ascii_digit()) {
            is_float = true;
            self.bump();
            while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                self.bump();
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some(b'+' | b'-')));
            if matches!(self.peek_at(1 + sign), Some(c) if c.is_ascii_digit()) {
                is_float = true;
                self.bump();
                if sign == 1 {
                    self.bump();
                }
                while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                    self.bump();
                }
            }
        }
        self.no_trailing_junk(pos)?;
        let text = std::str::from_utf8(&self.src[start..self.i]).unwrap_or("");
        if is_float {
            return text
                .parse::<f64>()
                .map(Tok::Float)
                .map_err(|_| SyntaxError::new(pos, format!("invalid number {text:?}")));
        }
        let (digits, radix) = if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
        u64::from_str_radix(digits, radix).map(Tok::Int).map_err(|_| {
            if radix == 8 {
                SyntaxError::new(pos, format!("invalid octal literal {text:?} (a leading 0 means octal)"))
            } else {
                SyntaxError::new(pos, "integer literal too large (more than 64 bits)")
            }
        })
    }

    /// A number must not run straight into a letter, `_` or `.`.
    fn no_trailing_junk(&self, pos: Pos) -> Result<(), SyntaxError> {
        match self.peek() {
            Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' => Err(SyntaxError::new(
                pos,
                format!("malformed number: unexpected {:?}", c as char),
            )),
            _ => Ok(()),
        }
    }

    fn hex_data(&mut self, pos: Pos) -> Result<Tok, SyntaxError> {
        self.bump(); // the opening quote
        let mut out = Vec::new();
        let mut half: Option<u8> = None;
        loop {
            let here = self.pos();
            match self.bump() {
                None => return Err(SyntaxError::new(pos, "unterminated data literal")),
                Some(b'"') => break,
                Some(c) if c.is_ascii_whitespace() && half.is_none() => {}
                Some(c) if c.is_ascii_hexdigit() => {
                    let v = hex_val(c);
                    match half.take() {
                        None => half = Some(v),
                        Some(h) => out.push(h << 4 | v),
                    }
                }
                Some(_) => return Err(SyntaxError::new(here, "expected hex digits in data literal")),
            }
        }
        if half.is_some() {
            return Err(SyntaxError::new(pos, "odd number of hex digits in data literal"));
        }
        Ok(Tok::HexData(out))
    }

    fn string(&mut self, pos: Pos) -> Result<Vec<u8>, SyntaxError> {
        self.bump(); // the opening quote
        let mut out = Vec::new();
        loop {
            let here = self.pos();
            match self.bump() {
                None | Some(b'\n') => return Err(SyntaxError::new(pos, "unterminated string (missing `\"`)")),
                Some(b'"') => return Ok(out),
                Some(b'\\') => self.escape(here, &mut out)?,
                Some(c) => out.push(c),
            }
        }
    }

    /// Decode one escape after the backslash: `\a \b \f \n \r \t \v \' \" \\ \?`,
    /// `\xHH` and octal `\o`, `\oo`, `\ooo`, as Cap'n Proto's lexer does.
    fn escape(&mut self, here: Pos, out: &mut Vec<u8>) -> Result<(), SyntaxError> {
        let Some(c) = self.bump() else {
            return Err(SyntaxError::new(here, "unterminated string (missing `\"`)"));
        };
        let b = match c {
            b'a' => 0x07,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'\'' | b'"' | b'\\' | b'?' => c,
            b'x' => {
                let (Some(h), Some(l)) = (self.peek(), self.peek_at(1)) else {
                    return Err(SyntaxError::new(here, "`\\x` needs two hex digits"));
                };
                if !h.is_ascii_hexdigit() || !l.is_ascii_hexdigit() {
                    return Err(SyntaxError::new(here, "`\\x` needs two hex digits"));
                }
                self.bump();
                self.bump();
                hex_val(h) << 4 | hex_val(l)
            }
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            self.bump();
                            v = v << 3 | u32::from(d - b'0');
                        }
                        _ => break,
                    }
                }
                // Like Cap'n Proto, keep the low eight bits.
                (v & 0xff) as u8
            }
            other => {
                return Err(SyntaxError::new(
                    here,
                    format!("unknown escape `\\{}` in string", other as char),
                ))
            }
        };
        out.push(b);
        Ok(())
    }
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn idents_punct_and_comments() {
        assert_eq!(
            toks("const a :T = .b; # comment\n"),
            vec![
                Tok::Ident("const".into()),
                Tok::Ident("a".into()),
                Tok::Punct(':'),
                Tok::Ident("T".into()),
                Tok::Punct('='),
                Tok::Punct('.'),
                Tok::Ident("b".into()),
                Tok::Punct(';'),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("42"), vec![Tok::Int(42), Tok::Eof]);
        assert_eq!(toks("0x1F"), vec![Tok::Int(31), Tok::Eof]);
        assert_eq!(toks("017"), vec![Tok::Int(15), Tok::Eof]);
        assert_eq!(toks("0"), vec![Tok::Int(0), Tok::Eof]);
        assert_eq!(toks("1.5"), vec![Tok::Float(1.5), Tok::Eof]);
        assert_eq!(toks("2e3"), vec![Tok::Float(2000.0), Tok::Eof]);
        assert_eq!(toks("-1"), vec![Tok::Punct('-'), Tok::Int(1), Tok::Eof]);
        assert!(lex("08").is_err());
        assert!(lex("12abc").is_err());
        assert!(lex("99999999999999999999999").is_err());
        assert!(lex("0x").is_err());
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            toks(r#""a\n\t\\\"\x41\101\?""#),
            vec![Tok::Str(b"a\n\t\\\"AA?".to_vec()), Tok::Eof]
        );
        assert_eq!(toks("\"héllo\""), vec![Tok::Str("héllo".as_bytes().to_vec()), Tok::Eof]);
        assert!(lex(r#""\q""#).is_err());
        assert!(lex(r#""\x4""#).is_err());
        assert!(lex("\"abc").is_err());
        assert!(lex("\"ab\nc\"").is_err());
    }

    #[test]
    fn hex_data() {
        assert_eq!(toks(r#"0x"0a 0B ff""#), vec![Tok::HexData(vec![10, 11, 255]), Tok::Eof]);
        assert!(lex(r#"0x"0a 0""#).is_err());
        assert!(lex(r#"0x"zz""#).is_err());
    }

    #[test]
    fn positions_count_characters() {
        let t = lex("é = 1\n  x").unwrap_or_default();
        assert!(t.is_empty(), "é is not an identifier character");
        let t = lex("\"é\" x\n  y").unwrap();
        assert_eq!(t[1].pos, Pos { line: 1, col: 5 });
        assert_eq!(t[2].pos, Pos { line: 2, col: 3 });
    }
}
