//! Just enough JSON for a node without an allocator: [`SliceWriter`] writes into a fixed
//! buffer and fails instead of growing, [`Reader`] walks a document in place.
//!
//! The reader compares object keys as they are written: a key spelled with escapes
//! (`"\u0070ower"`) does not match `power`. The master never escapes ASCII letters, and a key
//! that does not match is skipped like any unknown field, so at worst a required field is
//! reported missing and the answer counts as failed (relays OFF).

use core::fmt;

/// Nesting deeper than this is refused rather than recursed into.
pub const MAX_DEPTH: u8 = 32;

/// A [`fmt::Write`] into a fixed buffer; writing past its end fails and writes nothing more.
#[derive(Debug)]
pub struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceWriter<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// How many bytes are written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many more bytes fit.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// Forgets everything written after the first `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

impl fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len.checked_add(text.len()).ok_or(fmt::Error)?;
        let target = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        target.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// What is wrong with a JSON document, and at which byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the problem.
    pub at: usize,
    /// What was expected or found.
    pub problem: &'static str,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.problem, self.at)
    }
}

/// A cursor over a JSON document.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn error(&self, problem: &'static str) -> SyntaxError {
        SyntaxError {
            at: self.pos,
            problem,
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte that is not whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8, problem: &'static str) -> Result<(), SyntaxError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(problem))
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), SyntaxError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("unknown literal"))
        }
    }

    /// Succeeds when only whitespace is left.
    pub fn end(&mut self) -> Result<(), SyntaxError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters after the document")),
        }
    }

    /// A string's raw bytes between its quotes (escapes checked, not decoded).
    pub fn string(&mut self) -> Result<&'a [u8], SyntaxError> {
        self.expect(b'"', "expected a string")?;
        let start = self.pos;
        loop {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(self.error("unterminated string"));
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    return Ok(&self.bytes[start..self.pos - 1]);
                }
                b'\\' => {
                    self.pos += 1;
                    match self.bytes.get(self.pos) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            let hex = self.bytes.get(self.pos + 1..self.pos + 5);
                            if !hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.error("bad \\u escape"));
                            }
                            self.pos += 5;
                        }
                        _ => return Err(self.error("bad escape")),
                    }
                }
                0..=0x1f => return Err(self.error("control character in a string")),
                _ => self.pos += 1,
            }
        }
    }

    /// A non-negative integer that fits a `u64` (no sign, fraction or exponent).
    pub fn unsigned(&mut self) -> Result<u64, SyntaxError> {
        self.skip_whitespace();
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(&digit @ b'0'..=b'9') = self.bytes.get(self.pos) {
            if self.pos > start && self.bytes[start] == b'0' {
                return Err(self.error("leading zero"));
            }
            value = value
                .checked_mul(10)
                .and_then(|value| value.checked_add(u64::from(digit - b'0')))
                .ok_or(self.error("integer too large"))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a non-negative integer"));
        }
        if let Some(b'.' | b'e' | b'E') = self.bytes.get(self.pos) {
            return Err(self.error("expected an integer, found a fraction or exponent"));
        }
        Ok(value)
    }

    /// `true` or `false`.
    pub fn boolean(&mut self) -> Result<bool, SyntaxError> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => Err(self.error("expected true or false")),
        }
    }

    /// Walks an object, calling `field(key, reader)` for each member; `field` must consume
    /// the member's value (with [`skip`](Self::skip) when it does not care).
    pub fn object<E: From<SyntaxError>>(
        &mut self,
        mut field: impl FnMut(&'a [u8], &mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        self.expect(b'{', "expected an object")?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':', "expected ':' after a key")?;
            field(key, self)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or '}' in an object").into()),
            }
        }
    }

    /// Skips one value of any kind.
    pub fn skip(&mut self) -> Result<(), SyntaxError> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: u8) -> Result<(), SyntaxError> {
        if depth >= MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => self.object(|_, reader: &mut Self| reader.skip_nested(depth + 1)),
            Some(b'[') => {
                self.pos += 1;
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.skip_nested(depth + 1)?;
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(self.error("expected ',' or ']' in an array")),
                    }
                }
            }
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of document")),
        }
    }

    /// Skips a number: `-?int(.digits)?([eE][+-]?digits)?`.
    fn number(&mut self) -> Result<(), SyntaxError> {
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("expected a digit")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            self.required_digits()?;
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            self.required_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        self.digits();
        if self.pos == start {
            Err(self.error("expected a digit"))
        } else {
            Ok(())
        }
    }
}

/// Writes `text` as a JSON string, escaping quotes, backslashes and control characters.
pub fn write_string(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            c if u32::from(c) < 0x20 => write!(out, "\\u{:04x}", u32::from(c))?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;

    #[test]
    fn writer_fails_instead_of_overflowing() {
        let mut buf = [0u8; 8];
        let mut out = SliceWriter::new(&mut buf);
        assert!(out.write_str("12345").is_ok());
        assert!(out.write_str("6789").is_err(), "wrote past the end");
        assert_eq!(out.len(), 5, "a failed write must leave nothing behind");
        out.truncate(2);
        assert_eq!(out.remaining(), 6);
    }

    #[test]
    fn skips_every_kind_of_value() {
        let doc =
            br#" {"a": [1, -2.5e+3, "x\"\u00e9", true, false, null, {}, []], "b": {"c": 0}} "#;
        let mut reader = Reader::new(doc);
        assert_eq!(reader.skip(), Ok(()));
        assert_eq!(reader.end(), Ok(()));
    }

    #[test]
    fn refuses_malformed_documents() {
        for bad in [
            &br#"{"a": }"#[..],
            br#"{"a" 1}"#,
            br#"{"a": 1,}"#,
            br#"[1 2]"#,
            br#""unterminated"#,
            br#""bad \q escape""#,
            br#"01"#,
            br#"1."#,
            br#"-"#,
            br#"tru"#,
            b"\"tab\tinside\"",
        ] {
            let mut reader = Reader::new(bad);
            let result = reader.skip().and_then(|()| reader.end());
            assert!(
                result.is_err(),
                "{:?} was accepted",
                core::str::from_utf8(bad)
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_recursed() {
        let deep = [b'['; 10_000];
        assert_eq!(
            Reader::new(&deep).skip().map_err(|e| e.problem),
            Err("nested too deeply")
        );
    }

    #[test]
    fn unsigned_takes_only_plain_integers() {
        assert_eq!(
            Reader::new(b"18446744073709551615").unsigned(),
            Ok(u64::MAX)
        );
        for bad in [
            &b"18446744073709551616"[..],
            b"-1",
            b"1.0",
            b"1e3",
            b"007",
            b"x",
        ] {
            assert!(Reader::new(bad).unsigned().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut buf = [0u8; 32];
        let mut out = SliceWriter::new(&mut buf);
        write_string(&mut out, "a\"b\\c\n").expect("fits");
        let len = out.len();
        assert_eq!(&buf[..len], br#""a\"b\\c\u000a""#);
    }
}
