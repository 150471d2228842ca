//! The groups the user was invited to, and the private chats strangers ask
//! to start, above the chat list: each with Join (or Accept) and Decline, a
//! stranger's with Block too. Most people have none most of the time, so
//! the list itself is its own wasm chunk, fetched when there is something
//! to show.

use leptos::prelude::*;
use wire::{
    api::PublicProfile,
    endpoint,
    model::{Conversation, ConversationId, ConversationKind, UserId},
};

use super::{
    avatar::Avatar,
    chats::use_open_chat,
    form::{ActionButton, FormFeedback, FormState},
    groups::join,
};
use crate::{
    chat::use_live,
    client::{self, Method},
    i18n::{use_i18n, Msg},
    session::use_session,
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
    // Declining (and blocking, for a stranger's chat) takes the row away.
    let decline = move |id: ConversationId, block: Option<UserId>| {
        let request = async move {
            client::call::<()>(Method::Delete, &endpoint::invitation(&id)).await?;
            if let Some(user) = block {
                client::call::<()>(Method::Put, &endpoint::block(&user)).await?;
            }
            Ok(id)
        };
        state.run([], request, move |id| invitations.update(|list| list.retain(|c| c.id != id)));
    };
    let me = use_session();
    let rows = move || {
        invitations
            .get()
            .into_iter()
            .map(|c| {
                let (accept, decline) = (accept.clone(), decline.clone());
                let (id, block_id) = (c.id.clone(), c.id.clone());
                // A private chat is a stranger asking: show who.
                let asker = (c.kind == ConversationKind::Private)
                    .then(|| me.me().and_then(|me| Conversation::private_peer(&c.id, &me.id)))
                    .flatten();
                let title = match asker.clone() {
                    Some(user) => view! { <Asker user/> }.into_any(),
                    None => view! { <bdi class="row-title">{c.name.clone()}</bdi> }.into_any(),
                };
                let block = asker.map(|user| {
                    let decline = decline.clone();
                    let id = block_id.clone();
                    view! {
                        <ActionButton state label=Msg::Block testid="block-asker" secondary=true
                            on_click=move || decline(id.clone(), Some(user.clone()))/>
                    }
                });
                let label = if c.kind == ConversationKind::Private { Msg::Accept } else { Msg::Join };
                view! {
                    <li class="row" data-testid="invitation-row">
                        <Avatar url=None name=c.name.clone() seed=c.id.to_string()/>
                        {title}
                        <ActionButton state label testid="join" on_click=move || accept(c.id.clone())/>
                        <ActionButton state label=Msg::Decline testid="decline" secondary=true
                            on_click=move || decline(id.clone(), None)/>
                        {block}
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

/// "Ada wants to chat with you": the asker's name, looked up.
#[component]
fn Asker(user: UserId) -> impl IntoView {
    let i18n = use_i18n();
    let state = FormState::new(&[]);
    let name = RwSignal::new(String::new());
    let request = async move { client::get::<PublicProfile>(&endpoint::user(&user)).await };
    state.run([], request, move |p| name.set(p.nickname));
    view! {
        <span class="row-title" data-testid="asker">
            <bdi>{name}</bdi>
            " "
            {i18n.tr(Msg::WantsToChat)}
        </span>
    }
}
