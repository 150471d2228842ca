//! How message text becomes index terms, the same way for what is indexed
//! and what is asked (no I/O).
//!
//! Text is folded by `text::search_fold` (width, case, traditional to
//! simplified Chinese; each folded character remembers where it came from),
//! the fold the people and group directory uses too.
//!
//! The folded text is cut into *runs*: a run of Han, kana or Hangul
//! characters (these scripts write no spaces between words), or a word of
//! letters and digits of any other script; everything else separates runs.
//! A CJK run of n characters takes n positions: at position i its unigram
//! and, but for the last, the bigram of characters i and i+1. A word takes
//! one position. So any substring of two characters or more is a phrase of
//! consecutive bigrams, a single character is its unigram, and quoted
//! phrases across runs keep their order (tantivy's own n-gram tokenizer
//! gives every gram position 0, which would match the bigrams anywhere).

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

pub use crate::text::search_fold::{fold, FoldedChar};
use crate::text::search_fold::is_cjk;

/// The name the index registers [`ChatTokenizer`] under.
pub const TOKENIZER: &str = "natter_cjk";

/// Longest word indexed, in bytes: longer ones (a pasted hash, a URL's
/// path) are cut, so the term dictionary holds no monsters.
const MAX_WORD_BYTES: usize = 64;

/// A run of folded characters: a CJK run or a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub cjk: bool,
    pub chars: Vec<FoldedChar>,
    /// The position of its first character (CJK) or of the word.
    pub position: usize,
}

impl Run {
    /// The folded text of the run.
    pub fn text(&self) -> String {
        self.chars.iter().map(|f| f.c).collect()
    }

    /// The bigrams of a CJK run, each at its position (a run of one: its unigram).
    pub fn grams(&self) -> Vec<(usize, String)> {
        if self.chars.len() == 1 {
            return vec![(self.position, self.text())];
        }
        self.chars.windows(2).enumerate().map(|(i, w)| (self.position + i, [w[0].c, w[1].c].iter().collect())).collect()
    }

    /// The positions the run takes.
    fn width(&self) -> usize {
        if self.cjk { self.chars.len() } else { 1 }
    }
}

/// Whether a folded character belongs to a word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Cuts folded text into runs, numbering positions from `position`.
pub fn runs_from(chars: &[FoldedChar], mut position: usize) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].c;
        let kind = if is_cjk(c) { Some(true) } else if is_word_char(c) { Some(false) } else { None };
        let Some(cjk) = kind else {
            i += 1;
            continue;
        };
        let same = |f: &FoldedChar| if cjk { is_cjk(f.c) } else { is_word_char(f.c) && !is_cjk(f.c) };
        let end = chars[i..].iter().position(|f| !same(f)).map_or(chars.len(), |n| i + n);
        let run = Run { cjk, chars: chars[i..end].to_vec(), position };
        position += run.width();
        runs.push(run);
        i = end;
    }
    runs
}

/// The runs of `text`.
pub fn runs(text: &str) -> Vec<Run> {
    runs_from(&fold(text), 0)
}

/// A word as the index keeps it: at most [`MAX_WORD_BYTES`].
pub fn cut_word(mut word: String) -> String {
    if word.len() > MAX_WORD_BYTES {
        let cut = (0..=MAX_WORD_BYTES).rev().find(|&i| word.is_char_boundary(i)).unwrap_or(0);
        word.truncate(cut);
    }
    word
}

/// The tokens the index keeps for `text`, in position order.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for run in runs(text) {
        let token = |from: &FoldedChar, to: &FoldedChar, position, text| Token {
            offset_from: from.from,
            offset_to: to.to,
            position,
            text,
            position_length: 1,
        };
        if run.cjk {
            for (i, f) in run.chars.iter().enumerate() {
                tokens.push(token(f, f, run.position + i, f.c.to_string()));
                if let Some(next) = run.chars.get(i + 1) {
                    tokens.push(token(f, next, run.position + i, [f.c, next.c].iter().collect()));
                }
            }
        } else {
            let word = cut_word(run.text());
            tokens.push(token(&run.chars[0], &run.chars[run.chars.len() - 1], run.position, word));
        }
    }
    tokens
}

/// The analyzer as a tantivy tokenizer.
#[derive(Clone, Default)]
pub struct ChatTokenizer;

pub struct ChatTokens {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl Tokenizer for ChatTokenizer {
    type TokenStream<'a> = ChatTokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ChatTokens {
        ChatTokens { tokens: tokens(text).into_iter(), current: Token::default() }
    }
}

impl TokenStream for ChatTokens {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<(usize, String)> {
        tokens(text).into_iter().map(|t| (t.position, t.text)).collect()
    }

    #[test]
    fn chinese_runs_give_unigrams_and_bigrams_with_positions() {
        let got = terms("在上海。");
        let want = [(0, "在"), (0, "在上"), (1, "上"), (1, "上海"), (2, "海")];
        assert_eq!(got, want.map(|(p, t)| (p, t.to_owned())));
        // Runs and words share one position count, so phrases keep their order.
        let got = terms("微信 WeChat 群");
        let want = [(0, "微"), (0, "微信"), (1, "信"), (2, "wechat"), (3, "群")];
        assert_eq!(got, want.map(|(p, t)| (p, t.to_owned())));
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let text = "我家在上海东边";
        let t = tokens(text).into_iter().find(|t| t.text == "上海").unwrap();
        assert_eq!(&text[t.offset_from..t.offset_to], "上海");
        let text = "ｘ ＡＢＣ";
        let t = tokens(text).into_iter().find(|t| t.text == "abc").unwrap();
        assert_eq!(&text[t.offset_from..t.offset_to], "ＡＢＣ");
    }

    #[test]
    fn width_and_case_fold() {
        assert_eq!(terms("ＡＢＣ"), terms("abc"));
        assert_eq!(terms("Ｈｅｌｌｏ，Ｗｏｒｌｄ！"), terms("hello world"));
        assert_eq!(terms("１２３"), terms("123"));
        assert_eq!(terms("ｶﾀｶﾅ"), terms("カタカナ"));
    }

    #[test]
    fn traditional_folds_to_simplified() {
        assert_eq!(terms("壞蛋"), terms("坏蛋"));
        assert_eq!(terms("我們在臺灣"), terms("我们在台湾"));
    }

    #[test]
    fn other_scripts_are_words_and_punctuation_separates() {
        let words: Vec<String> = tokens("report-2024_v2.PDF, café").into_iter().map(|t| t.text).collect();
        assert_eq!(words, ["report", "2024", "v2", "pdf", "café"]);
        let long = "x".repeat(100);
        assert_eq!(tokens(&long)[0].text.len(), MAX_WORD_BYTES);
        assert!(tokens("  ...  ").is_empty());
    }
}
