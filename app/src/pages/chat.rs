//! `/chats/:id`: one conversation: its header, its pinned messages, its
//! messages, the composer, and for groups the group panel. `?at=seq` brings
//! that message into view (a search result, a link to a message).

use leptos::{prelude::*, task::spawn_local};
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};
use wire::{
    model::{ConversationId, ConversationKind},
    protocol::{ApiError, ErrorCode},
};

use super::{
    avatar::Avatar,
    call::CallButtons,
    chat_notify::ChatNotify,
    chats::{chat_face, NoChatOpen},
    composer::Composer,
    form::{FormFeedback, FormState},
    group_panel::group_panel,
    messages::MessageList,
    open_chat::OpenChat,
    pinned::PinnedBar,
    presence::{PresenceDot, TypingLine},
    privacy::BlockButton,
    room::{room_stage, RoomBar},
    search::ChatSearch,
};
use crate::{
    chat::use_live,
    i18n::{use_i18n, Msg},
};

/// The open conversation, or with none open the space where it would be.
#[component]
pub fn ChatView() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id")).map(ConversationId));
    // Another id is another conversation: everything below starts afresh.
    move || match id.get() {
        Some(id) => view! { <Thread id/> }.into_any(),
        None => view! { <NoChatOpen/> }.into_any(),
    }
}

#[component]
fn Thread(id: ConversationId) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let loading = FormState::new(&[]);
    let chat = OpenChat::provide(id.clone());
    let query = use_query_map();
    Effect::new(move || {
        if let Some(seq) = query.with(|q| q.get("at")).and_then(|at| at.parse().ok()) {
            chat.jump.set(Some(seq));
        }
    });
    spawn_local(live.load_receipts(id.clone()));
    spawn_local(live.load_pins(id.clone()));
    let request = {
        let id = id.clone();
        async move { live.load_latest(id).await.map_err(about_conversation) }
    };
    loading.run([], request, |()| ());
    let summary = Memo::new({
        let id = id.clone();
        move |_| live.inbox(|i| i.summary(&id).cloned())
    });
    let is_group = move || summary.with(|s| s.as_ref().is_some_and(|s| s.conversation.kind == ConversationKind::Group));
    let panel = RwSignal::new(false);
    // Whether the newest messages are in view: new ones keep it so, and count as read.
    let at_bottom = RwSignal::new(true);
    let panel_id = id.clone();
    let open_room = RwSignal::new_local(None);
    let (bar_id, stage_id) = (id.clone(), id.clone());
    view! {
        <section class="thread" aria-labelledby="thread-title">
            <header class="thread-head">
                <A href="/chats" attr:class="back" attr:aria-label=i18n.tr(Msg::BackToChats)>
                    "‹"
                </A>
                {move || {
                    summary
                        .get()
                        .map(|s| {
                            let (title, avatar) = chat_face(&s);
                            let dot = s
                                .peer
                                .as_ref()
                                .map(|p| view! { <PresenceDot conversation=s.conversation.id.clone() user=p.id.clone()/> });
                            let calls = s.peer.clone().map(|peer| {
                                let user = peer.id.clone();
                                view! {
                                    <CallButtons conversation=s.conversation.id.clone() peer/>
                                    <BlockButton user/>
                                }
                            });
                            view! {
                                <span class="avatar-with-dot">
                                    <Avatar url=avatar name=title.clone()/>
                                    {dot}
                                </span>
                                <h1 id="thread-title">{title}</h1>
                                {calls}
                            }
                        })
                }}
                <ChatSearch conversation=id.clone()/>
                <ChatNotify conversation=id.clone()/>
                <Show when=is_group>
                    <button
                        type="button"
                        class="btn secondary small"
                        data-testid="group-info"
                        aria-expanded=move || panel.get().to_string()
                        on:click=move |_| panel.set(true)
                    >
                        {i18n.tr(Msg::GroupInfo)}
                    </button>
                </Show>
            </header>
            <Show when=is_group>
                <RoomBar conversation=bar_id.clone() open=open_room/>
            </Show>
            <Show when=move || open_room.with(Option::is_some)>
                {Suspend::new(room_stage(stage_id.clone(), open_room))}
            </Show>
            <PinnedBar/>
            <FormFeedback state=loading/>
            {move || live.refused().map(|code| view! {
                <p class="error change-error" role="alert" data-testid="change-error">
                    {i18n.t(Msg::for_change_error(code))} " "
                    <button type="button" class="link-button" on:click=move |_| live.dismiss_refusal()>{i18n.tr(Msg::Close)}</button>
                </p>
            })}
            <MessageList id=id.clone() at_bottom/>
            <TypingLine conversation=id.clone()/>
            <Composer id at_bottom/>
            <Show when=move || panel.get()>
                {Suspend::new(group_panel(panel_id.clone(), Callback::new(move |()| panel.set(false))))}
            </Show>
        </section>
    }
}

/// A 404 here means no such conversation (or not the user's): say so in their language.
fn about_conversation(e: ApiError) -> ApiError {
    match e.code {
        ErrorCode::NotFound => ApiError { field: Some("conversation".into()), ..e },
        _ => e,
    }
}
