//! @mentions. In a group, typing "@" offers its members (by nickname, or by
//! the pinyin of a Chinese one: "zs" or "zhang" finds 张三), and `@all` to
//! owners and admins; arrows move, Enter or Tab picks, Escape closes. A
//! mention is sent as the member's id, not as text; messages show the
//! mentions they carry highlighted, the user's own more so.

use leptos::{prelude::*, task::spawn_local};
use wire::{
    api::ConversationDetails,
    endpoint,
    model::{ConversationId, UserId, MENTION_ALL},
};

use crate::{
    chat::Live,
    client,
    i18n::{use_i18n, Msg},
};

/// Most people the picker lists at once.
const MAX_SHOWN: usize = 8;
/// Longest text after "@" still taken for a name being typed, in characters.
const MAX_QUERY: usize = 32;

/// Someone the user may mention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub id: UserId,
    /// What the message says: `@` and this.
    pub name: String,
    /// For Latin letters to find Chinese names (see `PublicProfile::pinyin`).
    pinyin: String,
}

impl Candidate {
    /// A member by id, with their nickname once known.
    pub fn named(id: UserId, nickname: Option<String>) -> Candidate {
        Candidate { id, name: nickname.unwrap_or_default(), pinyin: String::new() }
    }

    /// `@all`, which only owners and admins may send.
    pub fn everyone() -> Candidate {
        Candidate { id: UserId::from(MENTION_ALL), name: MENTION_ALL.to_owned(), pinyin: String::new() }
    }

    fn matches(&self, query: &str) -> bool {
        // The browser's case mapping: Rust's Unicode tables would weigh on the wasm.
        let query = client::lower_case(query);
        client::lower_case(&self.name).contains(&query) || self.pinyin.contains(&query)
    }
}

/// The members of a group the user may mention, loaded on the first "@".
#[derive(Clone, Copy)]
pub struct Members {
    list: RwSignal<Option<Vec<Candidate>>>,
    asked: StoredValue<bool>,
}

impl Members {
    pub fn new() -> Members {
        Members { list: RwSignal::new(None), asked: StoredValue::new(false) }
    }

    /// Who matches `query`, at most a handful, `@all` first when `everyone`.
    pub fn matching(self, live: Live, conversation: &ConversationId, query: &str, everyone: bool) -> Vec<Candidate> {
        if !self.asked.get_value() {
            self.asked.set_value(true);
            let (conversation, me) = (conversation.clone(), live.inbox(|i| i.me().clone()));
            spawn_local(async move {
                if let Ok(d) = client::get::<ConversationDetails>(&endpoint::conversation(&conversation)).await {
                    let people = d.members.into_iter().map(|m| m.profile).filter(|p| p.id != me);
                    let list = people.map(|p| Candidate { id: p.id, name: p.nickname, pinyin: p.pinyin }).collect();
                    self.list.set(Some(list));
                }
            });
        }
        let all = everyone.then(Candidate::everyone).filter(|c| c.matches(query));
        let members = self.list.with(|l| l.iter().flatten().filter(|c| c.matches(query)).cloned().collect::<Vec<_>>());
        all.into_iter().chain(members).take(MAX_SHOWN).collect()
    }
}

/// The name being typed right before the caret: where its "@" is and what
/// follows it (both in UTF-16 units, as the browser counts a selection).
pub fn typed_mention(text: &str, caret: u32) -> Option<(u32, String)> {
    let mut units = 0u32;
    let mut before = String::new();
    for c in text.chars() {
        if units >= caret {
            break;
        }
        units += c.len_utf16() as u32;
        before.push(c);
    }
    let at = before.rfind('@')?;
    let query = &before[at + 1..];
    // An "@" inside a word (an e-mail address) starts no mention.
    let starts_word = before[..at].chars().next_back().is_none_or(char::is_whitespace);
    let fits = query.chars().count() <= MAX_QUERY && !query.chars().any(char::is_whitespace);
    (starts_word && fits).then(|| (before[..at].encode_utf16().count() as u32, query.to_owned()))
}

/// The picked people whose `@name` is still in `text`, each once.
pub fn still_mentioned(text: &str, picked: &[Candidate]) -> Vec<UserId> {
    let mut ids: Vec<UserId> = Vec::new();
    for c in picked.iter().filter(|c| text.contains(&format!("@{}", c.name))) {
        if !ids.contains(&c.id) {
            ids.push(c.id.clone());
        }
    }
    ids
}

/// `text` cut into runs, each with whether it is one of the `@names`.
pub fn split_mentions<'a>(text: &'a str, names: &[String]) -> Vec<(&'a str, bool)> {
    let mut runs = Vec::new();
    let mut rest = text;
    // The earliest name, the longest of those starting there (`@Adam` over `@Ada`).
    let next = |rest: &str| {
        let found = names.iter().filter(|n| !n.is_empty()).filter_map(|n| rest.find(n.as_str()).map(|at| (at, n.len())));
        found.min_by_key(|&(at, len)| (at, std::cmp::Reverse(len)))
    };
    while let Some((at, len)) = next(rest) {
        if at > 0 {
            runs.push((&rest[..at], false));
        }
        runs.push((&rest[at..at + len], true));
        rest = &rest[at + len..];
    }
    if !rest.is_empty() {
        runs.push((rest, false));
    }
    runs
}

/// The picker under the composer, loaded with the first "@" typed in a
/// group (its own wasm chunk when built with `--split`).
#[lazy]
pub fn mention_picker(candidates: Memo<Vec<Candidate>>, selected: RwSignal<usize>, on_pick: Callback<Candidate>) -> AnyView {
    view! { <MentionPicker candidates selected on_pick/> }.into_any()
}

#[component]
fn MentionPicker(
    candidates: Memo<Vec<Candidate>>,
    selected: RwSignal<usize>,
    #[prop(into)] on_pick: Callback<Candidate>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <ul class="mention-picker" role="listbox" data-testid="mention-picker" aria-label=i18n.tr(Msg::MentionSuggestions)>
            {move || {
                candidates
                    .get()
                    .into_iter()
                    .enumerate()
                    .map(|(n, c)| {
                        let label = if c.id.0 == MENTION_ALL {
                            format!("@{} · {}", c.name, i18n.t(Msg::MentionEveryone))
                        } else {
                            format!("@{}", c.name)
                        };
                        view! {
                            <li
                                role="option"
                                class="mention-option"
                                data-testid="mention-option"
                                aria-selected=move || (selected.get() == n).to_string()
                                // Before the text box loses focus.
                                on:mousedown=move |ev| {
                                    ev.prevent_default();
                                    on_pick.run(c.clone());
                                }
                            >
                                {label}
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_name_being_typed() {
        assert_eq!(typed_mention("hi @ad", 6), Some((3, "ad".into())));
        assert_eq!(typed_mention("@", 1), Some((0, String::new())));
        assert_eq!(typed_mention("mail a@b.c", 10), None, "inside a word");
        assert_eq!(typed_mention("@ada lovelace", 13), None, "a space ends it");
        assert_eq!(typed_mention("😀 @张", 5), Some((3, "张".into())), "UTF-16 units");
        assert_eq!(typed_mention("@ab cd", 2), Some((0, "a".into())), "up to the caret");
    }

    #[test]
    fn candidates_match_by_name_or_pinyin() {
        let zhang = Candidate { id: UserId::from("z"), name: "张三".into(), pinyin: "zhangsan zs".into() };
        assert!(zhang.matches("张"));
        assert!(zhang.matches("zs"));
        assert!(zhang.matches("ZHANG"));
        assert!(zhang.matches(""));
        assert!(!zhang.matches("li"));
        let ada = Candidate { id: UserId::from("a"), name: "Ada".into(), pinyin: String::new() };
        assert!(ada.matches("aD"));
    }

    #[test]
    fn only_mentions_still_in_the_text_count() {
        let ada = Candidate { id: UserId::from("a"), name: "Ada".into(), pinyin: String::new() };
        let bob = Candidate { id: UserId::from("b"), name: "Bob".into(), pinyin: String::new() };
        let picked = [ada.clone(), bob, ada];
        assert_eq!(still_mentioned("hi @Ada and @Ada", &picked), [UserId::from("a")]);
    }

    #[test]
    fn splits_out_mentions() {
        let names = ["@Ada".to_owned(), "@all".to_owned()];
        assert_eq!(
            split_mentions("hi @Ada, @all!", &names),
            [("hi ", false), ("@Ada", true), (", ", false), ("@all", true), ("!", false)]
        );
        assert_eq!(split_mentions("plain", &names), [("plain", false)]);
    }
}
