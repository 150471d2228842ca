//! The groups the user was invited to, above the chat list, each with a
//! Join button. Most people have none most of the time, so the list itself
//! is its own wasm chunk, fetched when there is something to show.

use leptos::prelude::*;
use wire::{
    endpoint,
    model::{Conversation, ConversationId},
};

use super::{
    avatar::Avatar,
    chats::use_open_chat,
    form::{ActionButton, FormFeedback, FormState},
    groups::join,
};
use crate::{
    chat::use_live,
    client,
    i18n::{use_i18n, Msg},
};

#[component]
pub fn Invitations() -> impl IntoView {
    let loading = FormState::new(&[]);
    let invitations = RwSignal::new(Vec::<Conversation>::new());
    let live = use_live();
    // Loaded on show, and again whenever an invitation arrives.
    Effect::new(move || {
        live.invitations_revision();
        loading.run([], client::get(endpoint::INVITATIONS), move |list| invitations.set(list));
    });
    view! {
        <FormFeedback state=loading/>
        <Show when=move || invitations.with(|list| !list.is_empty())>
            {Suspend::new(invitation_list(invitations))}
        </Show>
    }
}

#[lazy]
fn invitation_list(invitations: RwSignal<Vec<Conversation>>) -> AnyView {
    view! { <InvitationList invitations/> }.into_any()
}

#[component]
fn InvitationList(invitations: RwSignal<Vec<Conversation>>) -> impl IntoView {
    let i18n = use_i18n();
    let state = FormState::new(&[]);
    let open_chat = use_open_chat();
    let accept = move |id: ConversationId| {
        let open_chat = open_chat.clone();
        state.run([], join(id.clone()), move |summary| {
            invitations.update(|list| list.retain(|c| c.id != id));
            open_chat(summary);
        });
    };
    let rows = move || {
        invitations
            .get()
            .into_iter()
            .map(|c| {
                let accept = accept.clone();
                view! {
                    <li class="row" data-testid="invitation-row">
                        <Avatar url=None name=c.name.clone()/>
                        <span class="row-title">{c.name}</span>
                        <ActionButton state label=Msg::Join testid="join" on_click=move || accept(c.id.clone())/>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <FormFeedback state/>
        <section class="invitations">
            <h2>{i18n.tr(Msg::Invitations)}</h2>
            <ul class="rows">{rows}</ul>
        </section>
    }
}
