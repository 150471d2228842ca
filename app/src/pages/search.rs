//! Message search: the box above the chat list (every conversation) and
//! the one a chat's header opens (that conversation only). Results come as
//! one types, after a short pause; each shows where the message is, who
//! sent it and when, its text with what matched marked, and opens the
//! chat at that message (`/chats/{id}?at={seq}`). More come on scroll.

use leptos::{html, prelude::*};
use leptos_router::components::A;
use wire::{
    api::{SearchHit, SearchParams, SearchResults},
    endpoint,
    model::ConversationId,
    protocol::ApiError,
};

use super::{as_you_type::AsYouType, chats::chat_face};
use crate::{
    chat::use_live,
    client,
    i18n::{use_i18n, Msg},
};

/// How close to the end of the results a scroll loads the next page, in pixels.
const MORE_SLACK: i32 = 80;

/// What the results show.
#[derive(Clone, Default)]
struct Found {
    hits: Vec<SearchHit>,
    next: Option<String>,
    error: Option<ApiError>,
    busy: bool,
}

/// The search box and its results; `conversation` narrows it to one chat.
#[component]
pub fn SearchBox(#[prop(optional)] conversation: Option<ConversationId>, #[prop(optional)] autofocus: bool) -> impl IntoView {
    let i18n = use_i18n();
    let query = RwSignal::new(String::new());
    let conversation = StoredValue::new(conversation);
    let placeholder = move || {
        let msg = if conversation.with_value(Option::is_some) { Msg::SearchThisChat } else { Msg::SearchMessages };
        i18n.t(msg)
    };
    let searching = move || !query.with(|q| q.trim().is_empty());
    view! {
        <div class="search" role="search">
            <input
                type="search"
                class="search-input"
                data-testid="search-input"
                autofocus=autofocus
                enterkeyhint="search"
                aria-label=placeholder
                placeholder=placeholder
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
            />
            <Show when=searching>
                {Suspend::new(search_results(query, conversation.get_value()))}
            </Show>
        </div>
    }
}

/// The results, loaded with the first search (their own wasm chunk when
/// built with `--split`): most visits search nothing.
#[lazy]
fn search_results(query: RwSignal<String>, conversation: Option<ConversationId>) -> AnyView {
    view! { <ResultsPanel query conversation/> }.into_any()
}

/// The results of `query` while it holds more than spaces.
#[component]
fn ResultsPanel(query: RwSignal<String>, conversation: Option<ConversationId>) -> impl IntoView {
    let i18n = use_i18n();
    let found = RwSignal::new(Found::default());
    // Each search is numbered: an answer to an older one is dropped.
    let asked = AsYouType::new();
    let conversation = StoredValue::new(conversation);
    let fetch = move |cursor: Option<String>| {
        let q = query.get_untracked();
        if q.trim().is_empty() {
            found.set(Found::default());
            return;
        }
        let params = SearchParams { q, conversation: conversation.get_value(), cursor: cursor.clone(), ..Default::default() };
        let number = asked.latest();
        found.update(|f| f.busy = true);
        leptos::task::spawn_local(async move {
            let answer: Result<SearchResults, ApiError> = client::get(&url(&params)).await;
            if !asked.is_latest(number) {
                return;
            }
            found.update(|f| {
                f.busy = false;
                if cursor.is_none() {
                    f.hits.clear();
                }
                match answer {
                    Ok(page) => {
                        f.hits.extend(page.hits);
                        f.next = page.next_cursor;
                        f.error = None;
                    }
                    Err(e) => f.error = Some(e),
                }
            });
        });
    };
    // From the letter that opened the panel on, each pause in the typing asks.
    Effect::new(move || {
        query.track();
        asked.after_pause(move || fetch(None));
    });
    let more = move || {
        let f = found.get_untracked();
        if let (Some(next), false) = (f.next, f.busy) {
            fetch(Some(next));
        }
    };
    let list = NodeRef::<html::Ul>::new();
    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            if el.scroll_height() - el.scroll_top() - el.client_height() <= MORE_SLACK {
                more();
            }
        }
    };
    // Opening a result ends the search (and with it this panel).
    let clear = move || {
        asked.forget();
        query.set(String::new());
    };
    view! {
        <div class="search-panel" data-testid="search-results">
            {move || found.with(|f| f.error.as_ref().map(|e| view! { <p class="error" role="alert">{i18n.error(e)}</p> }))}
            {move || {
                found.with(|f| {
                    (f.hits.is_empty() && !f.busy && f.error.is_none())
                        .then(|| view! { <p class="muted">{i18n.tr(Msg::SearchNothing)}</p> })
                })
            }}
            <ul class="search-results" node_ref=list on:scroll=on_scroll>
                <For
                    each=move || found.with(|f| f.hits.clone())
                    key=|hit| (hit.conversation_id.clone(), hit.seq)
                    let:hit
                >
                    <Hit hit on_open=Callback::new(move |()| clear())/>
                </For>
            </ul>
            <Show when=move || found.with(|f| f.busy)>
                <p class="muted">{i18n.tr(Msg::Loading)}</p>
            </Show>
            <Show when=move || found.with(|f| f.next.is_some() && !f.busy)>
                <button type="button" class="btn secondary small" data-testid="search-more" on:click=move |_| more()>
                    {i18n.tr(Msg::SearchMore)}
                </button>
            </Show>
        </div>
    }
}

/// The box for searching one chat, while `open` (the chat's menu opens it).
#[component]
pub fn ChatSearch(conversation: ConversationId, open: RwSignal<bool>) -> impl IntoView {
    let conversation = StoredValue::new(conversation);
    view! {
        <Show when=move || open.get()>
            <div class="chat-search">
                <SearchBox conversation=conversation.get_value() autofocus=true/>
            </div>
        </Show>
    }
}

/// One result: the chat, the sender, the time, the excerpt with its marks.
#[component]
fn Hit(hit: SearchHit, on_open: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let SearchHit { conversation_id, seq, sender_id, created_ms, excerpt, highlights, .. } = hit;
    live.want_profiles([sender_id.clone()]);
    let chat = {
        let id = conversation_id.clone();
        move || live.inbox(|i| i.summary(&id).map(|s| chat_face(s).0)).unwrap_or_default()
    };
    let sender = move || {
        if live.inbox(|i| i.me() == &sender_id) {
            return i18n.t(Msg::You).to_owned();
        }
        live.profile(&sender_id).map(|p| p.nickname).unwrap_or_default()
    };
    let parts = marked(&excerpt, &highlights)
        .into_iter()
        .map(|(text, mark)| if mark { view! { <mark>{text}</mark> }.into_any() } else { text.into_any() })
        .collect_view();
    let href = format!("/chats/{conversation_id}?at={seq}");
    view! {
        <li on:click=move |_| on_open.run(())>
            <A href attr:class="search-hit" attr:data-testid="search-result" attr:data-seq=seq.to_string()>
                <span class="search-hit-line">
                    <span class="search-hit-chat">{chat}</span>
                    <time class="search-hit-time">{move || i18n.when(created_ms)}</time>
                </span>
                <span class="search-hit-sender">{sender}</span>
                <span class="search-hit-text" dir="auto">{parts}</span>
            </A>
        </li>
    }
}

/// The excerpt cut into plain and marked pieces; ranges count characters.
fn marked(excerpt: &str, highlights: &[[u32; 2]]) -> Vec<(String, bool)> {
    let chars: Vec<char> = excerpt.chars().collect();
    let mut pieces = Vec::new();
    let mut at = 0;
    for &[from, to] in highlights {
        let (from, to) = ((from as usize).clamp(at, chars.len()), (to as usize).min(chars.len()));
        if from >= to {
            continue;
        }
        if from > at {
            pieces.push((chars[at..from].iter().collect(), false));
        }
        pieces.push((chars[from..to].iter().collect(), true));
        at = to;
    }
    if at < chars.len() {
        pieces.push((chars[at..].iter().collect(), false));
    }
    pieces
}

fn url(params: &SearchParams) -> String {
    let pairs: Vec<String> = params.pairs().into_iter().map(|(k, v)| format!("{k}={}", client::escape(&v))).collect();
    format!("{}?{}", endpoint::SEARCH, pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_cut_the_excerpt_by_characters() {
        let pieces = marked("我家在上海东边", &[[3, 5]]);
        assert_eq!(pieces, [("我家在".into(), false), ("上海".into(), true), ("东边".into(), false)]);
        assert_eq!(marked("abc", &[[0, 1], [1, 9]]), [("a".into(), true), ("bc".into(), true)]);
        assert_eq!(marked("", &[]), Vec::<(String, bool)>::new());
    }
}
