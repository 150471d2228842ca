//! Presence in the UI: the status dot beside people, the pickers for one's
//! own status (everywhere, and in one conversation), and who is typing.

use leptos::prelude::*;
use wire::{
    api::SetStatus,
    model::{ConversationId, Presence, Status, UserId},
};

use crate::{
    chat::use_live,
    i18n::{use_i18n, Msg},
};

fn presence_name(p: Presence) -> &'static str {
    match p {
        Presence::Online => "online",
        Presence::Away => "away",
        Presence::Busy => "busy",
        Presence::Offline => "offline",
    }
}

pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Online => "online",
        Status::Away => "away",
        Status::Busy => "busy",
        Status::Invisible => "invisible",
    }
}

fn status_named(name: &str) -> Option<Status> {
    Status::ALL.into_iter().find(|s| status_name(*s) == name)
}

/// An `<option>` per status, `selected` where `chosen` says so.
fn status_options(chosen: impl Fn(Status) -> bool + Copy + Send + Sync + 'static) -> impl IntoView {
    let i18n = use_i18n();
    Status::ALL
        .into_iter()
        .map(|s| {
            view! {
                <option value=status_name(s) selected=move || chosen(s)>
                    {move || i18n.t(Msg::for_status(s))}
                </option>
            }
        })
        .collect_view()
}

/// A dot in the colour of how `user` shows in `conversation`, updated live.
#[component]
pub fn PresenceDot(conversation: ConversationId, user: UserId) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let presence = Memo::new(move |_| live.presence_in(&conversation, &user));
    let label = move || i18n.t(Msg::for_presence(presence.get()));
    view! {
        <span
            class="presence"
            data-testid="presence"
            data-presence=move || presence_name(presence.get())
            title=label
            role="img"
            aria-label=label
        ></span>
    }
}

/// The user's own status everywhere: the four states with their colours, one checked.
#[component]
pub fn StatusPicker() -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let current = move || live.status().map(|s| s.status).unwrap_or_default();
    view! {
        <div
            class="status-menu"
            role="radiogroup"
            aria-label=i18n.tr(Msg::MyStatus)
            data-testid="my-status"
            data-status=move || status_name(current())
        >
            {Status::ALL
                .into_iter()
                .map(|s| {
                    view! {
                        <button
                            type="button"
                            role="radio"
                            class="menu-item"
                            data-testid=format!("status-{}", status_name(s))
                            aria-checked=move || (current() == s).to_string()
                            on:click=move |_| live.set_status(SetStatus { status: Some(s), conversation_id: None })
                        >
                            <span class="presence" data-presence=status_name(s) aria-hidden="true"></span>
                            {move || i18n.t(Msg::for_status(s))}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// The user's status in one conversation, or "as everywhere".
#[component]
pub fn ConversationStatusPicker(conversation: ConversationId) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let id = StoredValue::new(conversation);
    let current = move || {
        live.status().and_then(|s| {
            id.with_value(|id| s.conversations.iter().find(|c| &c.conversation_id == id).map(|c| c.status))
        })
    };
    view! {
        <label class="field status-here">
            <span>{i18n.tr(Msg::StatusHere)}</span>
            <select
                data-testid="status-here"
                on:change=move |ev| {
                    let status = status_named(&event_target_value(&ev));
                    live.set_status(SetStatus { status, conversation_id: Some(id.get_value()) });
                }
            >
                <option value="" selected=move || current().is_none()>
                    {i18n.tr(Msg::StatusAsEverywhere)}
                </option>
                {status_options(move |s| current() == Some(s))}
            </select>
        </label>
    }
}

/// "Ann is typing…" under a conversation's messages, while anyone types.
#[component]
pub fn TypingLine(conversation: ConversationId) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let who = Memo::new(move |_| live.typing_in(&conversation));
    let names = move || {
        let who = who.get();
        live.want_profiles(who.iter().cloned());
        let names: Vec<String> =
            who.iter().map(|id| live.profile(id).map(|p| p.nickname).unwrap_or_else(|| "…".into())).collect();
        match names.len() {
            0 => String::new(),
            1 => format!("{}{}", names[0], i18n.t(Msg::IsTyping)),
            _ => format!("{}{}", names.join(", "), i18n.t(Msg::AreTyping)),
        }
    };
    view! {
        <p class="typing" data-testid="typing" aria-live="polite">
            {names}
        </p>
    }
}
