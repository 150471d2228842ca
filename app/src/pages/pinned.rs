//! The bar at the top of a chat with its pinned messages, the latest pinned
//! first: clicking brings the one shown into view, and shows the next.

use leptos::prelude::*;

use super::{
    open_chat::use_chat,
    quote::{excerpt, sender_name, use_shown},
};
use crate::{
    chat::use_live,
    i18n::{use_i18n, Msg},
};

#[component]
pub fn PinnedBar() -> impl IntoView {
    let live = use_live();
    let chat = use_chat();
    let pinned = Memo::new(move |_| live.inbox(|i| i.pinned(&chat.id())));
    let at = RwSignal::new(0usize);
    move || {
        let pins = pinned.get();
        let count = pins.len();
        let seq = *pins.get(at.get() % count.max(1))?;
        Some(view! { <PinnedLine seq place=at.get() % count + 1 count on_click=move || at.update(|a| *a += 1)/> })
    }
}

#[component]
fn PinnedLine(seq: u64, place: usize, count: usize, on_click: impl Fn() + 'static) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let shown = use_shown(chat.id(), seq);
    let name = sender_name(shown);
    let text = move || shown.with(|s| s.as_ref().map(|s| excerpt(s, i18n)).unwrap_or_default());
    view! {
        <button
            type="button"
            class="pinned-bar"
            data-testid="pinned-bar"
            data-seq=seq.to_string()
            on:click=move |_| {
                chat.jump.set(Some(seq));
                on_click();
            }
        >
            <span class="pinned-label">
                "📌 " {i18n.tr(Msg::PinnedMessages)}
                {(count > 1).then(|| format!(" {place}/{count}"))}
            </span>
            <span class="quote-sender" dir="auto">{name}</span>
            <span class="quote-text" dir="auto">{text}</span>
        </button>
    }
}
