//! What a user can do to a message: react (six at hand, any from the
//! picker), reply, edit and delete their own, remove others' as a group's
//! owner or admin, pin. Opened from the "⋯" beside the message (shown on
//! hover, always on touch screens) or by a long press / right click.

use leptos::prelude::*;
use wire::{fold::Shown, model::MessageKind};

use super::{
    emoji_picker::emoji_picker,
    open_chat::{use_chat, Draft, OpenChat},
};
use crate::{
    chat::{use_live, Live},
    i18n::{use_i18n, Msg},
};

/// The reactions one tap away.
pub const QUICK_REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

/// Gives `emoji` to the message, or takes it back when the user had given it.
pub fn toggle_reaction(live: Live, chat: OpenChat, shown: &Shown, emoji: String) {
    let me = live.inbox(|i| i.me().clone());
    let given = shown.reactions.iter().any(|r| r.emoji == emoji && r.users.contains(&me));
    let kind = if given { MessageKind::Unreact } else { MessageKind::React };
    live.change(chat.id(), kind, shown.message.seq, emoji, Vec::new());
}

/// The toolbar of one message; `open` says whether it shows.
#[component]
pub fn MessageActions(shown: Shown, open: RwSignal<bool>) -> impl IntoView {
    let shown = StoredValue::new(shown);
    view! {
        <Show when=move || open.get()>
            {Suspend::new(message_toolbar(shown.get_value(), open))}
        </Show>
    }
}

/// The toolbar, loaded with the first one opened (its own wasm chunk when
/// built with `--split`): most messages are read without it.
#[lazy]
fn message_toolbar(shown: Shown, open: RwSignal<bool>) -> AnyView {
    view! { <MessageToolbar shown open/> }.into_any()
}

#[component]
fn MessageToolbar(shown: Shown, open: RwSignal<bool>) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let chat = use_chat();
    let me = live.inbox(|i| i.me().clone());
    let seq = shown.message.seq;
    let mine = shown.message.sender_id == me;
    // Text and captions are edited; a call record or a bare file has none.
    let editable = mine && !shown.message.content.is_empty() && shown.message.call.is_none();
    let shown = StoredValue::new(shown);
    let picker = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let done = move || {
        open.set(false);
        picker.set(false);
        confirming.set(false);
    };
    let react = move |emoji: String| {
        shown.with_value(|s| toggle_reaction(live, chat, s, emoji));
        done();
    };
    let change = move |kind: MessageKind| {
        live.change(chat.id(), kind, seq, String::new(), Vec::new());
        done();
    };
    // Reply and Edit hand the message to the composer.
    let draft_button = move |testid: &'static str, label: Msg, draft: Draft| {
        view! {
            <button
                type="button"
                class="link-button"
                data-testid=testid
                on:click=move |_| {
                    chat.draft.set(draft);
                    done();
                }
            >
                {i18n.tr(label)}
            </button>
        }
    };
    let pinned = shown.with_value(|s| s.pinned);
    let quick = move || QUICK_REACTIONS.map(|emoji| {
        view! {
            <button type="button" class="quick-reaction" data-testid="quick-reaction" on:click=move |_| react(emoji.to_owned())>
                {emoji}
            </button>
        }
    });
    view! {
        <div
            class="message-toolbar"
            role="toolbar"
            data-testid="message-toolbar"
            aria-label=i18n.tr(Msg::MessageActions)
            on:keydown=move |ev| if ev.key() == "Escape" { done() }
        >
            {quick()}
            <button
                type="button"
                class="quick-reaction"
                data-testid="more-reactions"
                aria-label=i18n.tr(Msg::MoreReactions)
                title=i18n.tr(Msg::MoreReactions)
                on:click=move |_| picker.update(|p| *p = !*p)
            >
                "+"
            </button>
            {draft_button("reply", Msg::Reply, Draft::Reply(seq))}
            {editable.then(|| draft_button("edit", Msg::EditMessage, Draft::Edit(seq)))}
            <Show when=move || mine || chat.moderates()>
                <Show
                    when=move || confirming.get()
                    fallback=move || view! {
                        <button type="button" class="link-button danger" data-testid="delete" on:click=move |_| confirming.set(true)>
                            {i18n.tr(Msg::DeleteMessage)}
                        </button>
                    }
                >
                    <button type="button" class="btn danger small" data-testid="confirm-delete" on:click=move |_| change(MessageKind::Delete)>
                        {i18n.tr(Msg::ConfirmDelete)}
                    </button>
                </Show>
            </Show>
            <Show when=move || chat.pins()>
                {if pinned {
                    view! {
                        <button type="button" class="link-button" data-testid="unpin" on:click=move |_| change(MessageKind::Unpin)>
                            {i18n.tr(Msg::UnpinMessage)}
                        </button>
                    }
                    .into_any()
                } else {
                    view! {
                        <button type="button" class="link-button" data-testid="pin" on:click=move |_| change(MessageKind::Pin)>
                            {i18n.tr(Msg::PinMessage)}
                        </button>
                    }
                    .into_any()
                }}
            </Show>
        </div>
        <Show when=move || picker.get()>
            {Suspend::new(emoji_picker(Callback::new(react), Callback::new(move |()| picker.set(false))))}
        </Show>
    }
}
