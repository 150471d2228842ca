//! `/groups`: the directory of public groups, to join the open ones, and
//! its search (by any part of a name or description, as one types).

use leptos::prelude::*;
use leptos_router::components::A;
use wire::{
    api::{ConversationSummary, DirectoryEntry, DirectoryParams},
    endpoint,
    model::{ConversationId, JoinPolicy},
    protocol::ApiError,
};

use super::{
    as_you_type::AsYouType,
    avatar::Avatar,
    chats::use_open_chat,
    form::{ActionButton, FormFeedback, FormState},
};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
};

/// Groups per page of the directory.
const PAGE: u32 = 50;

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
    let query = RwSignal::new(String::new());
    let asked = AsYouType::new();
    // The next page of what is shown, or (`fresh`) the first of what is typed now.
    let load = move |fresh: bool| {
        let skip = if fresh { 0 } else { entries.with_untracked(|e| e.as_ref().map_or(0, Vec::len)) as u32 };
        let q = query.with_untracked(|q| Some(q.trim().to_owned()).filter(|q| !q.is_empty()));
        let params = DirectoryParams { q, skip, limit: Some(PAGE) };
        let pairs = params.pairs().into_iter().map(|(k, v)| format!("{k}={}", client::escape(&v)));
        let path = format!("{}?{}", endpoint::PUBLIC_CONVERSATIONS, pairs.collect::<Vec<_>>().join("&"));
        let number = asked.latest();
        leptos::task::spawn_local(async move {
            let answer: Result<Vec<DirectoryEntry>, ApiError> = client::get(&path).await;
            if !asked.is_latest(number) {
                return;
            }
            state.show_error(answer.as_ref().err().cloned());
            if let Ok(page) = answer {
                more.set(page.len() == PAGE as usize);
                entries.update(|e| {
                    let e = e.get_or_insert_with(Vec::new);
                    if fresh {
                        e.clear();
                    }
                    e.extend(page);
                });
            }
        });
    };
    load(true);
    let on_input = move |ev| {
        query.set(event_target_value(&ev));
        asked.after_pause(move || load(true));
    };
    let searching = move || query.with(|q| !q.trim().is_empty());
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
            <div class="search" role="search">
                <input
                    type="search"
                    class="search-input"
                    data-testid="group-search"
                    enterkeyhint="search"
                    aria-label=move || i18n.t(Msg::FindGroups)
                    placeholder=move || i18n.t(Msg::FindGroups)
                    prop:value=move || query.get()
                    on:input=on_input
                />
            </div>
            <FormFeedback state/>
            {move || match entries.get() {
                None => view! { <p class="muted">{i18n.tr(Msg::Loading)}</p> }.into_any(),
                Some(list) if list.is_empty() => {
                    let empty = if searching() { Msg::NoGroupFound } else { Msg::NoPublicGroups };
                    view! { <p class="muted">{i18n.tr(empty)}</p> }.into_any()
                }
                Some(list) => view! { <ul class="rows">{list.into_iter().map(row.clone()).collect_view()}</ul> }.into_any(),
            }}
            <Show when=move || more.get()>
                <ActionButton
                    state
                    label=Msg::LoadMore
                    testid="more-groups"
                    secondary=true
                    on_click=move || load(false)
                />
            </Show>
        </section>
    }
}
