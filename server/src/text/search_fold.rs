//! How search folds text, one way for everything searched: the message
//! index (`search::analyzer` cuts the folded text into terms) and the
//! people and group directory (the stores keep a folded key beside each
//! name and match folded queries inside it).
//!
//! Text is folded character by character — NFKC (`unicode-normalization`:
//! full-width `ＡＢＣ１` becomes `ABC1`, half-width katakana full-width), lower
//! case, and for each run of Chinese characters traditional to simplified
//! (`fast2s`, one character for one) — and each folded character remembers
//! the byte range of the original character it came from.

use unicode_normalization::UnicodeNormalization;

/// One folded character and the original character's byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldedChar {
    pub c: char,
    pub from: usize,
    pub to: usize,
}

/// Whether `c` is of a script written without spaces between words: Han
/// (with the compatibility ideographs and the extensions), kana, Hangul.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x31F0..=0x31FF    // katakana phonetic extensions
        | 0x3400..=0x4DBF    // Han extension A
        | 0x4E00..=0x9FFF    // Han
        | 0xF900..=0xFAFF    // Han compatibility
        | 0x20000..=0x3134F  // Han extensions B to G
        | 0x1100..=0x11FF    // Hangul jamo
        | 0x3130..=0x318F    // Hangul compatibility jamo
        | 0xAC00..=0xD7AF    // Hangul syllables
    )
}

/// Folds `text`, each folded character with its origin.
pub fn fold(text: &str) -> Vec<FoldedChar> {
    let mut out = Vec::with_capacity(text.len());
    for (from, c) in text.char_indices() {
        let to = from + c.len_utf8();
        let mut push = |c: char| out.push(FoldedChar { c, from, to });
        if c.is_ascii() {
            push(c.to_ascii_lowercase());
        } else if (0x4E00..=0x9FFF).contains(&(c as u32)) {
            push(c); // common ideographs have no compatibility form
        } else {
            for n in std::iter::once(c).nfkc() {
                n.to_lowercase().for_each(&mut push);
            }
        }
    }
    simplify(&mut out);
    out
}

/// Traditional to simplified Chinese, run by run (`fast2s` looks at each
/// character's neighbours, so it is given whole runs).
fn simplify(chars: &mut [FoldedChar]) {
    let mut start = 0;
    while start < chars.len() {
        if !is_cjk(chars[start].c) {
            start += 1;
            continue;
        }
        let end = chars[start..].iter().position(|f| !is_cjk(f.c)).map_or(chars.len(), |n| start + n);
        let run: String = chars[start..end].iter().map(|f| f.c).collect();
        for (f, c) in chars[start..end].iter_mut().zip(fast2s::convert(&run).chars()) {
            f.c = c;
        }
        start = end;
    }
}

/// Separates the names a directory key holds. Folded text never holds it
/// (control characters are dropped), so a part of one name never matches
/// across two.
const SEPARATOR: char = '\u{1F}';

/// `text` folded as one string for the directory: white space runs become
/// one space, control characters go, the ends are trimmed.
pub fn folded_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for f in fold(text) {
        if f.c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else if !f.c.is_control() {
            out.push(f.c);
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// The key a store keeps beside a name, for [`KeyQuery`]: each of `names`
/// folded, each between separators (`␟张三丰␟zhangsanfeng␟zsf␟`); names that
/// fold to nothing are left out.
pub fn directory_key<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut key = String::from(SEPARATOR);
    for name in names {
        let folded = folded_text(name);
        if !folded.is_empty() {
            key.push_str(&folded);
            key.push(SEPARATOR);
        }
    }
    key
}

/// What a directory query looks for in keys, best first: a name that is
/// the query, one that begins with it, one that holds it. Each is a plain
/// substring of the key (no pattern syntax), so a store matches it with
/// `instr` or an escaped regular expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyQuery {
    pub exact: String,
    pub prefix: String,
    pub part: String,
}

impl KeyQuery {
    /// `None` when `query` folds to nothing.
    pub fn new(query: &str) -> Option<KeyQuery> {
        let part = folded_text(query);
        if part.is_empty() {
            return None;
        }
        let prefix = format!("{SEPARATOR}{part}");
        Some(KeyQuery { exact: format!("{prefix}{SEPARATOR}"), prefix, part })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_each_name_folded_between_separators() {
        assert_eq!(directory_key(["張三豐", "zhangsanfeng", "zsf"]), "\u{1F}张三丰\u{1F}zhangsanfeng\u{1F}zsf\u{1F}");
        assert_eq!(directory_key(["  Ａda\u{3000}\t Lovelace ", ""]), "\u{1F}ada lovelace\u{1F}");
        assert_eq!(directory_key(["a\u{1F}b"]), "\u{1F}ab\u{1F}", "no separator from the name itself");
    }

    /// How well `key` matches `q`: 0 (a name is the query), 1 (begins with
    /// it), 2 (holds it), as the stores rank.
    fn rank_in(key: &str, q: KeyQuery) -> Option<usize> {
        [q.exact, q.prefix, q.part].iter().position(|needle| key.contains(needle.as_str()))
    }

    #[test]
    fn queries_rank_exact_then_prefix_then_part() {
        let key = directory_key(["张三丰", "zhangsanfeng", "zsf"]);
        let rank = |q: &str| KeyQuery::new(q).and_then(|q| rank_in(&key, q));
        assert_eq!(rank("張三豐"), Some(0));
        assert_eq!(rank("ZSF"), Some(0));
        assert_eq!(rank("张三"), Some(1));
        assert_eq!(rank("zhang"), Some(1));
        assert_eq!(rank("三丰"), Some(2));
        assert_eq!(rank("sanfeng"), Some(2));
        assert_eq!(rank("丰z"), None, "never across two names");
        assert_eq!(rank("李"), None);
        assert_eq!(KeyQuery::new(" \u{1F} "), None);
        let key = directory_key(["ＡＢＣ"]);
        assert_eq!(KeyQuery::new("abc").and_then(|q| rank_in(&key, q)), Some(0));
    }
}
