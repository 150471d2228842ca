//! The sensitive-word matcher: one Aho-Corasick automaton over the word list,
//! leftmost-longest, on text and words folded alike ([`super::fold`]: case,
//! look-alikes, invisible characters, spacing and punctuation, traditional
//! Chinese). A match masks the original characters it came from, every one
//! from its first to its last, so masking counts characters, not bytes, and
//! what lay hidden inside a word goes with it.

use std::path::Path;

use aho_corasick::{AhoCorasick, MatchKind};

use super::fold::{fold, fold_word};

/// The words of one version of the list.
#[derive(Debug)]
pub struct Matcher {
    automaton: Option<AhoCorasick>,
    words: usize,
}

impl Matcher {
    /// A matcher for these words or phrases (blank ones are skipped).
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Matcher, String> {
        let mut folded: Vec<String> = words.into_iter().map(fold_word).filter(|w| !w.is_empty()).collect();
        folded.sort();
        folded.dedup();
        let automaton = match folded.is_empty() {
            true => None,
            false => Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&folded)
                    .map_err(|e| format!("cannot build the word matcher: {e}"))?,
            ),
        };
        Ok(Matcher { automaton, words: folded.len() })
    }

    /// Reads a word list: UTF-8, one word or phrase per line, `#` starts a comment line.
    pub fn load(path: &Path) -> Result<Matcher, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
        Matcher::new(text.lines().filter(|line| !line.trim_start().starts_with('#')))
    }

    /// How many distinct words the list holds.
    pub fn len(&self) -> usize {
        self.words
    }

    pub fn is_empty(&self) -> bool {
        self.words == 0
    }

    /// `None` when no listed word occurs in `text`; else the text with each
    /// character of each occurrence replaced by `*`.
    pub fn mask(&self, text: &str) -> Option<String> {
        let automaton = self.automaton.as_ref()?;
        let folded = fold(text);
        // Matches do not overlap and come in order: so do their original spans.
        let mut spans = automaton.find_iter(&folded.text).map(|m| folded.origin(m.start(), m.end())).peekable();
        spans.peek()?;
        let mut out = String::with_capacity(text.len());
        let (mut current, mut masked) = (spans.next(), false);
        for (at, original) in text.chars().enumerate() {
            while current.is_some_and(|(_, last)| last < at) {
                current = spans.next();
            }
            // Marks that decorated a word's last character go with it.
            let mark = masked && unicode_normalization::char::is_combining_mark(original);
            masked = mark || current.is_some_and(|(first, _)| first <= at);
            out.push(if masked { '*' } else { original });
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Matcher;

    fn matcher(words: &[&str]) -> Matcher {
        Matcher::new(words.iter().copied()).unwrap()
    }

    #[test]
    fn masks_english_and_chinese_words_by_characters() {
        let m = matcher(&["darn", "坏蛋", "苹果手机"]);
        assert_eq!(m.mask("well darn it").as_deref(), Some("well **** it"));
        assert_eq!(m.mask("你这个坏蛋！").as_deref(), Some("你这个**！"));
        assert_eq!(m.mask("买苹果手机").as_deref(), Some("买****"));
        assert_eq!(m.mask("nothing here"), None);
        assert_eq!(m.mask("坏 蛋").as_deref(), Some("***"), "spacing inside a word does not hide it");
    }

    /// Each disguise is masked on the original characters, from the word's
    /// first to its last, the rest untouched.
    #[test]
    fn masks_disguised_words() {
        let m = matcher(&["bad", "ass", "坏蛋"]);
        for (text, want) in [
            ("so b\u{200B}ad!", "so ****!"),
            ("so b\u{00AD}ad!", "so ****!"),
            ("so ba\u{2060}d!", "so ****!"),
            ("so ｂａｄ!", "so ***!"),
            ("so BÁD!", "so ***!"),
            ("so b\u{0336}a\u{0336}d\u{0336}!", "so ******!"),
            ("so b a d!", "so *****!"),
            ("kick аss now", "kick *** now"),
            ("你这个壞蛋！", "你这个**！"),
            ("你这个坏 蛋！", "你这个***！"),
        ] {
            assert_eq!(m.mask(text).as_deref(), Some(want), "{text:?}");
        }
        assert_eq!(m.mask("a good day"), None);
    }

    #[test]
    fn listed_words_are_folded_too() {
        let m = matcher(&["ＢＡＤ", "壞蛋", "b-a-d"]);
        assert_eq!(m.len(), 2);
        assert_eq!(m.mask("bad 坏蛋").as_deref(), Some("*** **"));
        assert!(matcher(&["...", " - "]).is_empty(), "a word of punctuation folds to nothing and is skipped");
    }

    #[test]
    fn ignores_letter_case() {
        let m = matcher(&["Darn", "ÉCOLE"]);
        assert_eq!(m.mask("DARN, darn, dArN").as_deref(), Some("****, ****, ****"));
        assert_eq!(m.mask("l'école").as_deref(), Some("l'*****"));
    }

    #[test]
    fn prefers_the_longest_of_overlapping_words() {
        let m = matcher(&["bad", "badword", "word"]);
        assert_eq!(m.mask("a badword!").as_deref(), Some("a *******!"));
        assert_eq!(m.mask("badwordword").as_deref(), Some("***********"));
        let m = matcher(&["ab", "bc"]);
        assert_eq!(m.mask("abc").as_deref(), Some("**c"), "leftmost wins, without overlaps");
    }

    #[test]
    fn keeps_characters_whose_case_folds_to_several() {
        // 'İ' lowers to two characters: the rest still lines up.
        let m = matcher(&["darn"]);
        assert_eq!(m.mask("İ darn İ").as_deref(), Some("İ **** İ"));
        assert_eq!(m.mask("😄darn😄").as_deref(), Some("😄****😄"));
    }

    #[test]
    fn reads_lists_with_comments_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words.txt");
        std::fs::write(&path, "# a comment\n\n  darn  \r\n坏蛋\ndarn\n").unwrap();
        let m = Matcher::load(&path).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.mask("# a comment"), None);
        std::fs::write(&path, b"\xff\xfe").unwrap();
        assert!(Matcher::load(&path).unwrap_err().contains("not UTF-8"));
        assert!(Matcher::load(&dir.path().join("missing")).unwrap_err().contains("cannot read"));
        assert!(matcher(&[]).is_empty());
        assert_eq!(matcher(&[" ", ""]).mask("anything"), None);
    }
}
