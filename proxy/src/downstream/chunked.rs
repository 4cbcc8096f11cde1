//! A strict validator for the syntax of a chunked request body (RFC 9112
//! §7.1), run over the bytes as Pingora reads them. Pingora's decoder
//! accepts `5 ` and bare-LF chunk lines; a proxy must refuse them, since
//! another parser on the path may read them differently.

/// Why the framing is refused.
pub const INVALID: &str = "invalid chunked framing";

/// Longest chunk-size in hex digits (a u64).
const MAX_DIGITS: u8 = 16;

/// Longest chunk extension or trailer line we accept.
const MAX_LINE: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size (`digits` so far).
    Size { digits: u8, value: u64 },
    /// In a chunk extension (`;name[=value]`), at position `at`.
    Ext { len: u32, size: u64, at: Ext },
    /// Saw CR after the size line; LF must follow.
    SizeLf { size: u64 },
    /// In chunk data.
    Data { left: u64 },
    /// After data: CR must follow.
    DataCr,
    /// After data CR: LF must follow.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer { len: u32 },
    /// Saw CR in a trailer line.
    TrailerLf { last: bool },
    /// The body is complete; anything after belongs to the next request.
    Done,
}

/// Where in `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )` we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ext {
    /// After `;`: BWS, then the first name character.
    NameStart,
    /// In the name.
    Name,
    /// After `=`: BWS, then a token or a quote.
    ValueStart,
    /// In a token value.
    Token,
    /// In a quoted value; `escaped` after a backslash.
    Quoted { escaped: bool },
    /// After a value or name: BWS, `;`, `=` (after a name) or the CR.
    After { name: bool },
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The next extension position, or `None` on a syntax error. CR is
/// handled by the caller.
fn ext_step(at: Ext, b: u8) -> Option<Ext> {
    let ws = b == b' ' || b == b'\t';
    Some(match at {
        Ext::NameStart if ws => Ext::NameStart,
        Ext::NameStart if is_tchar(b) => Ext::Name,
        Ext::Name if is_tchar(b) => Ext::Name,
        Ext::Name | Ext::After { name: true } if b == b'=' => Ext::ValueStart,
        Ext::Name | Ext::Token if ws => Ext::After { name: at == Ext::Name },
        Ext::Name | Ext::Token | Ext::After { .. } if b == b';' => Ext::NameStart,
        Ext::After { .. } if ws => at,
        Ext::ValueStart if ws => Ext::ValueStart,
        Ext::ValueStart if b == b'"' => Ext::Quoted { escaped: false },
        Ext::ValueStart | Ext::Token if is_tchar(b) => Ext::Token,
        Ext::Quoted { escaped: true } if b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80 => {
            Ext::Quoted { escaped: false }
        }
        Ext::Quoted { escaped: false } if b == b'\\' => Ext::Quoted { escaped: true },
        Ext::Quoted { escaped: false } if b == b'"' => Ext::After { name: false },
        Ext::Quoted { escaped: false } if b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80 => at,
        _ => return None,
    })
}

/// Incremental chunked-syntax checker.
#[derive(Debug, Clone)]
pub struct ChunkedCheck {
    state: State,
}

impl Default for ChunkedCheck {
    fn default() -> Self {
        ChunkedCheck {
            state: State::Size { digits: 0, value: 0 },
        }
    }
}

fn hex(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    }
}

impl ChunkedCheck {
    /// Whether the final chunk and trailers have been seen.
    pub fn done(&self) -> bool {
        self.state == State::Done
    }

    /// Feed the next bytes; `Err` on the first violation.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), &'static str> {
        while let Some((&b, rest)) = bytes.split_first() {
            self.state = match self.state {
                State::Done => return Ok(()),
                State::Data { left } => {
                    // Skip data in bulk.
                    let n = (left.min(bytes.len() as u64)) as usize;
                    bytes = &bytes[n..];
                    let left = left - n as u64;
                    self.state = if left == 0 { State::DataCr } else { State::Data { left } };
                    continue;
                }
                State::Size { digits, value } => match (b, hex(b)) {
                    (_, Some(d)) if digits < MAX_DIGITS => State::Size {
                        digits: digits + 1,
                        value: (value << 4) | d,
                    },
                    (b';', _) if digits > 0 => State::Ext {
                        len: 0,
                        size: value,
                        at: Ext::NameStart,
                    },
                    (b'\r', _) if digits > 0 => State::SizeLf { size: value },
                    _ => return Err(INVALID),
                },
                State::Ext { len, size, at } => match b {
                    b'\r' if matches!(at, Ext::Name | Ext::Token | Ext::After { .. }) => State::SizeLf { size },
                    _ if len >= MAX_LINE => return Err(INVALID),
                    _ => State::Ext {
                        len: len + 1,
                        size,
                        at: ext_step(at, b).ok_or(INVALID)?,
                    },
                },
                State::SizeLf { size } => match b {
                    b'\n' if size == 0 => State::TrailerStart,
                    b'\n' => State::Data { left: size },
                    _ => return Err(INVALID),
                },
                State::DataCr => match b {
                    b'\r' => State::DataLf,
                    _ => return Err(INVALID),
                },
                State::DataLf => match b {
                    b'\n' => State::Size { digits: 0, value: 0 },
                    _ => return Err(INVALID),
                },
                State::TrailerStart => match b {
                    b'\r' => State::TrailerLf { last: true },
                    b'\n' | b' ' | b'\t' | 0 => return Err(INVALID),
                    _ => State::Trailer { len: 1 },
                },
                State::Trailer { len } => match b {
                    b'\r' => State::TrailerLf { last: false },
                    b'\n' | 0 => return Err(INVALID),
                    _ if len >= MAX_LINE => return Err(INVALID),
                    _ => State::Trailer { len: len + 1 },
                },
                State::TrailerLf { last } => match b {
                    b'\n' if last => State::Done,
                    b'\n' => State::TrailerStart,
                    _ => return Err(INVALID),
                },
            };
            bytes = rest;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &[u8]) -> Result<bool, &'static str> {
        let mut c = ChunkedCheck::default();
        c.feed(body)?;
        Ok(c.done())
    }

    #[test]
    fn valid() {
        assert_eq!(check(b"5\r\nhello\r\n0\r\n\r\n"), Ok(true));
        assert_eq!(
            check(b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n"),
            Ok(true)
        );
        assert_eq!(check(b"5; a = \"q\\\"x\" ;b;c=d\r\nhello\r\n0\r\n\r\n"), Ok(true));
        assert_eq!(check(b"5\r\nhel"), Ok(false));
        // Byte at a time.
        let mut c = ChunkedCheck::default();
        for b in b"3\r\nabc\r\n0\r\n\r\n" {
            c.feed(&[*b]).unwrap();
        }
        assert!(c.done());
    }

    #[test]
    fn invalid() {
        for body in [
            &b"5 \r\nhello\r\n0\r\n\r\n"[..],
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"Z\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"0\n\r\n",
            b"5;a\nb\r\nhello\r\n0\r\n\r\n",
            b"2;\r\naa\r\n0\r\n\r\n",
            b"5;a=\"abc\";b=\"def; ghi\r\nhello\r\n0\r\n\r\n",
            b"5;a=\r\nhello\r\n0\r\n\r\n",
            b"5;=b\r\nhello\r\n0\r\n\r\n",
            b"11111111111111111\r\n",
            b"\r\n",
        ] {
            assert_eq!(check(body), Err(INVALID), "{:?}", String::from_utf8_lossy(body));
        }
    }
}
