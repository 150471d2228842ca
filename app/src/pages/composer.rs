//! Writing a message: Enter sends, Shift+Enter starts a new line; a counter
//! appears near the length limit; the emoji picker inserts at the caret.
//! Files and recordings go through the attachment controls beside it (`attach`).

use leptos::{html, prelude::*};
use wire::{model::ConversationId, protocol::MAX_TEXT_CHARS};

use super::{
    attach::AttachControls,
    emoji_picker::{emoji_picker, insert_at},
};
use crate::{
    chat::use_live,
    i18n::{use_i18n, Msg},
};

/// From this many characters on, the counter shows.
const COUNT_FROM: usize = MAX_TEXT_CHARS - 500;

#[component]
pub fn Composer(id: ConversationId, at_bottom: RwSignal<bool>) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let text = RwSignal::new(String::new());
    let length = Memo::new(move |_| text.with(|t| t.chars().count()));
    let sendable = move || text.with(|t| !t.trim().is_empty()) && length.get() <= MAX_TEXT_CHARS;
    let typing_in = id.clone();
    let attach_to = id.clone();
    let textarea = NodeRef::<html::Textarea>::new();
    let picker = RwSignal::new(false);
    let insert_emoji = move |emoji: String| {
        let Some(el) = textarea.get_untracked() else { return };
        let value = el.value();
        let (start, end) = (el.selection_start().ok().flatten(), el.selection_end().ok().flatten());
        let len = value.encode_utf16().count() as u32;
        let (value, caret) = insert_at(&value, start.unwrap_or(len), end.unwrap_or(len), &emoji);
        el.set_value(&value);
        let _ = el.set_selection_range(caret, caret);
        text.set(value);
    };
    let close_picker = move || {
        picker.set(false);
        if let Some(el) = textarea.get_untracked() {
            let _ = el.focus();
        }
    };
    let send = move || {
        if !sendable() {
            return;
        }
        live.send(id.clone(), text.get_untracked().trim().to_owned());
        text.set(String::new());
        picker.set(false);
        // One's own message is worth seeing, wherever one had scrolled to.
        at_bottom.set(true);
    };
    let send_on_enter = {
        let send = send.clone();
        move |ev: leptos::ev::KeyboardEvent| {
            // While an input method composes (Chinese, for one), Enter picks a candidate.
            if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                ev.prevent_default();
                send();
            }
        }
    };
    view! {
        <form
            class="composer"
            on:submit=move |ev| {
                ev.prevent_default();
                send();
            }
        >
            <AttachControls id=attach_to at_bottom/>
            <Show when=move || picker.get()>
                {Suspend::new(emoji_picker(Callback::new(insert_emoji), Callback::new(move |()| close_picker())))}
            </Show>
            <button
                type="button"
                class="emoji-toggle"
                data-testid="emoji-button"
                aria-label=i18n.tr(Msg::EmojiButton)
                title=i18n.tr(Msg::EmojiButton)
                aria-expanded=move || picker.get().to_string()
                on:click=move |_| if picker.get_untracked() { close_picker() } else { picker.set(true) }
            >
                "😊"
            </button>
            <label class="visually-hidden" for="composer">{i18n.tr(Msg::MessageLabel)}</label>
            <textarea
                id="composer"
                node_ref=textarea
                rows="1"
                data-testid="composer"
                placeholder=i18n.tr(Msg::WritePlaceholder)
                aria-describedby="composer-count"
                prop:value=move || text.get()
                on:input=move |ev| {
                    text.set(event_target_value(&ev));
                    live.typing(typing_in.clone());
                }
                on:keydown=send_on_enter
            ></textarea>
            <Show when=move || { length.get() >= COUNT_FROM }>
                <span
                    id="composer-count"
                    class="counter"
                    class:over=move || { length.get() > MAX_TEXT_CHARS }
                    data-testid="composer-count"
                    aria-live="polite"
                >
                    {move || format!("{} / {MAX_TEXT_CHARS}", length.get())}
                    <span class="visually-hidden">" " {i18n.tr(Msg::CharactersUsed)}</span>
                </span>
            </Show>
            <button type="submit" class="btn" data-testid="send" disabled=move || !sendable()>
                {i18n.tr(Msg::Send)}
            </button>
        </form>
    }
}
