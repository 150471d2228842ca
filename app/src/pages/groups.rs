//! `/groups`: the directory of public groups, to join the open ones.

use leptos::prelude::*;
use leptos_router::components::A;
use wire::{
    api::{ConversationSummary, DirectoryEntry},
    endpoint,
    model::{ConversationId, JoinPolicy},
    protocol::ApiError,
};

use super::{
    avatar::Avatar,
    chats::use_open_chat,
    form::{ActionButton, FormFeedback, FormState},
};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
};

/// Groups per page of the directory.
const PAGE: usize = 50;

/// `POST /api/conversations/{id}/join`: for open groups, or with an invitation.
pub async fn join(id: ConversationId) -> Result<ConversationSummary, ApiError> {
    client::call(Method::Post, &endpoint::conversation_join(&id)).await
}

#[component]
pub fn Groups() -> impl IntoView {
    let i18n = use_i18n();
    let state = FormState::new(&[]);
    let entries = RwSignal::new(None::<Vec<DirectoryEntry>>);
    let more = RwSignal::new(false);
    let load = move || {
        let skip = entries.with_untracked(|e| e.as_ref().map_or(0, Vec::len));
        let path = format!("{}?skip={skip}&limit={PAGE}", endpoint::PUBLIC_CONVERSATIONS);
        state.run([], async move { client::get::<Vec<DirectoryEntry>>(&path).await }, move |page| {
            more.set(page.len() == PAGE);
            entries.update(|e| e.get_or_insert_with(Vec::new).extend(page));
        });
    };
    load();
    let open_chat = use_open_chat();
    let row = move |entry: DirectoryEntry| {
        let c = entry.conversation;
        let action = if entry.joined {
            view! { <A href=format!("/chats/{}", c.id) attr:class="btn secondary small">{i18n.tr(Msg::OpenChat)}</A> }
                .into_any()
        } else if c.join_policy == JoinPolicy::Open {
            let open_chat = open_chat.clone();
            let id = c.id.clone();
            let on_click = move || state.run([], join(id.clone()), open_chat.clone());
            view! { <ActionButton state label=Msg::Join testid="join" on_click/> }.into_any()
        } else {
            view! { <span class="badge">{i18n.tr(Msg::InviteOnly)}</span> }.into_any()
        };
        let members = entry.members;
        view! {
            <li class="row" data-testid="directory-row">
                <Avatar url=None name=c.name.clone()/>
                <div class="row-main">
                    <p class="row-title">{c.name}</p>
                    <p class="muted">{c.description}</p>
                    <p class="muted">{move || format!("{}: {members}", i18n.t(Msg::MemberCount))}</p>
                </div>
                <span class="row-actions">{action}</span>
            </li>
        }
    };
    view! {
        <section class="card wide">
            <h1>{i18n.tr(Msg::GroupsTitle)}</h1>
            <p class="muted">{i18n.tr(Msg::GroupsIntro)}</p>
            <FormFeedback state/>
            {move || match entries.get() {
                None => view! { <p class="muted">{i18n.tr(Msg::Loading)}</p> }.into_any(),
                Some(list) if list.is_empty() => {
                    view! { <p class="muted">{i18n.tr(Msg::NoPublicGroups)}</p> }.into_any()
                }
                Some(list) => view! { <ul class="rows">{list.into_iter().map(row.clone()).collect_view()}</ul> }.into_any(),
            }}
            <Show when=move || more.get()>
                <ActionButton state label=Msg::LoadMore testid="more-groups" secondary=true on_click=load/>
            </Show>
        </section>
    }
}
