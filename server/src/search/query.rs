//! What a user's query asks for, read without a query language (no I/O):
//! no character is syntax but a pair of double quotes, so nothing a user
//! types can fail to parse, and the index's query is built from analyzed
//! terms only. Also where the matches are in a found text: the excerpt and
//! its highlights.

use tantivy::{
    query::{BooleanQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery},
    schema::{Field, IndexRecordOption},
    Term,
};

use super::analyzer::{self, FoldedChar, Run};

/// Pairs of quotes that make a phrase (ASCII and the typographic ones a
/// Chinese input method types). An unpaired quote is a separator.
const QUOTES: [(char, char); 3] = [('"', '"'), ('“', '”'), ('「', '」')];

/// Longest excerpt, in characters, and how much of the text before the
/// first match it keeps.
const EXCERPT_CHARS: usize = 160;
const EXCERPT_BEFORE: usize = 30;
const ELLIPSIS: char = '…';

/// One condition a message must meet; terms are analyzed terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clause {
    /// A unigram, a bigram or a whole word.
    Term(String),
    /// A word, or any word it begins.
    Prefix(String),
    /// Terms at these relative positions: a longer CJK run, or a quoted phrase.
    Phrase(Vec<(usize, String)>),
}

/// What to highlight in found text: folded text, matched as a substring
/// of a CJK run, or as the start (or whole) of a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Needle {
    pub text: Vec<char>,
    pub cjk: bool,
    pub prefix: bool,
}

/// A query, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// All must hold.
    pub clauses: Vec<Clause>,
    pub needles: Vec<Needle>,
}

impl Parsed {
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }
}

/// Reads a query: quoted phrases, and everything else run by run.
pub fn parse(q: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut rest = q;
    while !rest.is_empty() {
        let quote = rest.char_indices().find_map(|(at, c)| {
            let close = QUOTES.iter().find(|(open, _)| *open == c)?.1;
            let inner = &rest[at + c.len_utf8()..];
            inner.find(close).map(|end| (at, &inner[..end], &inner[end + close.len_utf8()..]))
        });
        match quote {
            Some((at, phrase, after)) => {
                parsed.add_words(&rest[..at]);
                parsed.add_phrase(phrase);
                rest = after;
            }
            None => {
                parsed.add_words(rest);
                rest = "";
            }
        }
    }
    parsed
}

impl Parsed {
    /// Unquoted text: each run on its own.
    fn add_words(&mut self, text: &str) {
        for run in analyzer::runs(text) {
            let word = analyzer::cut_word(run.text());
            let clause = match (run.cjk, run.chars.len()) {
                (true, 1 | 2) => Clause::Term(run.text()),
                (true, _) => Clause::Phrase(relative(run.grams())),
                (false, 1) => Clause::Term(word),
                (false, _) => Clause::Prefix(word),
            };
            self.needles.push(needle(&run, !run.cjk && run.chars.len() > 1));
            self.clauses.push(clause);
        }
    }

    /// Quoted text: its runs in order, words whole.
    fn add_phrase(&mut self, text: &str) {
        let runs = analyzer::runs(text);
        let mut terms = Vec::new();
        for run in &runs {
            if run.cjk {
                terms.extend(run.grams());
            } else {
                terms.push((run.position, analyzer::cut_word(run.text())));
            }
            self.needles.push(needle(run, false));
        }
        match terms.len() {
            0 => {}
            1 => self.clauses.push(Clause::Term(terms.remove(0).1)),
            _ => self.clauses.push(Clause::Phrase(relative(terms))),
        }
    }
}

/// The index's query for `parsed` on the analyzed field `body`: every
/// clause must hold. A word matches itself (scored) or any word it
/// begins; phrases match their terms at their relative positions.
pub fn build(parsed: &Parsed, body: Field) -> Box<dyn Query> {
    let term = |t: &str| Term::from_field_text(body, t);
    let exact = |t: &str| Box::new(TermQuery::new(term(t), IndexRecordOption::WithFreqs)) as Box<dyn Query>;
    let clauses = parsed.clauses.iter().map(|clause| {
        let query: Box<dyn Query> = match clause {
            Clause::Term(t) => exact(t),
            Clause::Prefix(w) => Box::new(BooleanQuery::new(vec![
                (Occur::Should, exact(w)),
                (Occur::Should, Box::new(FuzzyTermQuery::new_prefix(term(w), 0, false))),
            ])),
            Clause::Phrase(terms) => {
                Box::new(PhraseQuery::new_with_offset(terms.iter().map(|(p, t)| (*p, term(t))).collect()))
            }
        };
        (Occur::Must, query)
    });
    Box::new(BooleanQuery::new(clauses.collect()))
}

fn needle(run: &Run, prefix: bool) -> Needle {
    Needle { text: run.chars.iter().map(|f| f.c).collect(), cjk: run.cjk, prefix }
}

/// Positions counted from the first term's.
fn relative(terms: Vec<(usize, String)>) -> Vec<(usize, String)> {
    let first = terms.first().map_or(0, |t| t.0);
    terms.into_iter().map(|(p, t)| (p - first, t)).collect()
}

/// Where `needles` occur in `text`: `[start, end)` character ranges, in
/// order and merged.
pub fn highlights(text: &str, needles: &[Needle]) -> Vec<(usize, usize)> {
    let folded = analyzer::fold(text);
    let mut bytes: Vec<(usize, usize)> = Vec::new();
    for run in analyzer::runs_from(&folded, 0) {
        let chars: Vec<char> = run.chars.iter().map(|f| f.c).collect();
        let span = |from: &FoldedChar, to: &FoldedChar| (from.from, to.to);
        for needle in needles.iter().filter(|n| n.cjk == run.cjk && !n.text.is_empty()) {
            let n = needle.text.len();
            if run.cjk {
                for at in (0..chars.len()).filter(|&at| chars[at..].starts_with(&needle.text)) {
                    bytes.push(span(&run.chars[at], &run.chars[at + n - 1]));
                }
            } else if chars == needle.text || (needle.prefix && chars.starts_with(&needle.text)) {
                bytes.push(span(&run.chars[0], &run.chars[n - 1]));
            }
        }
    }
    bytes.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (from, to) in bytes {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    let char_at = |byte: usize| text[..byte].chars().count();
    merged.into_iter().map(|(from, to)| (char_at(from), char_at(to))).collect()
}

/// At most [`EXCERPT_CHARS`] characters of `text` around its first
/// highlight, and the highlights within it, counted in its characters.
pub fn excerpt(text: &str, highlights: &[(usize, usize)]) -> (String, Vec<[u32; 2]>) {
    let total = text.chars().count();
    let first = highlights.first().map_or(0, |h| h.0);
    let (start, end) = if total <= EXCERPT_CHARS {
        (0, total)
    } else {
        let start = first.saturating_sub(EXCERPT_BEFORE).min(total - EXCERPT_CHARS);
        (start, start + EXCERPT_CHARS)
    };
    let lead = usize::from(start > 0);
    let mut out = String::new();
    if start > 0 {
        out.push(ELLIPSIS);
    }
    out.extend(text.chars().skip(start).take(end - start));
    if end < total {
        out.push(ELLIPSIS);
    }
    let ranges = highlights
        .iter()
        .filter(|(from, to)| *to > start && *from < end)
        .map(|&(from, to)| [(from.max(start) - start + lead) as u32, (to.min(end) - start + lead) as u32])
        .collect();
    (out, ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(t: &str) -> Clause {
        Clause::Term(t.into())
    }

    #[test]
    fn runs_become_terms_prefixes_and_phrases() {
        assert_eq!(parse("上海").clauses, [term("上海")]);
        assert_eq!(parse("家").clauses, [term("家")]);
        let phrase = |ts: &[(usize, &str)]| Clause::Phrase(ts.iter().map(|(p, t)| (*p, t.to_string())).collect());
        assert_eq!(parse("上海东边").clauses, [phrase(&[(0, "上海"), (1, "海东"), (2, "东边")])]);
        assert_eq!(
            parse("微信 WeChat 群 a").clauses,
            [term("微信"), Clause::Prefix("wechat".into()), term("群"), term("a")]
        );
        assert_eq!(parse("壞蛋").clauses, [term("坏蛋")]);
    }

    #[test]
    fn quotes_make_phrases_and_syntax_is_literal() {
        let phrase = |ts: &[(usize, &str)]| Clause::Phrase(ts.iter().map(|(p, t)| (*p, t.to_string())).collect());
        assert_eq!(parse("x \"hello world\"").clauses, [term("x"), phrase(&[(0, "hello"), (1, "world")])]);
        assert_eq!(parse("“上海 东边”").clauses, [phrase(&[(0, "上海"), (2, "东边")])]);
        // Unpaired quotes, stars, colons and brackets are separators.
        assert_eq!(parse("\"foo* (bar: baz").clauses, parse("foo bar baz").clauses);
        assert!(parse("\"\" *:() \"").is_empty());
    }

    #[test]
    fn highlights_cover_what_matched_in_the_original() {
        let needles = parse("上海 wech").needles;
        let text = "我家在上海东边。WeChat ＷＥＣＨＡＴ";
        let got = highlights(text, &needles);
        assert_eq!(got, [(3, 5), (8, 12), (15, 19)]);
        let covered: Vec<String> = got.iter().map(|&(a, b)| text.chars().skip(a).take(b - a).collect()).collect();
        assert_eq!(covered, ["上海", "WeCh", "ＷＥＣＨ"]);
        assert_eq!(highlights("壞蛋", &parse("坏蛋").needles), [(0, 2)]);
    }

    #[test]
    fn excerpts_cut_around_the_first_match() {
        let text = format!("{}上海{}", "字".repeat(300), "字".repeat(300));
        let marks = highlights(&text, &parse("上海").needles);
        let (excerpt, ranges) = excerpt(&text, &marks);
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 2);
        let [from, to] = ranges[0];
        let shown: String = excerpt.chars().skip(from as usize).take((to - from) as usize).collect();
        assert_eq!(shown, "上海");
        assert_eq!(super::excerpt("short", &[(0, 5)]), ("short".into(), vec![[0, 5]]));
    }
}
