//! A message's reactions: a chip per emoji with its count, the user's own
//! highlighted; tapping one gives it or takes it back. Who reacted shows on
//! hover (the chip's title), and as a list on a long press or right click.

use leptos::prelude::*;
use wire::{
    fold::{Reaction, Shown},
    model::UserId,
};

use super::{message_actions::toggle_reaction, open_chat::use_chat};
use crate::{
    chat::{use_live, Live},
    i18n::{use_i18n, I18n, Msg},
};

#[component]
pub fn ReactionChips(shown: Shown) -> impl IntoView {
    let reactions = shown.reactions.clone();
    let shown = StoredValue::new(shown);
    // The emoji whose list of people shows.
    let listing = RwSignal::new(None::<String>);
    view! {
        <ul class="reactions" data-testid="reactions">
            {reactions
                .into_iter()
                .map(|reaction| view! { <Chip reaction shown listing/> })
                .collect_view()}
        </ul>
    }
}

#[component]
fn Chip(reaction: Reaction, shown: StoredValue<Shown>, listing: RwSignal<Option<String>>) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let chat = use_chat();
    let me = live.inbox(|i| i.me().clone());
    let mine = reaction.users.contains(&me);
    let count = reaction.users.len();
    let Reaction { emoji, users } = reaction;
    let users = StoredValue::new(users);
    let me = StoredValue::new(me);
    let names = move || users.with_value(|u| me.with_value(|me| nicknames(live, i18n, u, me)));
    let who = {
        let emoji = emoji.clone();
        move || format!("{} {} {emoji}", names().join(", "), i18n.t(Msg::ReactedWith))
    };
    let (toggle_emoji, list_emoji, shown_emoji, face) = (emoji.clone(), emoji.clone(), emoji.clone(), emoji.clone());
    view! {
        <li>
            <button
                type="button"
                class="reaction"
                class:mine=mine
                data-testid="reaction"
                data-emoji=emoji
                aria-pressed=mine.to_string()
                title=who.clone()
                aria-label=who
                on:click=move |_| shown.with_value(|s| toggle_reaction(live, chat, s, toggle_emoji.clone()))
                on:contextmenu=move |ev| {
                    ev.prevent_default();
                    let e = list_emoji.clone();
                    listing.update(|l| *l = if l.as_deref() == Some(e.as_str()) { None } else { Some(e) });
                }
            >
                <span class="reaction-emoji">{face}</span>
                <span class="reaction-count">{count}</span>
            </button>
            <Show when=move || listing.with(|l| l.as_deref() == Some(shown_emoji.as_str()))>
                <p class="reactors" data-testid="reactors" role="status">{names().join(", ")}</p>
            </Show>
        </li>
    }
}

/// People by nickname as far as known, the user first as "you".
fn nicknames(live: Live, i18n: I18n, users: &[UserId], me: &UserId) -> Vec<String> {
    let mut names: Vec<String> = users
        .iter()
        .filter(|u| *u != me)
        .map(|u| live.profile(u).map(|p| p.nickname).unwrap_or_default())
        .collect();
    if users.contains(me) {
        names.insert(0, i18n.t(Msg::You).to_owned());
    }
    names
}
