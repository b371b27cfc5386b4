//! Typed, positioned access to the spanned TOML tree; every problem becomes a [`ConfigError`].
//!
//! Readers never stop at the first problem: a bad value is reported and `None` is returned, so
//! the caller goes on with the next key and the user sees every error in one run.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::error::ConfigError;
use super::source::LineIndex;
use super::suggest::closest;
use crate::duration::{format_duration, parse_duration};

/// A value of the TOML tree with its byte span.
pub(super) type Value<'i> = Spanned<DeValue<'i>>;

/// Collects positioned errors while the tree is read.
pub(super) struct Reader<'s> {
    file: &'s str,
    pub(super) lines: LineIndex<'s>,
    errors: Vec<ConfigError>,
}

/// Inclusive bounds for a duration field, stated in its error messages. Zero is always rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationLimits {
    /// Smallest accepted value; zero means "any positive duration".
    pub min: Duration,
    /// Largest accepted value.
    pub max: Duration,
}

impl DurationLimits {
    /// Any positive duration up to `max`.
    pub const fn up_to(max: Duration) -> Self {
        Self {
            min: Duration::ZERO,
            max,
        }
    }
}

/// A table of the tree together with its dotted path and span.
#[derive(Clone, Copy)]
pub(super) struct Fields<'t, 'i> {
    pub(super) table: &'t DeTable<'i>,
    pub(super) path: &'t str,
    pub(super) span: &'t Range<usize>,
}

/// Where a key that is unknown in one table belongs instead.
pub(super) type Misplaced<'a> = &'a [(&'a str, &'a str)];

impl<'t, 'i> Fields<'t, 'i> {
    /// The value of `key`, if present.
    pub(super) fn get(&self, key: &str) -> Option<&'t Value<'i>> {
        self.table.get(key)
    }

    /// The dotted path of `key` in this table.
    pub(super) fn field(&self, key: &str) -> String {
        join(self.path, key)
    }
}

/// `path.key`, or `key` at the top level.
pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl<'s> Reader<'s> {
    pub(super) fn new(file: &'s str, text: &'s str) -> Self {
        Self {
            file,
            lines: LineIndex::new(text),
            errors: Vec::new(),
        }
    }

    /// Records an error at byte `offset` of the file.
    pub(super) fn error_at(&mut self, offset: usize, field: &str, message: impl Into<String>) {
        let (line, column) = self.lines.line_column(offset);
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Records an error at the start of `span`.
    pub(super) fn error(&mut self, span: &Range<usize>, field: &str, message: impl Into<String>) {
        self.error_at(span.start, field, message);
    }

    /// Whether any error has been recorded.
    pub(super) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Every error recorded, in file order.
    pub(super) fn into_errors(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|error| (error.line, error.column));
        self.errors
    }

    /// Reports every key of `fields` not in `known`, suggesting the nearest known key, or
    /// where the key belongs when it is listed in `misplaced`.
    pub(super) fn reject_unknown_keys(
        &mut self,
        fields: Fields<'_, '_>,
        known: &[&str],
        misplaced: Misplaced<'_>,
    ) {
        for (key, _) in fields.table.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let hint = if let Some((_, place)) = misplaced.iter().find(|(k, _)| *k == name) {
                format!("; `{name}` belongs {place}")
            } else if let Some(near) = closest(name, known.iter().copied()) {
                format!("; did you mean `{near}`?")
            } else {
                format!("; expected one of: {}", known.join(", "))
            };
            let field = fields.field(name);
            self.error(&key.span(), &field, format!("unknown key `{name}`{hint}"));
        }
    }

    /// The value as a table, or a type error.
    pub(super) fn table<'t, 'i>(
        &mut self,
        value: &'t Value<'i>,
        field: &str,
        what: &str,
    ) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.type_error(value, field, what, other);
                None
            }
        }
    }

    /// The value as an array, or a type error.
    pub(super) fn array<'t, 'i>(
        &mut self,
        value: &'t Value<'i>,
        field: &str,
        what: &str,
    ) -> Option<&'t DeArray<'i>> {
        match value.get_ref() {
            DeValue::Array(array) => Some(array),
            other => {
                self.type_error(value, field, what, other);
                None
            }
        }
    }

    /// The value as a string, or a type error naming `what` was expected.
    pub(super) fn string<'t>(
        &mut self,
        value: &'t Value<'_>,
        field: &str,
        what: &str,
    ) -> Option<&'t str> {
        match value.get_ref() {
            DeValue::String(text) => Some(text.as_ref()),
            other => {
                self.type_error(value, field, what, other);
                None
            }
        }
    }

    /// The value as a boolean, or a type error saying `true` or `false` was expected.
    pub(super) fn boolean(&mut self, value: &Value<'_>, field: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(flag) => Some(*flag),
            other => {
                self.type_error(value, field, "`true` or `false`", other);
                None
            }
        }
    }

    /// The value as a finite number; integers are accepted.
    pub(super) fn number(&mut self, value: &Value<'_>, field: &str) -> Option<f64> {
        let number = match value.get_ref() {
            DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix())
                .ok()
                // Precision loss above 2^53 is irrelevant for thresholds and coordinates.
                .map(|whole| whole as f64),
            DeValue::Float(float) => float.as_str().replace('_', "").parse::<f64>().ok(),
            other => {
                self.type_error(value, field, "a number", other);
                return None;
            }
        };
        match number {
            Some(number) if number.is_finite() => Some(number),
            _ => {
                self.error(&value.span(), field, "expected a finite number");
                None
            }
        }
    }

    /// The value as a duration string within `limits`.
    pub(super) fn duration(
        &mut self,
        value: &Value<'_>,
        field: &str,
        limits: DurationLimits,
    ) -> Option<Duration> {
        let text = self.string(value, field, "a duration string like `15s`")?;
        let duration = match parse_duration(text) {
            Ok(duration) => duration,
            Err(error) => {
                self.error(&value.span(), field, error.to_string());
                return None;
            }
        };
        let problem = if duration.is_zero() {
            Some(format!("must be positive, got `{text}`"))
        } else if duration < limits.min {
            Some(format!(
                "must be at least {}, got `{text}`",
                format_duration(limits.min)
            ))
        } else if duration > limits.max {
            Some(format!(
                "must be at most {}, got `{text}`",
                format_duration(limits.max)
            ))
        } else {
            None
        };
        match problem {
            Some(message) => {
                self.error(&value.span(), field, message);
                None
            }
            None => Some(duration),
        }
    }

    /// The value as an array of strings, each with its span; bad items are reported and skipped.
    pub(super) fn strings<'t>(
        &mut self,
        value: &'t Value<'_>,
        field: &str,
        what: &str,
    ) -> Option<Vec<(&'t str, Range<usize>)>> {
        let array = self.array(value, field, what)?;
        let mut items = Vec::new();
        for (index, item) in array.iter().enumerate() {
            let item_field = format!("{field}[{index}]");
            if let Some(text) = self.string(item, &item_field, "a string") {
                items.push((text, item.span()));
            }
        }
        Some(items)
    }

    fn type_error(&mut self, value: &Value<'_>, field: &str, what: &str, found: &DeValue<'_>) {
        let message = format!("expected {what}, got {}", describe(found));
        self.error(&value.span(), field, message);
    }
}

/// A value described for "expected …, got …" messages: `integer 15`, `string "x"`, `a table`.
pub(super) fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(text) => format!("string \"{text}\""),
        DeValue::Integer(integer) => format!("integer {integer}"),
        DeValue::Float(float) => format!("float {float}"),
        DeValue::Boolean(flag) => format!("boolean {flag}"),
        DeValue::Datetime(datetime) => format!("date-time {datetime}"),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}
