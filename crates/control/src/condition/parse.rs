//! Condition text → unresolved syntax tree, with the byte offset of every error.
//!
//! This is a small hand-written recursive-descent parser rather than a `winnow` grammar because
//! the tokens depend on their position: `bed-1.valve` (a node id may contain `-` and start with a
//! digit) is one operand, while `-1.5` after an operator is a number. Reading "an operand here,
//! a number there" directly from the text keeps that rule obvious and lets every error point at
//! the exact character, which is what `check` shows the user.
//!
//! Precedence, from tightest: comparison, `not`, `and`, `or`; parentheses group.

use crate::condition::CompareOp;

/// A syntax or name error inside one condition string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConditionError {
    /// Byte offset in the condition text of the offending token.
    pub offset: usize,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl ConditionError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }
}

/// A condition as written, before names are bound to nodes, sensors and outputs.
#[derive(Debug, Clone, PartialEq)]
pub enum RawCondition {
    /// `operand OP number`.
    Compare {
        /// The left side.
        operand: RawOperand,
        /// The comparison.
        op: CompareOp,
        /// The finite number on the right.
        value: f64,
    },
    /// An operand on its own: valid only when it names an output (`node.output`).
    Bare(RawOperand),
    /// `not x`.
    Not(Box<RawCondition>),
    /// `a and b ...` (at least two terms).
    And(Vec<RawCondition>),
    /// `a or b ...` (at least two terms).
    Or(Vec<RawCondition>),
}

/// `name` or `node.name` as written in a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOperand {
    /// The part before the dot, when there is one.
    pub node: Option<String>,
    /// The sensor or output name.
    pub name: String,
    /// The operand exactly as written.
    pub written: String,
    /// Byte offset of the operand in the condition text.
    pub offset: usize,
}

/// Parses a condition such as `soil_moisture < 30 and not (tank.level < 20 or bed-2.valve)`.
pub fn parse_condition(text: &str) -> Result<RawCondition, ConditionError> {
    let mut parser = Parser { text, pos: 0 };
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(ConditionError::new(
            0,
            "the condition is empty; write e.g. `soil_moisture < 30`",
        ));
    }
    let condition = parser.or()?;
    parser.skip_whitespace();
    if !parser.at_end() {
        return Err(parser.unexpected_after_term("the end of the condition"));
    }
    Ok(condition)
}

/// Whether `name` is a valid node id: `[a-z0-9][a-z0-9_-]{0,62}`.
pub fn is_valid_node_id(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Whether `name` is a valid sensor or output name: `[a-z0-9_]{1,64}`.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The node id rule, worded for error messages.
pub const NODE_ID_RULE: &str = "node ids start with a lowercase letter or digit, then use lowercase letters, digits, `_` or `-` (at most 63 characters)";

/// The sensor/output name rule, worded for error messages.
pub const NAME_RULE: &str = "names use lowercase letters, digits and `_` (1 to 64 characters)";

struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
}

impl<'t> Parser<'t> {
    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// The run of word characters at the current position (may be empty).
    fn word(&self) -> &'t str {
        let rest = self.rest();
        let len = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
        &rest[..len]
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        self.skip_whitespace();
        if self.word() == keyword {
            self.pos += keyword.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<RawCondition, ConditionError> {
        let mut terms = vec![self.and()?];
        while self.eat_keyword("or") {
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            RawCondition::Or(terms)
        })
    }

    fn and(&mut self) -> Result<RawCondition, ConditionError> {
        let mut terms = vec![self.unary()?];
        while self.eat_keyword("and") {
            terms.push(self.unary()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            RawCondition::And(terms)
        })
    }

    fn unary(&mut self) -> Result<RawCondition, ConditionError> {
        if self.eat_keyword("not") {
            return Ok(RawCondition::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<RawCondition, ConditionError> {
        self.skip_whitespace();
        if self.rest().starts_with('(') {
            let open = self.pos;
            self.pos += 1;
            let inner = self.or()?;
            self.skip_whitespace();
            if self.rest().starts_with(')') {
                self.pos += 1;
                return Ok(inner);
            }
            if self.at_end() {
                return Err(ConditionError::new(
                    open,
                    "this `(` is never closed; add a `)`",
                ));
            }
            return Err(self.unexpected_after_term("`)`"));
        }
        let operand = self.operand()?;
        self.skip_whitespace();
        match self.compare_op()? {
            Some(op) => {
                let value = self.number()?;
                Ok(RawCondition::Compare { operand, op, value })
            }
            None => Ok(RawCondition::Bare(operand)),
        }
    }

    fn operand(&mut self) -> Result<RawOperand, ConditionError> {
        let offset = self.pos;
        let word = self.word();
        if word.is_empty() {
            let found = describe_found(self.rest());
            return Err(ConditionError::new(
                offset,
                format!("expected a sensor, `node.output`, `not` or `(`, found {found}"),
            ));
        }
        if matches!(word, "and" | "or") {
            return Err(ConditionError::new(
                offset,
                format!("expected a sensor or `node.output` before `{word}`"),
            ));
        }
        self.pos += word.len();
        let mut parts = word.split('.');
        let (first, second) = (parts.next().unwrap_or_default(), parts.next());
        if parts.next().is_some() {
            return Err(ConditionError::new(
                offset,
                format!(
                    "`{word}` has too many dots; write `sensor`, `node.sensor` or `node.output`"
                ),
            ));
        }
        match second {
            None => {
                if !is_valid_name(first) {
                    return Err(ConditionError::new(
                        offset,
                        format!("invalid sensor name `{first}`: {NAME_RULE}"),
                    ));
                }
                Ok(RawOperand {
                    node: None,
                    name: first.to_owned(),
                    written: word.to_owned(),
                    offset,
                })
            }
            Some(name) => {
                if !is_valid_node_id(first) {
                    return Err(ConditionError::new(
                        offset,
                        format!("invalid node id `{first}`: {NODE_ID_RULE}"),
                    ));
                }
                if !is_valid_name(name) {
                    return Err(ConditionError::new(
                        offset + first.len() + 1,
                        format!("invalid sensor or output name `{name}`: {NAME_RULE}"),
                    ));
                }
                Ok(RawOperand {
                    node: Some(first.to_owned()),
                    name: name.to_owned(),
                    written: word.to_owned(),
                    offset,
                })
            }
        }
    }

    /// Reads a comparison operator if one is next; rejects look-alikes such as `=` or `=>`.
    fn compare_op(&mut self) -> Result<Option<CompareOp>, ConditionError> {
        const OPERATORS: [(&str, CompareOp); 6] = [
            ("<=", CompareOp::Le),
            (">=", CompareOp::Ge),
            ("==", CompareOp::Eq),
            ("!=", CompareOp::Ne),
            ("<", CompareOp::Lt),
            (">", CompareOp::Gt),
        ];
        let rest = self.rest();
        for (symbol, op) in OPERATORS {
            if rest.starts_with(symbol) {
                self.pos += symbol.len();
                return Ok(Some(op));
            }
        }
        for (wrong, right) in [("=>", ">="), ("=<", "<="), ("<>", "!="), ("=", "==")] {
            if rest.starts_with(wrong) {
                return Err(ConditionError::new(
                    self.pos,
                    format!("`{wrong}` is not an operator; use `{right}`"),
                ));
            }
        }
        Ok(None)
    }

    /// Reads a finite decimal number: optional sign, digits, optional fraction and exponent.
    fn number(&mut self) -> Result<f64, ConditionError> {
        self.skip_whitespace();
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut end = start;
        let digits_from = |mut at: usize| {
            while at < bytes.len() && bytes[at].is_ascii_digit() {
                at += 1;
            }
            at
        };
        if end < bytes.len() && (bytes[end] == b'+' || bytes[end] == b'-') {
            end += 1;
        }
        let integer_end = digits_from(end);
        let mut mantissa_digits = integer_end - end;
        end = integer_end;
        if end < bytes.len() && bytes[end] == b'.' {
            let fraction_end = digits_from(end + 1);
            mantissa_digits += fraction_end - (end + 1);
            end = fraction_end;
        }
        if mantissa_digits > 0 && end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
            let mut exponent = end + 1;
            if exponent < bytes.len() && (bytes[exponent] == b'+' || bytes[exponent] == b'-') {
                exponent += 1;
            }
            let exponent_end = digits_from(exponent);
            if exponent_end > exponent {
                end = exponent_end;
            }
        }
        // A unit or letter glued to the number (`30%`, `20°C`, `3and`) is a mistake, not a
        // number followed by something else.
        let followed_by_word =
            self.text[end..].starts_with(|c: char| is_word_char(c) || c == '%' || !c.is_ascii());
        if mantissa_digits == 0 || followed_by_word {
            let token_len = self.text[start..]
                .find(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .unwrap_or(self.text.len() - start);
            let found = if token_len == 0 {
                describe_found(&self.text[start..])
            } else {
                format!("`{}`", &self.text[start..start + token_len])
            };
            return Err(ConditionError::new(
                start,
                format!("expected a finite number such as `30` or `-2.5`, found {found}"),
            ));
        }
        let literal = &self.text[start..end];
        let value: f64 = literal.parse().map_err(|_| {
            ConditionError::new(start, format!("`{literal}` is not a valid number"))
        })?;
        if !value.is_finite() {
            return Err(ConditionError::new(
                start,
                format!("the number `{literal}` is too large"),
            ));
        }
        self.pos = end;
        Ok(value)
    }

    /// The error for text that follows a complete term but is not `and`, `or` or `expected`.
    fn unexpected_after_term(&self, expected: &str) -> ConditionError {
        let rest = self.rest();
        let hint = [
            ("&&", "and"),
            ("||", "or"),
            ("&", "and"),
            ("|", "or"),
            ("!", "not"),
        ]
        .iter()
        .find(|(symbol, _)| rest.starts_with(symbol))
        .map(|(symbol, keyword)| format!("; write `{keyword}` instead of `{symbol}`"));
        let word = self.word();
        let hint = hint.or_else(|| {
            let lower = word.to_ascii_lowercase();
            (matches!(lower.as_str(), "and" | "or" | "not") && lower != word)
                .then(|| format!("; keywords are lowercase: `{lower}`"))
        });
        let hint = hint.or_else(|| {
            rest.starts_with(')')
                .then(|| "; this `)` has no matching `(`".to_owned())
        });
        ConditionError::new(
            self.pos,
            format!(
                "expected `and`, `or` or {expected}, found {}{}",
                describe_found(rest),
                hint.unwrap_or_default()
            ),
        )
    }
}

/// Describes the token at the start of `rest` for an error message.
fn describe_found(rest: &str) -> String {
    let Some(first) = rest.chars().next() else {
        return "the end of the condition".to_owned();
    };
    let len = rest
        .find(|c: char| !is_word_char(c))
        .filter(|len| *len > 0)
        .unwrap_or(first.len_utf8());
    format!("`{}`", &rest[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operand(node: Option<&str>, name: &str, offset: usize) -> RawOperand {
        let written = match node {
            Some(node) => format!("{node}.{name}"),
            None => name.to_owned(),
        };
        RawOperand {
            node: node.map(str::to_owned),
            name: name.to_owned(),
            written,
            offset,
        }
    }

    fn compare(
        node: Option<&str>,
        name: &str,
        offset: usize,
        op: CompareOp,
        value: f64,
    ) -> RawCondition {
        RawCondition::Compare {
            operand: operand(node, name, offset),
            op,
            value,
        }
    }

    #[test]
    fn reads_a_single_comparison() {
        assert_eq!(
            parse_condition("soil_moisture < 30"),
            Ok(compare(None, "soil_moisture", 0, CompareOp::Lt, 30.0))
        );
    }

    #[test]
    fn reads_every_operator() {
        for (symbol, op) in [
            ("<", CompareOp::Lt),
            ("<=", CompareOp::Le),
            (">", CompareOp::Gt),
            (">=", CompareOp::Ge),
            ("==", CompareOp::Eq),
            ("!=", CompareOp::Ne),
        ] {
            assert_eq!(
                parse_condition(&format!("x {symbol} 1")),
                Ok(compare(None, "x", 0, op, 1.0)),
                "operator {symbol}"
            );
            assert_eq!(
                parse_condition(&format!("x{symbol}1")),
                Ok(compare(None, "x", 0, op, 1.0)),
                "operator {symbol} without spaces"
            );
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let parsed = parse_condition("a < 1 or b < 2 and c < 3").expect("valid condition");
        assert_eq!(
            parsed,
            RawCondition::Or(vec![
                compare(None, "a", 0, CompareOp::Lt, 1.0),
                RawCondition::And(vec![
                    compare(None, "b", 9, CompareOp::Lt, 2.0),
                    compare(None, "c", 19, CompareOp::Lt, 3.0),
                ]),
            ])
        );
    }

    #[test]
    fn not_binds_tighter_than_and() {
        let parsed = parse_condition("not a < 1 and b < 2").expect("valid condition");
        assert_eq!(
            parsed,
            RawCondition::And(vec![
                RawCondition::Not(Box::new(compare(None, "a", 4, CompareOp::Lt, 1.0))),
                compare(None, "b", 14, CompareOp::Lt, 2.0),
            ])
        );
    }

    #[test]
    fn parentheses_override_precedence() {
        let parsed = parse_condition("(a < 1 or b < 2) and not (c.d)").expect("valid condition");
        assert_eq!(
            parsed,
            RawCondition::And(vec![
                RawCondition::Or(vec![
                    compare(None, "a", 1, CompareOp::Lt, 1.0),
                    compare(None, "b", 10, CompareOp::Lt, 2.0),
                ]),
                RawCondition::Not(Box::new(RawCondition::Bare(operand(Some("c"), "d", 26)))),
            ])
        );
    }

    #[test]
    fn node_ids_with_dashes_and_leading_digits_are_one_operand() {
        assert_eq!(
            parse_condition("bed-1.valve or 2nd_bed.valve"),
            Ok(RawCondition::Or(vec![
                RawCondition::Bare(operand(Some("bed-1"), "valve", 0)),
                RawCondition::Bare(operand(Some("2nd_bed"), "valve", 15)),
            ]))
        );
    }

    #[test]
    fn reads_signed_fractional_and_exponent_numbers() {
        for (text, expected) in [
            ("-2.5", -2.5),
            ("+3", 3.0),
            ("0.25", 0.25),
            (".5", 0.5),
            ("1e3", 1000.0),
            ("2.5E-1", 0.25),
            ("7.", 7.0),
        ] {
            assert_eq!(
                parse_condition(&format!("t > {text}")),
                Ok(compare(None, "t", 0, CompareOp::Gt, expected)),
                "number `{text}`"
            );
        }
    }

    #[test]
    fn rejects_non_finite_and_malformed_numbers_at_their_offset() {
        for (text, needle) in [
            ("t > inf", "found `inf`"),
            ("t > nan", "found `nan`"),
            ("t > 1e999", "too large"),
            ("t > 30%", "found `30%`"),
            ("t > 3and u < 2", "found `3and`"),
            ("t > ", "found the end of the condition"),
            ("t > abc", "found `abc`"),
        ] {
            let error = parse_condition(text).expect_err(text);
            assert_eq!(error.offset, 4, "offset for `{text}`: {error}");
            assert!(error.message.contains(needle), "`{text}` gave: {error}");
        }
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let cases = [
            ("", 0, "empty"),
            ("x < 1 and", 9, "expected a sensor"),
            ("x < 1 y < 2", 6, "found `y`"),
            ("x < 1 && y < 2", 6, "write `and` instead of `&&`"),
            ("x < 1 AND y < 2", 6, "keywords are lowercase"),
            ("(x < 1", 0, "never closed"),
            ("x < 1)", 5, "no matching `(`"),
            ("x = 1", 2, "use `==`"),
            ("x => 1", 2, "use `>=`"),
            ("Soil < 3", 0, "invalid sensor name `Soil`"),
            ("a.b.c < 3", 0, "too many dots"),
            ("-bed.x", 0, "invalid node id `-bed`"),
            ("bed.X", 4, "invalid sensor or output name `X`"),
            ("and", 0, "before `and`"),
            ("x < 1 or < 3", 9, "found `<`"),
        ];
        for (text, offset, needle) in cases {
            let error = parse_condition(text).expect_err(text);
            assert_eq!(error.offset, offset, "offset for `{text}`: {error}");
            assert!(error.message.contains(needle), "`{text}` gave: {error}");
        }
    }

    #[test]
    fn validates_identifier_rules() {
        assert!(is_valid_node_id("bed-1"));
        assert!(is_valid_node_id("1st"));
        assert!(!is_valid_node_id("_bed"));
        assert!(!is_valid_node_id("Bed"));
        assert!(!is_valid_node_id(&"a".repeat(64)));
        assert!(is_valid_name("soil_moisture"));
        assert!(!is_valid_name("soil-moisture"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name(&"a".repeat(65)));
    }
}
