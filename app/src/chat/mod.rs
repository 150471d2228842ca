//! Real-time chat in the browser.
//!
//! | module | holds |
//! |---|---|
//! | `inbox` | what the browser knows of the user's conversations: plain data, unit-tested |
//! | `link` | the websocket: reconnecting with backoff, keep-alive |
//! | `receipts` | how far the other members have received and read; telling what this device received |
//! | `alerts` | which conversation the page shows; chimes and desktop notifications; the notification settings |
//! | here | [`Live`], the context that ties both to the session, the API and the pages |
//!
//! `Live` opens the link while a user is signed in. On every (re)connection
//! it first sends `resume` with the newest message it has of each
//! conversation it knows (those in the list, those opened; the server starts
//! the live stream after this first frame), then sends again the messages
//! still waiting for their `ack`, with their first client ids. So after a
//! drop nothing is missed, and nothing is stored or shown twice.
//!
//! Pages read the inbox through [`Live::inbox`] and act through `Live`'s
//! methods, which change the inbox and tell the server.

mod activity;
mod alerts;
mod inbox;
mod link;
mod receipts;

use std::{
    collections::{HashMap, HashSet},
    rc::Rc,
};

use leptos::{ev, prelude::*, task::spawn_local};
use wire::{
    api::{ConversationSummary, MarkRead, Me, PublicProfile, Receipt, SetStatus, StatusSettings},
    endpoint,
    fold::Shown,
    model::{Attachment, Conversation, ConversationId, Message, MessageKind, Millis, Presence, UserId},
    protocol::{ApiError, AttachmentRef, ClientFrame, NoticeKind, Position, ServerFrame, TYPING_SHOWS_MS},
    room::{RoomKind, RoomState},
};

use self::{
    link::{Link, LinkEvent},
    receipts::ReceiptBook,
};
pub use self::{
    inbox::{Inbox, Line, LineKey, NoticeLine, Outgoing},
    link::LinkState,
};
use crate::{
    client::{self, Method},
    session::{use_session, Session},
};

/// How often typing is told to the server while the user keeps typing.
const TYPING_EVERY_MS: Millis = 3000;

/// Messages per history page (the server allows up to 100).
const PAGE: usize = 50;

/// A send refused with a time to wait (the server held it while its readers
/// were behind, or the user's budget was spent) goes again after that time,
/// at most this many times; then it shows as failed, for the user to retry.
const RESENDS: u32 = 5;
/// The longest wait before such a resend, in ms.
const MAX_RESEND_WAIT_MS: u64 = 60_000;

/// The chat state of the signed-in user, provided as context by [`provide_live`].
#[derive(Clone, Copy)]
pub struct Live {
    inbox: RwSignal<Inbox>,
    state: RwSignal<LinkState>,
    /// Why the conversation list could not be loaded, if it could not.
    list_error: RwSignal<Option<ApiError>>,
    profiles: RwSignal<HashMap<UserId, PublicProfile>>,
    /// How people show in each conversation, as last heard: from the
    /// conversation list or a group's details, then from presence frames.
    presence: RwSignal<HashMap<(ConversationId, UserId), Presence>>,
    /// Who is typing where, and until when (ms).
    typing: RwSignal<HashMap<ConversationId, HashMap<UserId, Millis>>>,
    /// When this user last told the server they type, per conversation.
    typed: StoredValue<HashMap<ConversationId, Millis>>,
    /// The user's chosen statuses, once loaded.
    status: RwSignal<Option<StatusSettings>>,
    /// Whether the person is at this device (see `activity`).
    active: StoredValue<bool>,
    /// Whether the page is visible: only then do shown messages count as read.
    visible: RwSignal<bool>,
    /// Bumped when the user is invited somewhere: the invitations list reloads.
    invited: RwSignal<u64>,
    link: StoredValue<Option<Link>, LocalStorage>,
    /// Where call frames go (the call desk, `pages::call`), once it listens.
    call_frames: StoredValue<Option<CallHandler>, LocalStorage>,
    /// Conversations whose position went to the server on this connection.
    resumed: StoredValue<HashSet<ConversationId>>,
    /// Profiles asked for, so that each is fetched once.
    asked: StoredValue<HashSet<UserId>>,
    /// How often each send was sent again after a refusal with a time to wait.
    resends: StoredValue<HashMap<String, u32>>,
    listing: StoredValue<Listing>,
    session: Session,
    /// Group calls and live broadcasts in progress in the user's conversations.
    rooms: RwSignal<HashMap<(ConversationId, RoomKind), RoomState>>,
    /// The open room session, which takes this connection's room frames.
    room_frames: StoredValue<Option<RoomFrames>, LocalStorage>,
    receipts: ReceiptBook,
    /// Whether the page has the keyboard focus (see `alerts`).
    focused: RwSignal<bool>,
    /// The conversation the page shows, and what the server was last told of it.
    viewing: StoredValue<Option<ConversationId>>,
    viewing_told: StoredValue<Option<ConversationId>>,
    /// The user's notification settings, once loaded.
    notify: RwSignal<Option<wire::push::NotifySettings>>,
    /// Whether the user did something after which asking for notifications makes sense (see `alerts`).
    notify_moment: RwSignal<bool>,
    /// The page's language, for notifications made outside any view.
    i18n: crate::i18n::I18n,
}

type CallHandler = std::rc::Rc<dyn Fn(CallFeed)>;

/// What the call desk hears from the link.
pub enum CallFeed {
    /// A call frame, or the error answering one.
    Frame(ServerFrame),
    /// A new connection has resumed: a call in progress takes its side back on it.
    Reconnected,
}

/// What takes a room session's frames from the server.
pub type RoomFrames = Rc<dyn Fn(ServerFrame)>;

/// Whether `GET /api/conversations` is on its way, and whether the answer
/// will already be stale (something asked for a new list meanwhile).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Listing {
    #[default]
    Idle,
    Busy,
    BusyAgain,
}

/// Provides [`Live`]; it connects when a user signs in (effects, so only in the browser).
pub fn provide_live() {
    let session = use_session();
    let live = Live {
        inbox: RwSignal::new(Inbox::new(UserId(String::new()))),
        state: RwSignal::new(LinkState::default()),
        list_error: RwSignal::new(None),
        profiles: RwSignal::new(HashMap::new()),
        presence: RwSignal::new(HashMap::new()),
        typing: RwSignal::new(HashMap::new()),
        typed: StoredValue::new(HashMap::new()),
        status: RwSignal::new(None),
        active: StoredValue::new(true),
        visible: RwSignal::new(true),
        invited: RwSignal::new(0),
        link: StoredValue::new_local(None),
        call_frames: StoredValue::new_local(None),
        resumed: StoredValue::new(HashSet::new()),
        asked: StoredValue::new(HashSet::new()),
        resends: StoredValue::new(HashMap::new()),
        listing: StoredValue::new(Listing::Idle),
        session,
        rooms: RwSignal::new(HashMap::new()),
        room_frames: StoredValue::new_local(None),
        receipts: ReceiptBook::new(),
        focused: RwSignal::new(true),
        viewing: StoredValue::new(None),
        viewing_told: StoredValue::new(None),
        notify: RwSignal::new(None),
        notify_moment: RwSignal::new(false),
        i18n: crate::i18n::use_i18n(),
    };
    provide_context(live);
    let user = Memo::new(move |_| session.me().map(|me| me.id));
    Effect::new(move || match user.get() {
        Some(id) => live.start(id),
        None => live.link.set_value(None),
    });
    Effect::new(move || {
        if let Some(me) = session.me() {
            live.remember([PublicProfile {
                id: me.id,
                nickname: me.nickname,
                gender: me.gender,
                avatar: me.avatar,
                pinyin: String::new(),
            }]);
        }
    });
    Effect::new(move || {
        live.visible.set(client::page_visible());
        // The app lives as long as the page: the listener is never removed.
        window_event_listener(ev::visibilitychange, move |_| {
            live.visible.set(client::page_visible());
            live.report_view();
        });
        live.focused.set(crate::notify::focused());
        let refocus = move || {
            live.focused.set(crate::notify::focused());
            live.report_view();
        };
        window_event_listener(ev::focus, move |_| refocus());
        window_event_listener(ev::blur, move |_| refocus());
        activity::watch(move |active| {
            live.active.set_value(active);
            live.send_frame(&ClientFrame::Activity { active });
        });
    });
}

pub fn use_live() -> Live {
    expect_context::<Live>()
}

impl Live {
    fn start(self, me: UserId) {
        self.link.set_value(None);
        self.inbox.set(Inbox::new(me));
        self.link.set_value(Some(Link::open(move |event| self.on_link(event))));
        self.refresh_chats();
        self.load_notify_settings();
        spawn_local(async move {
            if let Ok(settings) = self.session.observe(client::get::<StatusSettings>(endpoint::ME_STATUS).await) {
                self.status.set(Some(settings));
            }
        });
    }

    /// Reads the inbox; reactive.
    pub fn inbox<U>(self, f: impl FnOnce(&Inbox) -> U) -> U {
        self.inbox.with(f)
    }

    /// The connection's state; reactive.
    pub fn state(self) -> LinkState {
        self.state.get()
    }

    pub fn list_error(self) -> Option<ApiError> {
        self.list_error.get()
    }

    /// Changes whenever the user is invited to a group; reactive.
    pub fn invitations_revision(self) -> u64 {
        self.invited.get()
    }

    /// Whether the page is visible; reactive.
    pub fn visible(self) -> bool {
        self.visible.get()
    }

    fn on_link(self, event: LinkEvent) {
        match event {
            LinkEvent::State(state) => {
                self.state.set(state);
                if state == LinkState::Online {
                    // The server tells the rooms in progress after its hello.
                    self.rooms.update(HashMap::clear);
                    // Always sent, even empty: the live stream starts after it.
                    let positions = self.inbox.with_untracked(Inbox::positions);
                    self.resumed.set_value(positions.iter().map(|p| p.conversation_id.clone()).collect());
                    self.send_frame(&ClientFrame::Resume { positions });
                    if !self.active.get_value() {
                        self.send_frame(&ClientFrame::Activity { active: false });
                    }
                    // A new connection shows nothing until told.
                    self.viewing_told.set_value(None);
                    self.report_view();
                    for (conversation, outgoing) in self.inbox.with_untracked(Inbox::unsent) {
                        self.transmit(conversation, &outgoing);
                    }
                    self.call_feed(CallFeed::Reconnected);
                }
            }
            LinkEvent::Frame(frame) => self.on_frame(frame),
            LinkEvent::Refused => self.session.refresh(),
            LinkEvent::SignedOut => self.check_session(),
        }
    }

    fn on_frame(self, frame: ServerFrame) {
        match frame {
            ServerFrame::Hello { .. } | ServerFrame::Pong => {}
            ServerFrame::Message { message } => {
                self.typing_stopped(&message.conversation_id, &message.sender_id);
                if self.inbox.with_untracked(|i| i.me() != &message.sender_id) {
                    let tell = move |conversation_id, seq| {
                        self.send_frame(&ClientFrame::Delivered { conversation_id, seq });
                    };
                    self.receipts.received(message.conversation_id.clone(), message.seq, tell);
                    self.alert(&message);
                }
                if self.inbox.try_update(|i| i.receive(message)).unwrap_or(false) {
                    self.refresh_chats();
                }
            }
            ServerFrame::Skipped { conversation_id, upto } => self.inbox.update(|i| i.skipped(&conversation_id, upto)),
            ServerFrame::Ack { client_id, conversation_id, seq, shown, message_id, content, .. } => {
                self.resends.update_value(|r| {
                    r.remove(&client_id);
                });
                self.inbox.update(|i| i.ack(&conversation_id, &client_id, seq, shown, message_id, content));
            }
            ServerFrame::Presence { conversation_id, user_id, presence } => {
                self.note_presence(&conversation_id, [(user_id.clone(), presence)]);
                if !presence.is_online() {
                    self.typing_stopped(&conversation_id, &user_id);
                }
            }
            ServerFrame::Typing { conversation_id, user_id } => self.note_typing(conversation_id, user_id),
            ServerFrame::Notice { notice: NoticeKind::Invite, .. } => self.invited.update(|n| *n += 1),
            // New names and settings come with the list.
            ServerFrame::Notice { notice: NoticeKind::Update, .. } => self.refresh_chats(),
            ServerFrame::Notice { conversation_id, user_id, notice } => {
                if self.inbox.try_update(|i| i.notice(&conversation_id, &user_id, notice)).unwrap_or(false) {
                    self.refresh_chats();
                }
            }
            ServerFrame::Read { conversation_id, seq, shown } => {
                self.inbox.update(|i| i.read(&conversation_id, seq, Some(shown)))
            }
            ServerFrame::Receipt { conversation_id, receipt } => self.receipts.note(&conversation_id, receipt),
            ServerFrame::Error { code, client_id: Some(client_id), retry_after_ms, .. } => {
                self.refused_send(client_id, code, retry_after_ms);
            }
            frame @ (ServerFrame::CallRinging { .. }
            | ServerFrame::CallIncoming { .. }
            | ServerFrame::CallAccepted { .. }
            | ServerFrame::CallSignal { .. }
            | ServerFrame::CallEnded { .. }) => self.call_feed(CallFeed::Frame(frame)),
            // Group calls and live broadcasts.
            ServerFrame::Room { room } => self.rooms.update(|rooms| {
                let key = (room.conversation_id, room.kind);
                match room.state {
                    Some(state) => rooms.insert(key, state),
                    None => rooms.remove(&key),
                };
            }),
            frame @ (ServerFrame::RoomJoined { .. } | ServerFrame::RoomOffer { .. } | ServerFrame::RoomLeft { .. }) => {
                if let Some(take) = self.room_frames.get_value() {
                    take(frame);
                }
            }
            ServerFrame::Error { code, message, client_id: None, retry_after_ms } if code.is_call_error() => {
                self.call_feed(CallFeed::Frame(ServerFrame::Error { code, message, client_id: None, retry_after_ms }));
            }
            frame @ ServerFrame::Error { client_id: None, .. } => {
                if let ServerFrame::Error { code, message, .. } = &frame {
                    leptos::logging::warn!("natter: the server answered {code:?}: {message}");
                }
                // A room being joined learns why it was refused.
                if let Some(take) = self.room_frames.get_value() {
                    take(frame);
                }
            }
        }
    }

    /// The server refused a send: sent again after the wait it named, up
    /// to [`RESENDS`] times (with the same client id, so it is stored once),
    /// else shown as failed.
    fn refused_send(self, client_id: String, code: wire::protocol::WsErrorCode, retry_after_ms: Option<u64>) {
        let tries = self.resends.with_value(|r| r.get(&client_id).copied().unwrap_or(0));
        let Some(wait) = retry_after_ms.filter(|_| tries < RESENDS) else {
            self.resends.update_value(|r| {
                r.remove(&client_id);
            });
            return self.inbox.update(|i| i.fail(&client_id, code));
        };
        self.resends.update_value(|r| {
            r.insert(client_id.clone(), tries + 1);
        });
        set_timeout(
            move || {
                if let Some((conversation, outgoing)) = self.inbox.with_untracked(|i| i.pending(&client_id)) {
                    self.transmit(conversation, &outgoing);
                }
            },
            std::time::Duration::from_millis(wait.min(MAX_RESEND_WAIT_MS)),
        );
    }

    fn call_feed(self, feed: CallFeed) {
        if let Some(handler) = self.call_frames.get_value() {
            handler(feed);
        }
    }

    /// Hands every call frame (and call error), and each reconnection, to `handler` from now on.
    pub fn on_call_frames(self, handler: impl Fn(CallFeed) + 'static) {
        self.call_frames.set_value(Some(std::rc::Rc::new(handler)));
    }

    /// Sends a call frame; false when the link is down.
    pub fn send_call(self, frame: &ClientFrame) -> bool {
        self.send_frame(frame)
    }

    /// The server closed the link for a signed-out device. Another tab may
    /// have signed in again on this browser, which renewed the shared cookie:
    /// then carry on. Otherwise the session learns it is over, and
    /// `RequireUser` sends the user to sign in with the reason.
    fn check_session(self) {
        spawn_local(async move {
            let _ = self.session.observe(client::get::<Me>(endpoint::ME).await);
            if self.session.me().is_some() {
                self.link.with_value(|link| link.as_ref().map(Link::reconnect));
            }
        });
    }

    /// The room of `kind` in progress in a conversation; reactive.
    pub fn room(self, conversation: &ConversationId, kind: RoomKind) -> Option<RoomState> {
        self.rooms.with(|rooms| rooms.get(&(conversation.clone(), kind)).cloned())
    }

    /// Hands this connection's room frames to `take` (the open room
    /// session), or to nobody.
    pub fn take_room_frames(self, take: Option<RoomFrames>) {
        self.room_frames.set_value(take);
    }

    /// Sends a room frame; false while offline.
    pub fn send_room_frame(self, frame: &ClientFrame) -> bool {
        self.send_frame(frame)
    }

    fn send_frame(self, frame: &ClientFrame) -> bool {
        self.link.with_value(|link| link.as_ref().is_some_and(|l| l.send(frame)))
    }

    /// Sends the positions of the conversations not resumed on this connection
    /// yet (newly listed ones), so that nothing sent meanwhile is missed.
    fn resume_new(self) {
        let positions = self.inbox.with_untracked(Inbox::positions);
        let fresh = self.resumed.with_value(|done| {
            positions.into_iter().filter(|p| !done.contains(&p.conversation_id)).collect()
        });
        self.resume(fresh);
    }

    fn resume(self, positions: Vec<Position>) {
        if positions.is_empty() {
            return;
        }
        let ids: Vec<ConversationId> = positions.iter().map(|p| p.conversation_id.clone()).collect();
        if self.send_frame(&ClientFrame::Resume { positions }) {
            self.resumed.update_value(|done| done.extend(ids));
        }
    }

    /// Reloads the conversation list. Live updates keep it current; this
    /// picks up what they cannot tell (a conversation joined elsewhere).
    pub fn refresh_chats(self) {
        if self.listing.get_value() != Listing::Idle {
            self.listing.set_value(Listing::BusyAgain);
            return;
        }
        self.listing.set_value(Listing::Busy);
        spawn_local(async move {
            let answer = self.session.observe(client::get::<Vec<ConversationSummary>>(endpoint::CONVERSATIONS).await);
            match answer {
                Ok(list) => {
                    self.remember(list.iter().filter_map(|s| s.peer.clone()));
                    for s in &list {
                        if let Some(peer) = &s.peer {
                            self.note_presence(&s.conversation.id, [(peer.id.clone(), s.peer_presence)]);
                        }
                    }
                    self.inbox.update(|i| i.set_chats(list));
                    self.list_error.maybe_update(|e| e.take().is_some());
                    self.resume_new();
                }
                Err(e) => self.list_error.set(Some(e)),
            }
            let again = self.listing.get_value() == Listing::BusyAgain;
            self.listing.set_value(Listing::Idle);
            if again {
                self.refresh_chats();
            }
        });
    }

    /// A conversation the user started or joined: into the list it goes.
    pub fn add_chat(self, summary: ConversationSummary) {
        self.remember(summary.peer.clone());
        self.inbox.update(|i| i.add_chat(summary));
        self.resume_new();
    }

    pub fn update_conversation(self, conversation: Conversation) {
        self.inbox.update(|i| i.update_conversation(conversation));
    }

    /// The user left the conversation.
    pub fn forget(self, id: &ConversationId) {
        self.inbox.update(|i| i.forget(id));
    }

    /// Loads the newest page of a conversation's messages.
    pub async fn load_latest(self, id: ConversationId) -> Result<(), ApiError> {
        let page: Vec<Message> = client::get(&format!("{}?limit={PAGE}", endpoint::conversation_messages(&id))).await?;
        self.inbox.update(|i| i.load(&id, page));
        // What was stored while the page was on its way follows its newest message.
        let positions = self.inbox.with_untracked(Inbox::positions);
        self.resume(positions.into_iter().filter(|p| p.conversation_id == id).collect());
        Ok(())
    }

    /// Loads older pages until the entry at `seq` is loaded (a reply's
    /// original, a search result, the first unread message).
    pub async fn load_until(self, id: ConversationId, seq: u64) -> Result<(), ApiError> {
        while !self.inbox.with_untracked(|i| i.holds(&id, seq)) {
            if self.inbox.with_untracked(|i| i.older_than(&id)).is_none() {
                break;
            }
            self.load_older(id.clone()).await?;
        }
        Ok(())
    }

    /// One message with its changes, from the server: a reply's original that is not loaded.
    pub async fn fetch_shown(self, id: ConversationId, seq: u64) -> Result<Shown, ApiError> {
        client::get(&endpoint::conversation_message(&id, seq)).await
    }

    /// The other members' receipts in a conversation (loading them when it
    /// opens); `None` when the server keeps none for the user. Reactive.
    pub fn receipts(self, conversation: &ConversationId) -> Option<Vec<Receipt>> {
        self.receipts.of(conversation)
    }

    pub async fn load_receipts(self, conversation: ConversationId) {
        self.receipts.load(conversation).await;
    }

    /// Loads the messages pinned now, however long ago each was pinned.
    pub async fn load_pins(self, conversation: ConversationId) {
        if let Ok(pins) = client::get::<Vec<Shown>>(&endpoint::conversation_pins(&conversation)).await {
            let seqs = pins.iter().map(|p| p.message.seq).collect();
            self.inbox.update(|i| i.set_pins(&conversation, seqs));
        }
    }

    /// Loads the page before the oldest message loaded, if there is one.
    pub async fn load_older(self, id: ConversationId) -> Result<(), ApiError> {
        let Some(before) = self.inbox.with_untracked(|i| i.older_than(&id)) else { return Ok(()) };
        let path = format!("{}?before={before}&limit={PAGE}", endpoint::conversation_messages(&id));
        let page: Vec<Message> = client::get(&path).await?;
        self.inbox.update(|i| i.load(&id, page));
        Ok(())
    }

    /// Sends a message, answering `reply_to` and mentioning `mentions`:
    /// shown at once as pending, sent now if the link is up, else as soon as it is back.
    pub fn send(self, conversation: ConversationId, content: String, reply_to: Option<u64>, mentions: Vec<UserId>) {
        let text = Outgoing::text(client::random_id(), content, client::now_ms());
        self.queue(conversation, Outgoing { reply_to, mentions, ..text });
    }

    /// Edits, deletes, reacts to or pins the message at `target` (`kind`
    /// says which; `content` is an edit's text or a reaction's emoji). Like a
    /// message it waits for the link, and is shown once stored.
    pub fn change(self, conversation: ConversationId, kind: MessageKind, target: u64, content: String, mentions: Vec<UserId>) {
        let change = Outgoing::change(client::random_id(), kind, target, content, client::now_ms());
        let change = Outgoing { mentions, ..change };
        self.inbox.update(|i| i.queue(&conversation, change.clone()));
        self.transmit(conversation, &change);
    }

    /// Why the server refused the user's latest change, until dismissed; reactive.
    pub fn refused(self) -> Option<wire::protocol::WsErrorCode> {
        self.inbox.with(Inbox::refused)
    }

    pub fn dismiss_refusal(self) {
        self.inbox.update(Inbox::dismiss_refusal);
    }

    /// Sends a message carrying an uploaded file, with `caption` as its text.
    pub fn send_attachment(self, conversation: ConversationId, kind: MessageKind, attachment: Attachment, caption: String) {
        let text = Outgoing::text(client::random_id(), caption, client::now_ms());
        self.queue(conversation, Outgoing { kind, attachment: Some(Box::new(attachment)), ..text });
    }

    fn queue(self, conversation: ConversationId, outgoing: Outgoing) {
        self.reach_notify_moment();
        self.inbox.update(|i| i.queue(&conversation, outgoing.clone()));
        // The message ends this bout of typing: the next keystroke starts another.
        self.typed.update_value(|t| {
            t.remove(&conversation);
        });
        self.transmit(conversation, &outgoing);
    }

    /// Sends a failed message again, with the same client id.
    pub fn retry(self, conversation: ConversationId, client_id: &str) {
        if let Some(outgoing) = self.inbox.try_update(|i| i.retry(&conversation, client_id)).flatten() {
            self.transmit(conversation, &outgoing);
        }
    }

    fn transmit(self, conversation_id: ConversationId, outgoing: &Outgoing) {
        self.send_frame(&ClientFrame::Send {
            conversation_id,
            client_id: outgoing.client_id.clone(),
            kind: outgoing.kind,
            content: outgoing.content.clone(),
            attachment: outgoing
                .attachment
                .as_ref()
                .map(|a| AttachmentRef { file_id: a.file_id.clone(), duration_ms: a.duration_ms }),
            target: outgoing.target,
            reply_to: outgoing.reply_to,
            mentions: outgoing.mentions.clone(),
        });
    }

    /// Marks a conversation read up to `seq`: here at once, then on the
    /// server, which tells the user's other devices.
    pub fn mark_read(self, id: ConversationId, seq: u64) {
        self.inbox.update(|i| i.read(&id, seq, None));
        spawn_local(async move {
            let path = endpoint::conversation_read(&id);
            // On failure the server keeps the older position; the list shows
            // the messages unread again after its next reload. Nothing to tell.
            let _ = self.session.observe(client::send::<_, ()>(Method::Post, &path, &MarkRead { seq }).await);
        });
    }

    /// How a user shows in a conversation, as far as known; reactive.
    pub fn presence_in(self, conversation: &ConversationId, user: &UserId) -> Presence {
        self.presence.with(|p| p.get(&(conversation.clone(), user.clone())).copied().unwrap_or_default())
    }

    /// Takes how people show in a conversation from a fresh answer or a frame.
    pub fn note_presence(self, conversation: &ConversationId, people: impl IntoIterator<Item = (UserId, Presence)>) {
        self.presence.maybe_update(|known| {
            people.into_iter().fold(false, |changed, (user, presence)| {
                known.insert((conversation.clone(), user), presence) != Some(presence) || changed
            })
        });
    }

    /// Who is typing in the conversation now; reactive.
    pub fn typing_in(self, conversation: &ConversationId) -> Vec<UserId> {
        self.typing.with(|t| t.get(conversation).map(|who| who.keys().cloned().collect()).unwrap_or_default())
    }

    fn note_typing(self, conversation: ConversationId, user: UserId) {
        let until = client::now_ms() + TYPING_SHOWS_MS as Millis;
        self.typing.update(|t| {
            t.entry(conversation.clone()).or_default().insert(user.clone(), until);
        });
        set_timeout(
            move || {
                let expired = self.typing.with_untracked(|t| {
                    t.get(&conversation).and_then(|who| who.get(&user)).is_some_and(|u| *u <= client::now_ms())
                });
                if expired {
                    self.typing_stopped(&conversation, &user);
                }
            },
            std::time::Duration::from_millis(TYPING_SHOWS_MS),
        );
    }

    fn typing_stopped(self, conversation: &ConversationId, user: &UserId) {
        self.typing.maybe_update(|t| t.get_mut(conversation).is_some_and(|who| who.remove(user).is_some()));
    }

    /// The user is typing in the conversation: tells the others, at most
    /// every few seconds.
    pub fn typing(self, conversation: ConversationId) {
        let now = client::now_ms();
        let recent = self.typed.with_value(|t| t.get(&conversation).is_some_and(|at| now - at < TYPING_EVERY_MS));
        if !recent && self.send_frame(&ClientFrame::Typing { conversation_id: conversation.clone() }) {
            self.typed.update_value(|t| {
                t.insert(conversation, now);
            });
        }
    }

    /// The user's chosen statuses, once loaded; reactive.
    pub fn status(self) -> Option<StatusSettings> {
        self.status.get()
    }

    /// Chooses a status, everywhere or in one conversation.
    pub fn set_status(self, change: SetStatus) {
        spawn_local(async move {
            let answer = client::send::<_, StatusSettings>(Method::Put, endpoint::ME_STATUS, &change).await;
            match self.session.observe(answer) {
                Ok(settings) => self.status.set(Some(settings)),
                Err(e) => leptos::logging::warn!("natter: could not set the status: {}", e.message),
            }
        });
    }

    /// A user's profile, once known; reactive. See [`Live::want_profiles`].
    pub fn profile(self, id: &UserId) -> Option<PublicProfile> {
        self.profiles.with(|p| p.get(id).cloned())
    }

    /// Keeps profiles the pages came across.
    pub fn remember(self, people: impl IntoIterator<Item = PublicProfile>) {
        self.profiles.maybe_update(|known| {
            let mut changed = false;
            for person in people {
                if known.get(&person.id) != Some(&person) {
                    known.insert(person.id.clone(), person);
                    changed = true;
                }
            }
            changed
        });
    }

    /// Fetches the profiles among `ids` not known yet, each once.
    pub fn want_profiles(self, ids: impl IntoIterator<Item = UserId>) {
        for id in ids {
            if self.profiles.with_untracked(|p| p.contains_key(&id)) {
                continue;
            }
            let mut first = false;
            self.asked.update_value(|asked| first = asked.insert(id.clone()));
            if first {
                spawn_local(async move {
                    if let Ok(person) = self.session.observe(client::get(&endpoint::user(&id)).await) {
                        self.remember([person]);
                    }
                });
            }
        }
    }
}
