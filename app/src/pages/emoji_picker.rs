//! The emoji picker beside the composer: the dataset's groups as tabs, a
//! search over names and shortcodes, the recently used ones first (kept in
//! localStorage). The list comes from `GET /api/emoji` when the picker first
//! opens, not from the wasm bundle. Keyboard: the search box takes focus,
//! arrows move through the emoji, Enter picks, Escape closes.

use leptos::{html, prelude::*, task::spawn_local, wasm_bindgen::JsCast};
use wire::{
    api::{EmojiEntry, EmojiGroup},
    endpoint,
};

use crate::{
    client,
    i18n::{use_i18n, Msg},
};

/// localStorage key of the recently used emoji, newest first, as a JSON list.
const RECENT_KEY: &str = "natter_recent_emoji";
const RECENT_MAX: usize = 24;
/// Emoji per row; the arrow keys move by this much up and down.
const COLUMNS: i32 = 8;
/// Search results shown at most.
const MAX_RESULTS: usize = 160;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tab {
    Recent,
    Group(EmojiGroup),
}

impl Tab {
    fn icon(self) -> &'static str {
        match self {
            Tab::Recent => "🕘",
            Tab::Group(g) => match g {
                EmojiGroup::Smileys => "😀",
                EmojiGroup::People => "👋",
                EmojiGroup::Animals => "🐻",
                EmojiGroup::Food => "🍔",
                EmojiGroup::Travel => "✈️",
                EmojiGroup::Activities => "⚽",
                EmojiGroup::Objects => "💡",
                EmojiGroup::Symbols => "🔣",
                EmojiGroup::Flags => "🏁",
            },
        }
    }

    fn label(self) -> Msg {
        match self {
            Tab::Recent => Msg::EmojiRecent,
            Tab::Group(g) => Msg::for_emoji_group(g),
        }
    }
}

/// The picker, loaded with its first opening (its own wasm chunk when built
/// with `--split`): most messages are written without it.
#[lazy]
pub fn emoji_picker(on_pick: Callback<String>, on_close: Callback<()>) -> AnyView {
    view! { <EmojiPicker on_pick on_close/> }.into_any()
}

/// The picker panel. `on_pick` gets each chosen emoji; `on_close` is called on Escape.
#[component]
fn EmojiPicker(#[prop(into)] on_pick: Callback<String>, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let list = RwSignal::new(None::<Result<Vec<EmojiEntry>, ()>>);
    spawn_local(async move {
        let got = client::get::<Vec<EmojiEntry>>(endpoint::EMOJI).await;
        list.set(Some(got.map_err(|e| leptos::logging::warn!("natter: no emoji list: {e}"))));
    });
    let recent = RwSignal::new(recall_recent());
    let tab = RwSignal::new(if recent.with_untracked(Vec::is_empty) { Tab::Group(EmojiGroup::Smileys) } else { Tab::Recent });
    let query = RwSignal::new(String::new());
    let shown = Memo::new(move |_| {
        list.with(|list| {
            let Some(Ok(list)) = list else { return Vec::new() };
            let q = query.get();
            if !q.trim().is_empty() {
                return search(list, &q).into_iter().cloned().collect();
            }
            match tab.get() {
                Tab::Recent => recent.with(|r| {
                    r.iter().filter_map(|emoji| list.iter().find(|e| e.emoji == *emoji)).cloned().collect()
                }),
                Tab::Group(g) => list.iter().filter(|e| e.group == g).cloned().collect(),
            }
        })
    });
    let pick = move |emoji: String| {
        let updated = recent.with_untracked(|r| with_recent(r, &emoji));
        client::remember(RECENT_KEY, &serde_json::to_string(&updated).unwrap_or_default());
        recent.set(updated);
        on_pick.run(emoji);
    };

    let grid = NodeRef::<html::Div>::new();
    let search_box = NodeRef::<html::Input>::new();
    let focus_emoji = move |index: i32| {
        let Some(grid) = grid.get_untracked() else { return false };
        let found = grid.query_selector(&format!("[data-index=\"{index}\"]")).ok().flatten();
        match found.and_then(|el| el.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
            Some(el) => el.focus().is_ok(),
            None => false,
        }
    };
    let on_grid_key = move |ev: leptos::ev::KeyboardEvent| {
        let step = match ev.key().as_str() {
            "ArrowRight" => 1,
            "ArrowLeft" => -1,
            "ArrowDown" => COLUMNS,
            "ArrowUp" => -COLUMNS,
            _ => return,
        };
        let current = document()
            .active_element()
            .and_then(|el| el.get_attribute("data-index"))
            .and_then(|i| i.parse::<i32>().ok());
        if let Some(current) = current {
            ev.prevent_default();
            if !focus_emoji(current + step) && current + step < 0 {
                if let Some(input) = search_box.get_untracked() {
                    let _ = input.focus();
                }
            }
        }
    };
    let on_search_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "ArrowDown" => {
            ev.prevent_default();
            focus_emoji(0);
        }
        "Enter" => {
            ev.prevent_default();
            if let Some(first) = shown.with_untracked(|s| s.first().map(|e| e.emoji.clone())) {
                pick(first);
            }
        }
        _ => {}
    };
    Effect::new(move || {
        if let Some(input) = search_box.get() {
            let _ = input.focus();
        }
    });

    let tabs = std::iter::once(Tab::Recent).chain(EmojiGroup::ALL.into_iter().map(Tab::Group)).collect::<Vec<_>>();
    view! {
        <div
            class="emoji-picker"
            role="dialog"
            aria-label=i18n.tr(Msg::EmojiButton)
            data-testid="emoji-picker"
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    ev.prevent_default();
                    on_close.run(());
                }
            }
        >
            <input
                type="search"
                class="emoji-search"
                node_ref=search_box
                data-testid="emoji-search"
                placeholder=i18n.tr(Msg::EmojiSearch)
                aria-label=i18n.tr(Msg::EmojiSearch)
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
                on:keydown=on_search_key
            />
            <div class="emoji-tabs" role="tablist">
                {tabs
                    .into_iter()
                    .map(|t| {
                        view! {
                            <button
                                type="button"
                                role="tab"
                                class="emoji-tab"
                                aria-selected=move || (tab.get() == t && query.with(|q| q.trim().is_empty())).to_string()
                                title=move || i18n.t(t.label())
                                aria-label=move || i18n.t(t.label())
                                on:click=move |_| {
                                    query.set(String::new());
                                    tab.set(t);
                                }
                            >
                                {t.icon()}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <div class="emoji-grid" node_ref=grid on:keydown=on_grid_key>
                {move || {
                    shown
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, e)| {
                            let title = match e.shortcodes.first() {
                                Some(code) => format!("{} :{code}:", e.name),
                                None => e.name.clone(),
                            };
                            let emoji = e.emoji.clone();
                            view! {
                                <button
                                    type="button"
                                    class="emoji"
                                    data-testid="emoji"
                                    data-index=i
                                    title=title
                                    aria-label=e.name
                                    on:click=move |_| pick(emoji.clone())
                                >
                                    {e.emoji}
                                </button>
                            }
                        })
                        .collect_view()
                }}
            </div>
            {move || match list.with(|l| l.as_ref().map(Result::is_ok)) {
                None => Some(view! { <p class="muted emoji-note">{i18n.t(Msg::Loading)}</p> }),
                Some(false) => Some(view! { <p class="muted emoji-note">{i18n.t(Msg::EmojiUnavailable)}</p> }),
                Some(true) if shown.with(Vec::is_empty) && !query.with(|q| q.trim().is_empty()) => {
                    Some(view! { <p class="muted emoji-note">{i18n.t(Msg::EmojiNoMatch)}</p> })
                }
                Some(true) => None,
            }}
        </div>
    }
}

fn recall_recent() -> Vec<String> {
    client::recall(RECENT_KEY).and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default()
}

/// The recently used list after using `emoji`: it first, once, at most [`RECENT_MAX`].
fn with_recent(recent: &[String], emoji: &str) -> Vec<String> {
    std::iter::once(emoji)
        .chain(recent.iter().map(String::as_str).filter(|e| *e != emoji))
        .take(RECENT_MAX)
        .map(str::to_owned)
        .collect()
}

/// Emoji whose name or a shortcode holds `query` (colons and case ignored);
/// those where it starts the name or a shortcode first.
fn search<'a>(list: &'a [EmojiEntry], query: &str) -> Vec<&'a EmojiEntry> {
    let q = client::lower_case(query.trim().trim_matches(':'));
    if q.is_empty() {
        return Vec::new();
    }
    let starts = |e: &EmojiEntry| e.name.starts_with(&q) || e.shortcodes.iter().any(|c| c.starts_with(&q));
    let holds = |e: &EmojiEntry| e.name.contains(&q) || e.shortcodes.iter().any(|c| c.contains(&q));
    let (mut first, rest): (Vec<_>, Vec<_>) = list.iter().filter(|e| holds(e)).partition(|e| starts(e));
    first.extend(rest);
    first.truncate(MAX_RESULTS);
    first
}

/// `text` with `insert` in place of its characters from `start` to `end`,
/// counted in UTF-16 units as the browser counts a selection, and the caret
/// after the insertion in the same units.
pub fn insert_at(text: &str, start: u32, end: u32, insert: &str) -> (String, u32) {
    let byte_at = |units: u32| {
        let mut seen = 0;
        for (i, c) in text.char_indices() {
            if seen >= units {
                return i;
            }
            seen += c.len_utf16() as u32;
        }
        text.len()
    };
    let (start, end) = (byte_at(start.min(end)), byte_at(end.max(start)));
    let caret = text[..start].encode_utf16().count() + insert.encode_utf16().count();
    (format!("{}{insert}{}", &text[..start], &text[end..]), caret as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(emoji: &str, name: &str, codes: &[&str]) -> EmojiEntry {
        EmojiEntry {
            emoji: emoji.into(),
            name: name.into(),
            shortcodes: codes.iter().map(|c| c.to_string()).collect(),
            group: EmojiGroup::Smileys,
        }
    }

    #[test]
    fn inserts_at_the_caret_in_utf16_units() {
        assert_eq!(insert_at("", 0, 0, "😀"), ("😀".into(), 2));
        assert_eq!(insert_at("ab", 1, 1, "😀"), ("a😀b".into(), 3));
        assert_eq!(insert_at("😀b", 2, 2, "👍"), ("😀👍b".into(), 4));
        assert_eq!(insert_at("你好世界", 2, 4, "🙂"), ("你好🙂".into(), 4), "replaces the selection");
        assert_eq!(insert_at("ab", 9, 9, "!"), ("ab!".into(), 3), "past the end appends");
    }

    #[test]
    fn keeps_recent_emoji_newest_first_and_once() {
        let r = with_recent(&[], "😀");
        let r = with_recent(&r, "👍");
        assert_eq!(with_recent(&r, "😀"), ["😀", "👍"]);
        let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        assert_eq!(with_recent(&many, "x").len(), RECENT_MAX);
    }

    #[test]
    fn searches_names_and_shortcodes() {
        let list = [
            entry("😀", "grinning face", &["grinning"]),
            entry("😆", "grinning squinting face", &["laughing", "satisfied"]),
            entry("🙂", "slightly smiling face", &["slightly_smiling_face"]),
        ];
        let found = |q| search(&list, q).iter().map(|e| e.emoji.as_str()).collect::<Vec<_>>();
        assert_eq!(found("grin"), ["😀", "😆"]);
        assert_eq!(found(":laughing:"), ["😆"]);
        assert_eq!(found("SMILING"), ["🙂"]);
        assert_eq!(found("face"), ["😀", "😆", "🙂"]);
        assert_eq!(found("satis"), ["😆"]);
        assert!(found("  ").is_empty());
        assert!(found("zebra").is_empty());
    }
}
