//! A message in a line: the quote a reply shows of its original, the
//! composer's "replying to", the pinned bar. Each says who wrote it and its
//! first line, or what kind of message it is.

use leptos::{prelude::*, task::spawn_local};
use wire::{fold::Shown, model::ConversationId};

use super::open_chat::use_chat;
use crate::{
    chat::use_live,
    i18n::{use_i18n, I18n, Msg},
};

/// Longest excerpt shown, in characters.
const EXCERPT_CHARS: usize = 80;

/// The first line of a message (cut short), what kind it is, or that it was deleted.
pub fn excerpt(shown: &Shown, i18n: I18n) -> String {
    if shown.deleted_by.is_some() {
        return i18n.t(Msg::OriginalDeleted).to_owned();
    }
    let m = &shown.message;
    let line = m.content.lines().next().unwrap_or_default();
    let text: String = line.chars().take(EXCERPT_CHARS).collect();
    let cut = if line.chars().count() > EXCERPT_CHARS { "…" } else { "" };
    match Msg::for_kind(m.kind) {
        Some(kind) if text.is_empty() => i18n.t(kind).to_owned(),
        Some(kind) => format!("{}: {text}{cut}", i18n.t(kind)),
        None => format!("{text}{cut}"),
    }
}

/// The message at `seq` as members see it: from what is loaded, else
/// fetched once; `None` until known (or when it cannot be had).
pub fn use_shown(conversation: ConversationId, seq: u64) -> Signal<Option<Shown>> {
    let live = use_live();
    let loaded = {
        let conversation = conversation.clone();
        Memo::new(move |_| live.inbox(|i| i.shown(&conversation, seq)))
    };
    let fetched = RwSignal::new(None::<Shown>);
    if loaded.get_untracked().is_none() {
        spawn_local(async move {
            if let Ok(shown) = live.fetch_shown(conversation, seq).await {
                fetched.set(Some(shown));
            }
        });
    }
    Signal::derive(move || loaded.get().or_else(|| fetched.get()))
}

/// Who wrote a message, by nickname once their profile is known.
pub fn sender_name(shown: Signal<Option<Shown>>) -> Signal<String> {
    let live = use_live();
    Signal::derive(move || {
        let sender = shown.with(|s| s.as_ref().map(|s| s.message.sender_id.clone()));
        sender.and_then(|s| live.profile(&s)).map(|p| p.nickname).unwrap_or_default()
    })
}

/// The quote at the top of a reply: clicking it brings the original into view.
#[component]
pub fn Quote(conversation: ConversationId, seq: u64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let shown = use_shown(conversation, seq);
    let name = sender_name(shown);
    let text = move || shown.with(|s| s.as_ref().map_or_else(|| i18n.t(Msg::OriginalUnavailable).to_owned(), |s| excerpt(s, i18n)));
    view! {
        <button type="button" class="quote" data-testid="reply-quote" on:click=move |_| chat.jump.set(Some(seq))>
            <span class="quote-sender" dir="auto">{name}</span>
            <span class="quote-text" dir="auto">{text}</span>
        </button>
    }
}
