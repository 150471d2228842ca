//! Writing a message, on one line on a phone (attachments, the box, emoji,
//! send), the box growing with its text: Enter sends, Shift+Enter starts a new line; a counter
//! appears near the length limit; the emoji picker inserts at the caret.
//! Files and recordings go through the attachment controls beside it (`attach`).
//! A reply shows what it answers above the box; an edit fills the box with
//! the message's text (Up in an empty box edits the user's last message);
//! Escape leaves either. In a group "@" opens the mention picker (`mentions`).

use leptos::{ev::KeyboardEvent, html, prelude::*};
use wire::{
    model::{ConversationId, MessageKind},
    protocol::MAX_TEXT_CHARS,
};

use super::{
    attach::AttachControls,
    emoji_picker::{emoji_picker, insert_at},
    icons::{Icon, Svg},
    mentions::{mention_picker, still_mentioned, typed_mention, Candidate, Members},
    open_chat::{use_chat, Draft},
    quote::{excerpt, sender_name, use_shown},
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
    let chat = use_chat();
    // The people picked from the mention picker (kept while their `@name` is in the text).
    let picked = RwSignal::new(Vec::<Candidate>::new());
    let members = Members::new();
    // The name being typed after "@": where its "@" is, and the text so far.
    let typed = RwSignal::new(None::<(u32, String)>);
    let selected = RwSignal::new(0usize);
    let candidates = {
        let id = id.clone();
        Memo::new(move |_| match typed.get() {
            Some((_, query)) if chat.is_group() => members.matching(live, &id, &query, chat.moderates()),
            _ => Vec::new(),
        })
    };
    let note_caret = move || {
        let Some(el) = textarea.get_untracked() else { return };
        let caret = el.selection_end().ok().flatten().unwrap_or(0);
        let found = text.with_untracked(|t| typed_mention(t, caret));
        if found != typed.get_untracked() {
            selected.set(0);
            typed.set(found);
        }
    };
    let pick = move |c: Candidate| {
        let (Some(el), Some((at, _))) = (textarea.get_untracked(), typed.get_untracked()) else { return };
        let caret = el.selection_end().ok().flatten().unwrap_or(at);
        let (value, caret) = insert_at(&el.value(), at, caret, &format!("@{} ", c.name));
        el.set_value(&value);
        let _ = el.set_selection_range(caret, caret);
        text.set(value);
        picked.update(|p| p.push(c));
        typed.set(None);
    };
    // An edit starts from the message's text and mentions.
    Effect::new(move || {
        if let Draft::Edit(seq) = chat.draft.get() {
            let Some(shown) = live.inbox(|i| i.shown(&chat.id(), seq)) else { return };
            let m = shown.message;
            let people = m.mentions.iter().map(|id| {
                let name = live.profile(id).map(|p| p.nickname);
                if id.0 == wire::model::MENTION_ALL { Candidate::everyone() } else { Candidate::named(id.clone(), name) }
            });
            picked.set(people.collect());
            text.set(m.content);
            if let Some(el) = textarea.get_untracked() {
                let _ = el.focus();
            }
        } else if chat.draft.get() != Draft::New {
            if let Some(el) = textarea.get_untracked() {
                let _ = el.focus();
            }
        }
    });
    let leave_draft = move || {
        if matches!(chat.draft.get_untracked(), Draft::Edit(_)) {
            text.set(String::new());
        }
        chat.draft.set(Draft::New);
    };
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
        let content = text.get_untracked().trim().to_owned();
        let mentions = picked.with_untracked(|p| still_mentioned(&content, p));
        match chat.draft.get_untracked() {
            Draft::New => live.send(id.clone(), content, None, mentions),
            Draft::Reply(seq) => live.send(id.clone(), content, Some(seq), mentions),
            Draft::Edit(seq) => live.change(id.clone(), MessageKind::Edit, seq, content, mentions),
        }
        chat.draft.set(Draft::New);
        picked.set(Vec::new());
        typed.set(None);
        text.set(String::new());
        picker.set(false);
        // One's own message is worth seeing, wherever one had scrolled to.
        at_bottom.set(true);
    };
    let on_key = {
        let send = send.clone();
        move |ev: KeyboardEvent| {
            // While an input method composes (Chinese, for one), Enter picks a candidate.
            if ev.is_composing() {
                return;
            }
            let choices = candidates.with_untracked(Vec::len);
            match ev.key().as_str() {
                "ArrowDown" | "ArrowUp" if choices > 0 => {
                    ev.prevent_default();
                    let step = if ev.key() == "ArrowDown" { 1 } else { choices - 1 };
                    selected.update(|s| *s = (*s + step) % choices);
                }
                "Enter" | "Tab" if choices > 0 => {
                    ev.prevent_default();
                    let chosen = candidates.with_untracked(|c| c.get(selected.get_untracked()).cloned());
                    if let Some(c) = chosen {
                        pick(c);
                    }
                }
                "Escape" if choices > 0 => typed.set(None),
                "Escape" => leave_draft(),
                "ArrowUp" if text.with_untracked(String::is_empty) => {
                    if let Some(seq) = live.inbox(|i| i.last_editable(&chat.id())) {
                        ev.prevent_default();
                        chat.draft.set(Draft::Edit(seq));
                    }
                }
                "Enter" if !ev.shift_key() => {
                    ev.prevent_default();
                    send();
                }
                _ => {}
            }
        }
    };
    let send_label = move || i18n.t(if matches!(chat.draft.get(), Draft::Edit(_)) { Msg::Save } else { Msg::Send });
    view! {
        <form
            class="composer"
            on:submit=move |ev| {
                ev.prevent_default();
                send();
            }
        >
            <DraftBar leave=leave_draft/>
            <Show when=move || candidates.with(|c| !c.is_empty())>
                {Suspend::new(mention_picker(candidates, selected, Callback::new(pick)))}
            </Show>
            <AttachControls id=attach_to at_bottom/>
            <Show when=move || picker.get()>
                {Suspend::new(emoji_picker(Callback::new(insert_emoji), Callback::new(move |()| close_picker())))}
            </Show>
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
                    note_caret();
                    live.typing(typing_in.clone());
                }
                on:click=move |_| note_caret()
                on:keydown=on_key
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
            <button
                type="button"
                class="icon-button emoji-toggle"
                data-testid="emoji-button"
                aria-label=i18n.tr(Msg::EmojiButton)
                title=i18n.tr(Msg::EmojiButton)
                aria-expanded=move || picker.get().to_string()
                on:click=move |_| if picker.get_untracked() { close_picker() } else { picker.set(true) }
            >
                <Svg icon=Icon::Emoji/>
            </button>
            <button
                type="submit"
                class="icon-button send"
                data-testid="send"
                title=send_label
                disabled=move || !sendable()
            >
                <Svg icon=Icon::Send/>
                <span class="visually-hidden">{send_label}</span>
            </button>
        </form>
    }
}

/// Above the box while replying ("Replying to Ada: …") or editing, with a way out.
#[component]
fn DraftBar(leave: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    move || match chat.draft.get() {
        Draft::New => ().into_any(),
        Draft::Reply(seq) => {
            let shown = use_shown(chat.id(), seq);
            let name = sender_name(shown);
            let text = move || shown.with(|s| s.as_ref().map(|s| excerpt(s, i18n)).unwrap_or_default());
            view! {
                <div class="draft-bar" data-testid="reply-bar">
                    <span class="draft-what">{i18n.tr(Msg::ReplyingTo)} " " <b dir="auto">{name}</b></span>
                    <span class="quote-text" dir="auto">{text}</span>
                    <button type="button" class="link-button" aria-label=i18n.tr(Msg::CancelReply) on:click=move |_| leave()>
                        "×"
                    </button>
                </div>
            }
            .into_any()
        }
        Draft::Edit(_) => view! {
            <div class="draft-bar" data-testid="edit-bar">
                <span class="draft-what">{i18n.tr(Msg::EditingMessage)}</span>
                <button type="button" class="link-button" aria-label=i18n.tr(Msg::CancelEdit) on:click=move |_| leave()>
                    "×"
                </button>
            </div>
        }
        .into_any(),
    }
}
