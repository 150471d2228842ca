//! `/chats` and `/chats/:id`: the conversation list, and beside it on wide
//! screens the open conversation (on a phone, one or the other).

use leptos::prelude::*;
use leptos_router::{
    components::A,
    hooks::{use_location, use_navigate},
};
use wire::{
    api::ConversationSummary,
    model::{Conversation, ConversationId, ConversationKind, UserId},
};

use super::notify_banner::NotifyBanner;
use super::{
    avatar::Avatar,
    chat::ChatView,
    icons::{Icon, Svg},
    invitations::Invitations,
    new_chat::new_chat,
    new_group::new_group,
    presence::PresenceDot,
    room::RoomBadges,
    search::SearchBox,
};
use crate::{
    chat::use_live,
    i18n::{use_i18n, I18n, Msg},
};

/// The chat list, and beside it the open chat (`/chats/:id`) or the space for one (`/chats`).
#[component]
pub fn Chats() -> impl IntoView {
    let location = use_location();
    let chat_open = move || location.pathname.with(|p| p.strip_prefix("/chats/").is_some_and(|id| !id.is_empty()));
    view! {
        <div class="chats" class:chat-open=chat_open>
            <ChatList/>
            <ChatView/>
        </div>
    }
}

/// `/chats` itself: on wide screens, the space where a conversation would be.
#[component]
pub(super) fn NoChatOpen() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="thread thread-empty">
            <div class="empty-state">
                <Svg icon=Icon::Chats/>
                <p class="muted">{i18n.tr(Msg::PickChat)}</p>
            </div>
        </section>
    }
}

/// The name and picture a conversation goes by: for a private chat the
/// other person's, for a group its name (and its initial).
pub fn chat_face(summary: &ConversationSummary) -> (String, Option<String>) {
    match &summary.peer {
        Some(peer) if summary.conversation.kind == ConversationKind::Private => {
            (peer.nickname.clone(), peer.avatar.clone())
        }
        _ => (summary.conversation.name.clone(), None),
    }
}

/// What picks a conversation's letter colour: the other person's id, or the group's.
pub fn face_seed(summary: &ConversationSummary) -> String {
    match &summary.peer {
        Some(peer) if summary.conversation.kind == ConversationKind::Private => peer.id.to_string(),
        _ => summary.conversation.id.to_string(),
    }
}

/// What follows starting or joining a conversation: it joins the list and opens.
pub fn use_open_chat() -> impl Fn(ConversationSummary) + Clone + 'static {
    let live = use_live();
    let navigate = use_navigate();
    move |summary| {
        let path = format!("/chats/{}", summary.conversation.id);
        live.add_chat(summary);
        navigate(&path, Default::default());
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialog {
    None,
    NewChat,
    NewGroup,
}

#[component]
fn ChatList() -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    // The live stream keeps the list current; a fresh copy heals what it could not tell.
    Effect::new(move || live.refresh_chats());
    let kind = RwSignal::new(None::<ConversationKind>);
    // Only the conversations where someone mentioned the user since they last read.
    let mentioned = RwSignal::new(false);
    let ids = Memo::new(move |_| {
        let only_mentioned = mentioned.get();
        live.inbox(|i| {
            let list = i.chats(kind.get())?;
            let list = list.into_iter().filter(|s| !only_mentioned || s.mention_seq > s.read_seq);
            Some(list.map(|s| s.conversation.id).collect::<Vec<_>>())
        })
    });
    let dialog = RwSignal::new(Dialog::None);
    let close = move || dialog.set(Dialog::None);
    let tab = move |filter: Option<ConversationKind>, label: Msg| {
        view! {
            <button
                type="button"
                class="tab"
                aria-pressed=move || (kind.get() == filter && !mentioned.get()).to_string()
                on:click=move |_| {
                    kind.set(filter);
                    mentioned.set(false);
                }
            >
                {i18n.tr(label)}
            </button>
        }
    };
    view! {
        <aside class="chat-list" aria-labelledby="chats-title">
            <div class="list-head">
                <h1 id="chats-title">{i18n.tr(Msg::ChatsTitle)}</h1>
                <div class="list-actions">
                    <button type="button" class="btn secondary small" data-testid="new-chat" on:click=move |_| dialog.set(Dialog::NewChat)>
                        {i18n.tr(Msg::NewChat)}
                    </button>
                    <button type="button" class="btn small" data-testid="new-group" on:click=move |_| dialog.set(Dialog::NewGroup)>
                        {i18n.tr(Msg::NewGroup)}
                    </button>
                </div>
            </div>
            <SearchBox/>
            <div class="tabs" role="group">
                {tab(None, Msg::FilterAll)}
                {tab(Some(ConversationKind::Private), Msg::FilterPrivate)}
                {tab(Some(ConversationKind::Group), Msg::FilterGroups)}
                <button
                    type="button"
                    class="tab"
                    data-testid="filter-mentions"
                    aria-pressed=move || mentioned.get().to_string()
                    on:click=move |_| {
                        kind.set(None);
                        mentioned.set(true);
                    }
                >
                    {i18n.tr(Msg::FilterMentions)}
                </button>
            </div>
            <Invitations/>
            <NotifyBanner/>
            {move || live.list_error().map(|e| view! { <p class="error" role="alert">{i18n.error(&e)}</p> })}
            {move || match ids.with(|ids| ids.as_ref().map(Vec::is_empty)) {
                None => view! { <p class="muted">{i18n.tr(Msg::Loading)}</p> }.into_any(),
                Some(true) if kind.get().is_none() && !mentioned.get() => view! { <p class="muted">{i18n.tr(Msg::NoChatsYet)}</p> }.into_any(),
                Some(true) => view! { <p class="muted">{i18n.tr(Msg::NoChatsOfKind)}</p> }.into_any(),
                Some(false) => ().into_any(),
            }}
            <ul class="chat-rows">
                <For each=move || ids.get().unwrap_or_default() key=ConversationId::clone let:id>
                    <ChatRow id/>
                </For>
            </ul>
            <p class="more-links">
                <A href="/groups">{i18n.tr(Msg::BrowseGroups)}</A>
            </p>
            {move || match dialog.get() {
                Dialog::None => ().into_any(),
                Dialog::NewChat => Suspend::new(new_chat(Callback::new(move |()| close()))).into_any(),
                Dialog::NewGroup => Suspend::new(new_group(Callback::new(move |()| close()))).into_any(),
            }}
        </aside>
    }
}

/// One conversation in the list; redrawn when its summary changes.
#[component]
fn ChatRow(id: ConversationId) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let summary = Memo::new({
        let id = id.clone();
        move |_| live.inbox(|i| i.summary(&id).map(|s| (s.clone(), i.me().clone())))
    });
    let href = format!("/chats/{id}");
    move || {
        summary.get().map(|(s, me)| {
            let (title, avatar) = chat_face(&s);
            let seed = face_seed(&s);
            let unread = s.unread;
            let mentioned = s.mention_seq > s.read_seq;
            let activity = s.conversation.last_activity_ms;
            let dot = s.peer.as_ref().map(|p| view! { <PresenceDot conversation=id.clone() user=p.id.clone()/> });
            let rooms_of = id.clone();
            view! {
                <li>
                    <A
                        href=href.clone()
                        attr:class="chat-row"
                        attr:data-testid="chat-row"
                        attr:data-conversation-id=id.to_string()
                    >
                        <span class="avatar-with-dot">
                            <Avatar url=avatar name=title.clone() seed/>
                            {dot}
                        </span>
                        <span class="chat-row-main">
                            <span class="chat-row-line">
                                <span class="chat-row-title">{title}</span>
                                <time class="chat-row-time">{move || i18n.when(activity)}</time>
                            </span>
                            <span class="chat-row-line">
                                <RoomBadges conversation=rooms_of/>
                                <span class="chat-row-preview">{move || preview(&s.conversation, &me, i18n)}</span>
                                <span
                                    class="mention-badge"
                                    data-testid="mention-badge"
                                    hidden=!mentioned
                                    title=i18n.tr(Msg::Mentioned)
                                >
                                    "@"
                                    <span class="visually-hidden">{i18n.tr(Msg::Mentioned)}</span>
                                </span>
                                <span class="unread" data-testid="unread" hidden=unread == 0>
                                    {unread}
                                    <span class="visually-hidden">" " {i18n.tr(Msg::UnreadMessages)}</span>
                                </span>
                            </span>
                        </span>
                    </A>
                </li>
            }
        })
    }
}

/// The newest message of a conversation in a line: its text, or what kind it is.
fn preview(conversation: &Conversation, me: &UserId, i18n: I18n) -> String {
    let Some(last) = &conversation.last_message else { return String::new() };
    let text = match Msg::for_kind(last.kind) {
        Some(kind) => i18n.t(kind).to_owned(),
        // Text is never empty, but once deleted.
        None if last.text.is_empty() => i18n.t(Msg::MessageDeleted).to_owned(),
        None => last.text.clone(),
    };
    if &last.sender_id == me {
        format!("{}: {text}", i18n.t(Msg::You))
    } else {
        text
    }
}
