//! "Did you mean …?" suggestions for misspelt keys and names.

/// The candidate closest to `word` within an edit distance of 2, if any.
///
/// A typo must never silently disable a safety rule, so unknown keys are errors; this makes the
/// error tell the user what they probably meant.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2 && *distance < candidate.len())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance between two strings, counted in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_key_within_two_edits() {
        let keys = ["on_when", "off_when", "max_on", "min_on"];
        assert_eq!(closest("on_wen", keys), Some("on_when"));
        assert_eq!(closest("off_wen", keys), Some("off_when"));
        assert_eq!(closest("maxon", keys), Some("max_on"));
        assert_eq!(closest("schedule", keys), None);
    }

    #[test]
    fn counts_edits_in_characters() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("°c", "°C"), 1);
    }
}
