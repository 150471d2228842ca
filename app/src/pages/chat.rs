//! `/chats/:id`: one conversation: its title bar (picture, name, presence or
//! member count, the call buttons and a menu of the rarer actions), its pinned messages, its
//! messages, the composer, and for groups the group panel. `?at=seq` brings
//! that message into view (a search result, a link to a message).

use leptos::{prelude::*, task::spawn_local};
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};
use wire::{
    api::ConversationDetails,
    endpoint,
    model::{ConversationId, ConversationKind},
    protocol::{ApiError, ErrorCode},
};

use super::{
    avatar::Avatar,
    call::CallButtons,
    chat_notify::ChatNotify,
    chats::{chat_face, face_seed, NoChatOpen},
    composer::Composer,
    form::{FormFeedback, FormState},
    group_panel::group_panel,
    icons::{Icon, Svg},
    menu::Menu,
    messages::MessageList,
    open_chat::OpenChat,
    pinned::PinnedBar,
    presence::{PresenceDot, TypingLine},
    privacy::BlockButton,
    room::{room_stage, RoomBar, RoomStarter},
    search::ChatSearch,
};
use crate::{
    chat::use_live,
    client,
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
    // What the title bar shows, apart from every new message that changes the summary.
    let face = Memo::new(move |_| summary.with(|s| s.as_ref().map(|s| (chat_face(s), face_seed(s), s.peer.clone()))));
    let peer = Memo::new(move |_| face.with(|f| f.as_ref().and_then(|(_, _, peer)| peer.clone())));
    let members = group_size(id.clone(), is_group);
    let panel = RwSignal::new(false);
    let searching = RwSignal::new(false);
    // Whether the newest messages are in view: new ones keep it so, and count as read.
    let at_bottom = RwSignal::new(true);
    let panel_id = id.clone();
    let open_room = RwSignal::new_local(None);
    let rooms = RoomStarter::new(id.clone(), open_room);
    let (calls_in, stage_id, face_of) = (id.clone(), id.clone(), id.clone());
    let subtitle = {
        let id = id.clone();
        move || match peer.get() {
            Some(p) => i18n.t(Msg::for_presence(live.presence_in(&id, &p.id))).to_owned(),
            None => members
                .get()
                .map(|n| format!("{n} {}", i18n.t(if n == 1 { Msg::MemberShown } else { Msg::MembersShown })))
                .unwrap_or_default(),
        }
    };
    view! {
        <section class="thread" aria-labelledby="thread-title">
            <header class="thread-head">
                <A
                    href="/chats"
                    attr:class="back icon-button"
                    attr:aria-label=i18n.tr(Msg::BackToChats)
                    attr:title=i18n.tr(Msg::BackToChats)
                >
                    <Svg icon=Icon::Back/>
                </A>
                {move || {
                    face.get().map(|((title, avatar), seed, peer)| {
                        let dot = peer.map(|p| view! { <PresenceDot conversation=face_of.clone() user=p.id/> });
                        view! {
                            <span class="avatar-with-dot">
                                <Avatar url=avatar name=title.clone() seed/>
                                {dot}
                            </span>
                            <div class="thread-title">
                                <h1 id="thread-title" dir="auto">{title}</h1>
                                <p class="thread-sub" data-testid="thread-sub">{subtitle.clone()}</p>
                            </div>
                        }
                    })
                }}
                <div class="thread-actions">
                    {move || peer.get().map(|peer| view! { <CallButtons conversation=calls_in.clone() peer/> })}
                    <Show when=is_group>
                        {rooms.call_button(false)}
                        {rooms.call_button(true)}
                    </Show>
                    <ChatNotify conversation=id.clone()/>
                    <Menu label=Msg::MoreActions testid="chat-menu">
                        <Show when=is_group>
                            {rooms.live_item(false)}
                            {rooms.live_item(true)}
                            <button
                                type="button"
                                class="menu-item"
                                data-testid="group-info"
                                aria-expanded=move || panel.get().to_string()
                                on:click=move |_| panel.set(true)
                            >
                                <Svg icon=Icon::Info/>
                                {i18n.tr(Msg::GroupInfo)}
                            </button>
                        </Show>
                        <button
                            type="button"
                            class="menu-item"
                            data-testid="chat-search"
                            aria-expanded=move || searching.get().to_string()
                            on:click=move |_| searching.update(|o| *o = !*o)
                        >
                            <Svg icon=Icon::Search/>
                            {i18n.tr(Msg::SearchInChat)}
                        </button>
                        {move || peer.get().map(|p| view! { <BlockButton user=p.id/> })}
                    </Menu>
                </div>
            </header>
            <ChatSearch conversation=id.clone() open=searching/>
            <Show when=is_group>
                <RoomBar starter=rooms/>
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

/// A group's number of members, asked once the chat shows to be a group.
fn group_size(id: ConversationId, is_group: impl Fn() -> bool + Send + Sync + 'static) -> RwSignal<Option<usize>> {
    let members = RwSignal::new(None);
    Effect::new(move |asked: Option<bool>| {
        if asked == Some(true) || !is_group() {
            return asked == Some(true);
        }
        let id = id.clone();
        spawn_local(async move {
            if let Ok(d) = client::get::<ConversationDetails>(&endpoint::conversation(&id)).await {
                members.set(Some(d.members.len()));
            }
        });
        true
    });
    members
}

/// A 404 here means no such conversation (or not the user's): say so in their language.
fn about_conversation(e: ApiError) -> ApiError {
    match e.code {
        ErrorCode::NotFound => ApiError { field: Some("conversation".into()), ..e },
        _ => e,
    }
}
