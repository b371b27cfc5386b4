//! Byte offsets in the config text → 1-based line and column.

use std::ops::Range;

/// The start of every line of a text, to turn byte offsets into line/column positions.
pub(super) struct LineIndex<'s> {
    text: &'s str,
    line_starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    pub(super) fn new(text: &'s str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Self { text, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end or
    /// inside a character are moved back to the nearest character start.
    pub(super) fn line_column(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let line_start = self.line_starts[line - 1];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line, column)
    }

    /// The source offset of byte `inner` of the decoded string whose value spans `span`.
    ///
    /// Exact for single-line strings without escapes (`"..."` or `'...'`), where decoded text
    /// and source text are the same; otherwise the start of the string.
    pub(super) fn inside_string(&self, span: &Range<usize>, inner: usize) -> usize {
        let raw = self.text.get(span.clone()).unwrap_or_default();
        let plain_basic = raw.starts_with('"') && !raw.starts_with("\"\"\"") && !raw.contains('\\');
        let plain_literal = raw.starts_with('\'') && !raw.starts_with("'''");
        if (plain_basic || plain_literal) && inner + 2 <= raw.len() {
            span.start + 1 + inner
        } else {
            span.start
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nb = \"é x\"\n";
        let index = LineIndex::new(text);
        assert_eq!(index.line_column(0), (1, 1));
        assert_eq!(index.line_column(6), (2, 1));
        let x = text.find('x').expect("x is in the text");
        assert_eq!(index.line_column(x), (2, 8), "é counts as one column");
        assert_eq!(index.line_column(text.len()), (3, 1));
    }

    #[test]
    fn offsets_inside_plain_strings_are_exact_and_escaped_strings_fall_back() {
        let text = r#"a = "x < 1"
b = "x\t< 1"
"#;
        let index = LineIndex::new(text);
        let plain = 4..11;
        assert_eq!(index.inside_string(&plain, 2), 7);
        let escaped = 16..24;
        assert_eq!(index.inside_string(&escaped, 2), 16);
    }
}
