//! What the sensitive-word filter compares: text folded so that the usual
//! disguises of a word fold to the word itself, with each folded character
//! remembering which character of the original it came from.
//!
//! Each original character is folded on its own, in this order:
//! 1. compatibility decomposition (NFKD, `unicode-normalization`): full-width
//!    `ｂａｄ` and ligatures become plain letters, accents come apart;
//! 2. lower case (full Unicode mapping; a character may become several);
//! 3. the confusable skeleton of UTS #39 (`unicode-security`): Cyrillic `а`,
//!    Greek `ο` and look-alike digits become the Latin letters they mimic,
//!    and default-ignorable characters (zero-width space, soft hyphen, word
//!    joiner, variation selectors) vanish;
//! 4. what is left is kept only if it is a letter, a digit, a spacing mark
//!    or a symbol other than a modifier: combining marks, spaces,
//!    punctuation and format or control characters are dropped, so
//!    `b a d`, `b.a.d` and `b̷a̷d̷` read `bad`;
//! 5. last, over the whole folded text, traditional Chinese characters
//!    become simplified (`fast2s`, one character for one): `壞蛋` reads `坏蛋`.
//!
//! Folding per character loses nothing a word list needs (marks are dropped
//! anyway) and keeps the way back: a match in the folded text covers the
//! original characters from its first folded character's origin to its
//! last one's, including what was dropped in between.

use std::sync::OnceLock;

use unicode_properties::{
    general_category::{GeneralCategoryGroup, UnicodeGeneralCategory},
    GeneralCategory,
};

/// Folded text and, for each of its bytes, the index of the original
/// character it came from.
#[derive(Debug, Default)]
pub struct Folded {
    pub text: String,
    origin: Vec<u32>,
}

impl Folded {
    /// The original characters (indices, inclusive) that the folded bytes
    /// `start..end` came from; `end > start`.
    pub fn origin(&self, start: usize, end: usize) -> (usize, usize) {
        (self.origin[start] as usize, self.origin[end - 1] as usize)
    }
}

/// Folds `text` keeping the way back to it.
pub fn fold(text: &str) -> Folded {
    let mut chars = String::with_capacity(text.len());
    let mut origins = Vec::with_capacity(text.len());
    for (at, c) in text.chars().enumerate() {
        fold_char(c, &mut |f| {
            chars.push(f);
            origins.push(at as u32);
        });
    }
    // Simplified Chinese last: the converter looks at each character's neighbours.
    let simplified = fast2s::convert(&chars);
    let mut folded = Folded { text: String::with_capacity(simplified.len()), origin: Vec::with_capacity(simplified.len()) };
    for (c, at) in simplified.chars().zip(origins) {
        folded.text.push(c);
        folded.origin.extend(std::iter::repeat_n(at, c.len_utf8()));
    }
    debug_assert_eq!(folded.text.len(), folded.origin.len(), "one character for one");
    folded
}

/// Folds a word of the list the way text is folded.
pub fn fold_word(word: &str) -> String {
    fold(word).text
}

/// The CJK Unified Ideographs block: most Chinese text.
const CJK: std::ops::RangeInclusive<char> = '\u{4E00}'..='\u{9FFF}';

fn fold_char(c: char, emit: &mut dyn FnMut(char)) {
    // ASCII and common ideographs are most text: their folds are worked out once.
    static ASCII: OnceLock<Vec<Vec<char>>> = OnceLock::new();
    static CJK_UNCHANGED: OnceLock<Vec<bool>> = OnceLock::new();
    if CJK.contains(&c) {
        let unchanged = CJK_UNCHANGED.get_or_init(|| CJK.map(|c| folds_to_itself(c)).collect());
        if unchanged[c as usize - *CJK.start() as usize] {
            return emit(c);
        }
        return fold_slowly(c, emit);
    }
    if c.is_ascii() {
        let table = ASCII.get_or_init(|| {
            (0..128u8)
                .map(|b| {
                    let mut out = vec![];
                    fold_slowly(char::from(b), &mut |f| out.push(f));
                    out
                })
                .collect()
        });
        table[c as usize].iter().copied().for_each(emit);
        return;
    }
    fold_slowly(c, emit);
}

fn fold_slowly(c: char, emit: &mut dyn FnMut(char)) {
    unicode_normalization::char::decompose_compatible(c, |d| {
        for lower in d.to_lowercase() {
            let mut buf = [0u8; 4];
            for prototype in unicode_security::skeleton(lower.encode_utf8(&mut buf)) {
                prototype.to_lowercase().filter(|&f| counts(f)).for_each(&mut *emit);
            }
        }
    });
}

fn folds_to_itself(c: char) -> bool {
    let mut out = vec![];
    fold_slowly(c, &mut |f| out.push(f));
    out == [c]
}

/// Whether a folded character takes part in matching.
fn counts(c: char) -> bool {
    match c.general_category_group() {
        GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number => true,
        GeneralCategoryGroup::Mark => c.general_category() == GeneralCategory::SpacingMark,
        GeneralCategoryGroup::Symbol => c.general_category() != GeneralCategory::ModifierSymbol,
        GeneralCategoryGroup::Punctuation | GeneralCategoryGroup::Separator | GeneralCategoryGroup::Other => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disguises_fold_to_the_word() {
        for disguised in [
            "bad",
            "BAD",
            "b\u{200B}ad",
            "b\u{00AD}a\u{00AD}d",
            "ba\u{2060}d",
            "ｂａｄ",
            "bаd", // Cyrillic а
            "b\u{0336}a\u{0336}d\u{0336}",
            "b a d",
            "b.a-d",
            "b\u{FE0F}ad",
            "b\u{FEFF}ad",
        ] {
            assert_eq!(fold_word(disguised), "bad", "{disguised:?}");
        }
        assert_eq!(fold_word("аss"), fold_word("ass"));
        assert_eq!(fold_word("ÉCOLE"), "ecole");
        assert_eq!(fold_word("壞蛋"), "坏蛋");
        assert_eq!(fold_word("坏 蛋！"), "坏蛋");
        assert_eq!(fold_word("😄"), "😄");
    }

    #[test]
    fn remembers_where_each_folded_character_came_from() {
        let f = fold("x b\u{200B}ａd!");
        assert_eq!(f.text, "xbad");
        let at = f.text.find("bad").unwrap();
        assert_eq!(f.origin(at, at + 3), (2, 5), "from b to ｄ, the zero-width space inside");
        let f = fold("你壞蛋");
        assert_eq!(f.origin(3, 9), (1, 2));
    }

    #[test]
    fn tables_fold_as_the_slow_path_does() {
        for c in (0..128u8).map(char::from).chain(CJK) {
            let (mut fast, mut slow) = (vec![], vec![]);
            fold_char(c, &mut |f| fast.push(f));
            fold_slowly(c, &mut |f| slow.push(f));
            assert_eq!(fast, slow, "{c:?}");
        }
    }
}
