//! One websocket connection: reads the client's frames, sends it every event
//! of its conversations in sequence order, and answers bad input with error
//! frames while staying open.
//!
//! Catch-up and the live stream cannot race: both go through one cursor per
//! conversation, the highest sequence number this client has. A live message
//! at or below the cursor was delivered already; one above the next expected
//! number means a gap, which is filled from the store first. Resuming is just
//! setting the cursor and filling to the end.
//!
//! The live stream starts only after the client's first frame, so a client
//! that resumes (its first frame) never sees a live message before the ones
//! it missed.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Instant,
};

use wire::{
    call::{CallEnd, CallId, CallMedia, Signal},
    model::{ConversationId, MessageKind, UserId},
    protocol::{
        close, AttachmentRef, ClientFrame, NoticeKind, Position, ServerFrame, WsErrorCode, MAX_CLIENT_ID_CHARS, MAX_FRAME_BYTES,
        MAX_TEXT_CHARS, PROTOCOL_VERSION,
    },
};
use axum::{
    extract::{
        ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade},
        State,
    },
    response::Response,
};

use futures_util::SinkExt;

mod rooms;

use super::{event::HubEvent, ConnId, Delivery};
use crate::{
    auth::AuthUser,
    calls::{Refused, KEEP_EVERY},
    files,
    store::{
        messages::{MessageDraft, MAX_PAGE},
        now_millis, StoreError,
    },
    presence::tally::Change,
    AppState,
};

/// Largest websocket message read at all; beyond [`MAX_FRAME_BYTES`] and up to
/// this, the client gets an error frame, beyond it the socket closes (1009).
const MAX_SOCKET_MESSAGE: usize = 1 << 20;
/// Initial read buffer of a websocket. The default, 128 KiB, is allocated
/// for every connection, idle or not; frames larger than this still arrive
/// (the buffer grows). Measured with 19,500 idle connections (the load
/// generator's scenario 1): 136 KB per connection before, see PERFORMANCE.md.
const READ_BUFFER: usize = 4096;
/// Events handled at most between two writes to the socket.
const FLUSH_AFTER: usize = 64;
/// Sends a connection may make: a burst, then this many per second.
const SEND_BURST: f64 = 30.0;
const SENDS_PER_SECOND: f64 = 10.0;
/// Call signals a connection may relay: ICE candidates come in bursts of a
/// few dozen when a call starts or restarts, then hardly any.
const SIGNAL_BURST: f64 = 100.0;
const SIGNALS_PER_SECOND: f64 = 20.0;
/// Typing frames a connection passes on per conversation: one per this period.
const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /ws`: upgrades a signed-in request to the chat connection.
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>, user: AuthUser) -> Response {
    ws.max_message_size(MAX_SOCKET_MESSAGE).read_buffer_size(READ_BUFFER).on_upgrade(move |socket| run(socket, state, user))
}

async fn run(socket: WebSocket, state: AppState, user: AuthUser) {
    let conversations = match state.store.memberships_of(&user.user_id).await {
        Ok(ms) => ms.into_iter().map(|m| m.conversation_id).collect::<Vec<_>>(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot open a connection: the store is unavailable");
            let mut socket = socket;
            let _ = socket.send(close_message(1011, "the store is unavailable; reconnect later")).await;
            return;
        }
    };
    let (id, mailbox) = state.hub.connect(&user.user_id, &user.device_id, &conversations);
    state.presence.change(&user.user_id, Change::Opened).await;
    let endpoint = format!("{}/{id}", state.config.node_id);
    let (signals, signalled) = tokio::sync::mpsc::channel(crate::sfu::SIGNALS);
    let mut conn = Connection {
        signals,
        id,
        endpoint,
        call: None,
        socket,
        state: state.clone(),
        conversations: conversations.into_iter().collect(),
        user,
        cursors: HashMap::new(),
        budget: Budget::new(SEND_BURST, SENDS_PER_SECOND),
        signal_budget: Budget::new(SIGNAL_BURST, SIGNALS_PER_SECOND),
        active: true,
        typed: HashMap::new(),
    };
    conn.serve(mailbox, signalled).await;
    state.hub.disconnect(id);
    state.sfu.gone(id).await;
    if let Some(call) = conn.call.take() {
        state.calls.dropped(conn.user.user_id.clone(), conn.endpoint.clone(), call.call_id);
    }
    state.presence.change(&conn.user.user_id, Change::Closed { active: conn.active }).await;
}

/// Why a connection ends.
enum End {
    /// The client closed it or the socket failed: nothing more to send.
    Gone,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// The call a tab is in, and where the other side's tab is.
struct InCall {
    call_id: CallId,
    peer: UserId,
    /// The other tab, once the call is answered.
    peer_endpoint: Option<String>,
}

struct Connection {
    id: ConnId,
    /// This tab's name in calls: `<node>/<connection>`.
    endpoint: String,
    call: Option<InCall>,
    socket: WebSocket,
    state: AppState,
    user: AuthUser,
    /// The conversations this user belongs to, kept up to date by join and leave events.
    conversations: HashSet<ConversationId>,
    /// Per conversation, the highest sequence number delivered to this client.
    cursors: HashMap<ConversationId, u64>,
    budget: Budget,
    signal_budget: Budget,
    /// Whether the client last said the person is using this device.
    active: bool,
    /// When this connection last passed on typing in each conversation.
    typed: HashMap<ConversationId, Instant>,
    /// Where the media task sends this connection's room frames.
    signals: tokio::sync::mpsc::Sender<ServerFrame>,
}

impl Connection {
    async fn serve(
        &mut self,
        mut mailbox: tokio::sync::mpsc::Receiver<Arc<Delivery>>,
        mut signalled: tokio::sync::mpsc::Receiver<ServerFrame>,
    ) {
        let mut closing = self.state.hub.closing();
        let hello = ServerFrame::Hello {
            protocol_version: PROTOCOL_VERSION,
            user_id: self.user.user_id.clone(),
            node_id: self.state.config.node_id.clone(),
        };
        let mut result = self.send(&hello).await;
        if result.is_ok() {
            result = self.rooms_in_progress().await;
        }
        if result.is_ok() {
            result = self.socket.flush().await.map_err(|_| End::Gone);
        }
        let mut live = false;
        let mut unflushed = 0;
        let mut keep_call = tokio::time::interval(KEEP_EVERY);
        // Ticks pass unheard between calls: no burst of renewals when one starts.
        keep_call.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while result.is_ok() {
            result = tokio::select! {
                frame = self.socket.recv() => match frame {
                    Some(Ok(frame)) => {
                        live = true;
                        self.on_frame(frame).await
                    }
                    _ => Err(End::Gone),
                },
                event = mailbox.recv(), if live => match event {
                    Some(event) => self.on_event(&event).await,
                    None => Err(End::Close(1013, "the connection fell behind; reconnect to catch up")),
                },
                Some(frame) = signalled.recv() => self.send(&frame).await,
                _ = keep_call.tick(), if self.call.is_some() => {
                    if let Some(call) = &self.call {
                        self.state.calls.keep(&self.user.user_id, &call.call_id).await;
                    }
                    Ok(())
                }
                _ = async { closing.wait_for(|closing| *closing).await.map(drop) } => {
                    Err(End::Close(close::GOING_AWAY, "the server is restarting"))
                }
            };
            // Frames are queued, and written when nothing more is waiting: a
            // busy connection writes many frames per system call.
            unflushed += 1;
            if result.is_ok() && (!live || mailbox.is_empty() || unflushed >= FLUSH_AFTER) {
                result = self.socket.flush().await.map_err(|_| End::Gone);
                unflushed = 0;
            }
        }
        if let Err(End::Close(code, reason)) = result {
            tracing::debug!(conn = self.id, code, reason, "closing websocket");
            let _ = self.socket.send(close_message(code, reason)).await;
        }
    }

    /// Queues a frame; the serve loop flushes.
    async fn send(&mut self, frame: &ServerFrame) -> Result<(), End> {
        let text = serde_json::to_string(frame).expect("frames serialize");
        self.socket.feed(WsMessage::Text(text.into())).await.map_err(|_| End::Gone)
    }

    async fn error(&mut self, code: WsErrorCode, message: impl Into<String>, client_id: Option<String>) -> Result<(), End> {
        self.send(&ServerFrame::Error { code, message: message.into(), client_id }).await
    }

    async fn on_frame(&mut self, frame: WsMessage) -> Result<(), End> {
        let text = match frame {
            WsMessage::Text(text) => text,
            WsMessage::Close(_) => return Err(End::Gone),
            WsMessage::Binary(_) => return self.error(WsErrorCode::BadFrame, "frames are JSON text", None).await,
            WsMessage::Ping(_) | WsMessage::Pong(_) => return Ok(()),
        };
        if text.len() > MAX_FRAME_BYTES {
            return self.error(WsErrorCode::FrameTooLarge, format!("frames are at most {MAX_FRAME_BYTES} bytes"), None).await;
        }
        match serde_json::from_str::<ClientFrame>(text.as_str()) {
            Ok(ClientFrame::Send { conversation_id, client_id, kind, content, attachment }) => {
                self.on_send(conversation_id, client_id, kind, content, attachment).await
            }
            Ok(ClientFrame::Resume { positions }) => self.on_resume(positions).await,
            Ok(ClientFrame::Read { conversation_id, seq }) => self.on_read(conversation_id, seq).await,
            Ok(ClientFrame::Ping) => self.on_ping().await,
            Ok(ClientFrame::Activity { active }) => {
                if active != self.active {
                    self.active = active;
                    self.state.presence.change(&self.user.user_id, Change::Activity { active }).await;
                }
                Ok(())
            }
            Ok(ClientFrame::Typing { conversation_id }) => self.on_typing(conversation_id).await,
            Ok(ClientFrame::CallInvite { conversation_id, callee_id, media }) => {
                self.on_call_invite(conversation_id, callee_id, media).await
            }
            Ok(ClientFrame::CallAccept { call_id }) => {
                let accepted = self.state.calls.accept(&self.user.user_id, &self.endpoint, &call_id).await;
                match accepted {
                    Ok(state) => {
                        let peer = state.info.caller.id;
                        self.call = Some(InCall { call_id, peer, peer_endpoint: Some(state.caller_endpoint) });
                        Ok(())
                    }
                    Err(refused) => self.call_error(refused).await,
                }
            }
            Ok(ClientFrame::CallDecline { call_id }) => {
                let declined = self.state.calls.decline(&self.user.user_id, &call_id).await;
                self.call_result(declined).await
            }
            Ok(ClientFrame::CallHangup { call_id }) => {
                let ended = self.state.calls.hang_up(&self.user.user_id, &self.endpoint, &call_id).await;
                // Over for this tab now, before the ending's event comes round.
                if ended.is_ok() && self.call.as_ref().is_some_and(|c| c.call_id == call_id) {
                    self.call = None;
                }
                self.call_result(ended).await
            }
            Ok(ClientFrame::CallSignal { call_id, signal }) => self.on_call_signal(call_id, signal).await,
            Ok(ClientFrame::CallRejoin { call_id }) => {
                match self.state.calls.rejoin(&self.user.user_id, &self.endpoint, &call_id).await {
                    Ok(state) => {
                        let caller = state.info.caller.id == self.user.user_id;
                        let (peer, peer_endpoint) = if caller {
                            (state.info.callee_id, state.callee_endpoint)
                        } else {
                            (state.info.caller.id, Some(state.caller_endpoint))
                        };
                        self.call = Some(InCall { call_id, peer, peer_endpoint });
                        Ok(())
                    }
                    Err(refused) => self.call_error(refused).await,
                }
            }
            // Group calls and live broadcasts (the selective forwarding unit).
            Ok(ClientFrame::RoomJoin { conversation_id, kind, role, video, sdp }) => {
                self.on_room_join(conversation_id, kind, role, video, sdp).await
            }
            Ok(ClientFrame::RoomAnswer { conversation_id, kind, sdp }) => self.on_room_answer(conversation_id, kind, sdp).await,
            Ok(ClientFrame::RoomLeave { conversation_id, kind }) => self.on_room_leave(conversation_id, kind).await,
            Err(e) => self.error(WsErrorCode::BadFrame, format!("not a frame: {e}"), None).await,
        }
    }

    async fn on_send(
        &mut self,
        conversation_id: ConversationId,
        client_id: String,
        kind: MessageKind,
        content: String,
        attachment: Option<AttachmentRef>,
    ) -> Result<(), End> {
        let id = Some(client_id.clone());
        let id_ok = !client_id.is_empty()
            && client_id.chars().count() <= MAX_CLIENT_ID_CHARS
            && !client_id.chars().any(char::is_control);
        if !id_ok {
            return self.error(WsErrorCode::BadRequest, "client_id: 1 to 64 characters, no control characters", id).await;
        }
        // Attachments may come without a caption.
        if kind == MessageKind::Text && content.trim().is_empty() {
            return self.error(WsErrorCode::BadRequest, "a message needs some text", id).await;
        }
        if content.chars().count() > MAX_TEXT_CHARS {
            return self.error(WsErrorCode::TooLong, format!("a message holds at most {MAX_TEXT_CHARS} characters"), id).await;
        }
        if !self.budget.take() {
            return self.error(WsErrorCode::RateLimited, "sending too fast; slow down", id).await;
        }
        match self.state.store.member(&conversation_id, &self.user.user_id).await {
            Ok(Some(_)) => {}
            Ok(None) => return self.error(WsErrorCode::NotMember, "you are not a member of this conversation", id).await,
            Err(e) => return self.store_error(e, id).await,
        }
        // Text and captions alike: shortcodes become emoji, listed words are masked or refused.
        let stored = match self.state.text.apply(&content) {
            Ok(stored) => stored,
            Err(refused) => return self.error(WsErrorCode::ContentRefused, refused.to_string(), id).await,
        };
        let attachment = match files::attach(&self.state.store, &self.user.user_id, &conversation_id, kind, attachment).await {
            Ok(attachment) => attachment,
            Err(files::Refused::Bad(why)) => return self.error(WsErrorCode::BadRequest, why, id).await,
            Err(files::Refused::Store(e)) => return self.store_error(e, id).await,
        };
        // The message ends this bout of typing: the next keystroke is passed on at once.
        self.typed.remove(&conversation_id);
        let draft = MessageDraft {
            conversation_id,
            sender_id: self.user.user_id.clone(),
            client_id,
            kind,
            content: stored,
            attachment,
            call: None,
        };
        match self.state.writer.append(draft).await {
            Ok(appended) => {
                let m = appended.message;
                let ack = ServerFrame::Ack {
                    client_id: m.client_id,
                    conversation_id: m.conversation_id,
                    seq: m.seq,
                    message_id: m.id,
                    duplicate: appended.duplicate,
                    content: (m.content != content).then_some(m.content),
                };
                self.send(&ack).await
            }
            Err(e) => self.store_error(e, id).await,
        }
    }

    async fn on_call_invite(&mut self, conversation_id: ConversationId, callee: UserId, media: CallMedia) -> Result<(), End> {
        if self.call.is_some() {
            return self.error(WsErrorCode::Busy, "this tab is in a call already", None).await;
        }
        let calls = self.state.calls.clone();
        match calls.invite(&self.user.user_id, &self.endpoint, conversation_id, callee.clone(), media).await {
            Ok(call) => {
                self.call = Some(InCall { call_id: call.call_id.clone(), peer: callee, peer_endpoint: None });
                self.send(&ServerFrame::CallRinging { call }).await
            }
            Err(refused) => self.call_error(refused).await,
        }
    }

    /// Relays a signal to the other tab of this tab's call.
    async fn on_call_signal(&mut self, call_id: CallId, signal: Signal) -> Result<(), End> {
        let to = self.call.as_ref().filter(|c| c.call_id == call_id).and_then(|c| Some((c.peer.clone(), c.peer_endpoint.clone()?)));
        let Some((to_user, to_endpoint)) = to else {
            return self.call_error(Refused::NotInCall).await;
        };
        if let Err(bad) = signal.check() {
            return self.error(WsErrorCode::BadSignal, bad.to_string(), None).await;
        }
        if !self.signal_budget.take() {
            return self.error(WsErrorCode::RateLimited, "signalling too fast; slow down", None).await;
        }
        self.state.fanout.publish(HubEvent::CallSignal { call_id, to_user, to_endpoint, signal }).await;
        Ok(())
    }

    async fn call_result(&mut self, result: Result<(), Refused>) -> Result<(), End> {
        match result {
            Ok(()) => Ok(()),
            Err(refused) => self.call_error(refused).await,
        }
    }

    async fn call_error(&mut self, refused: Refused) -> Result<(), End> {
        let message = refused.to_string();
        let code = match refused {
            Refused::NotMember => WsErrorCode::NotMember,
            Refused::CannotCall(_) => WsErrorCode::CannotCall,
            Refused::Busy(_) => WsErrorCode::Busy,
            Refused::NotInCall => WsErrorCode::NotInCall,
            Refused::Store(e) => return self.store_error(e, None).await,
            Refused::Registry(e) => {
                tracing::warn!(error = %e, "a call request failed in the registry");
                WsErrorCode::Retry
            }
        };
        self.error(code, message, None).await
    }

    /// What a call event means for this tab.
    async fn on_call_event(&mut self, event: &HubEvent) -> Result<(), End> {
        match event {
            HubEvent::CallRing { call } => self.send(&ServerFrame::CallIncoming { call: call.clone() }).await,
            HubEvent::CallAnswered { call_id, callee_id, caller_endpoint, callee_endpoint, .. } => {
                if *caller_endpoint == self.endpoint {
                    if let Some(call) = self.call.as_mut().filter(|c| c.call_id == *call_id) {
                        call.peer_endpoint = Some(callee_endpoint.clone());
                    }
                    self.send(&ServerFrame::CallAccepted { call_id: call_id.clone() }).await
                } else if *callee_endpoint == self.endpoint {
                    self.send(&ServerFrame::CallAccepted { call_id: call_id.clone() }).await
                } else if *callee_id == self.user.user_id {
                    let frame = ServerFrame::CallEnded { call_id: call_id.clone(), reason: CallEnd::AnsweredElsewhere, duration_ms: None };
                    self.send(&frame).await
                } else {
                    Ok(())
                }
            }
            HubEvent::CallRejoined { call_id, user_id, endpoint, .. } => {
                if let Some(call) = self.call.as_mut().filter(|c| c.call_id == *call_id && c.peer == *user_id) {
                    call.peer_endpoint = Some(endpoint.clone());
                }
                Ok(())
            }
            HubEvent::CallSignal { call_id, to_endpoint, signal, .. } if *to_endpoint == self.endpoint => {
                self.send(&ServerFrame::CallSignal { call_id: call_id.clone(), signal: signal.clone() }).await
            }
            HubEvent::CallEnded { call_id, reason, duration_ms, .. } => {
                if self.call.as_ref().is_some_and(|c| c.call_id == *call_id) {
                    self.call = None;
                }
                let frame = ServerFrame::CallEnded { call_id: call_id.clone(), reason: *reason, duration_ms: *duration_ms };
                self.send(&frame).await
            }
            _ => Ok(()),
        }
    }

    async fn store_error(&mut self, e: StoreError, client_id: Option<String>) -> Result<(), End> {
        tracing::warn!(error = %e, "websocket request failed in the store");
        match e {
            StoreError::Unavailable(_) => {
                self.error(WsErrorCode::Retry, "the database is unavailable; nothing was stored, send again", client_id).await
            }
            _ => self.error(WsErrorCode::Internal, "internal error", client_id).await,
        }
    }

    async fn on_resume(&mut self, positions: Vec<Position>) -> Result<(), End> {
        for Position { conversation_id, seq } in positions {
            match self.state.store.member(&conversation_id, &self.user.user_id).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let message = format!("you are not a member of {conversation_id}");
                    self.error(WsErrorCode::NotMember, message, None).await?;
                    continue;
                }
                Err(e) => {
                    self.store_error(e, None).await?;
                    continue;
                }
            }
            self.cursors.insert(conversation_id.clone(), seq);
            self.fill(&conversation_id, u64::MAX).await?;
        }
        Ok(())
    }

    async fn on_read(&mut self, conversation_id: ConversationId, seq: u64) -> Result<(), End> {
        let result = self.state.store.mark_read(&conversation_id, &self.user.user_id, seq).await;
        if let Err(e) = result {
            return self.store_error(e, None).await;
        }
        let event = HubEvent::Read { conversation_id, user_id: self.user.user_id.clone(), seq };
        self.state.fanout.publish(event).await;
        Ok(())
    }

    /// Passes typing on to the conversation, at most once per [`TYPING_EVERY`].
    async fn on_typing(&mut self, conversation_id: ConversationId) -> Result<(), End> {
        if !self.conversations.contains(&conversation_id) {
            let message = format!("you are not a member of {conversation_id}");
            return self.error(WsErrorCode::NotMember, message, None).await;
        }
        let now = Instant::now();
        if self.typed.get(&conversation_id).is_some_and(|at| now.duration_since(*at) < TYPING_EVERY) {
            return Ok(());
        }
        self.typed.insert(conversation_id.clone(), now);
        let event = HubEvent::Typing { conversation_id, user_id: self.user.user_id.clone() };
        self.state.fanout.publish(event).await;
        Ok(())
    }

    /// Keep-alive: checks that the device is still signed in with this token
    /// (in case a sign-out event from another node was missed) and records
    /// the activity, which keeps the device's session, and so its token, alive.
    async fn on_ping(&mut self) -> Result<(), End> {
        let (user, device_id) = (&self.user.user_id, &self.user.device_id);
        match self.state.store.device(user, device_id).await {
            Ok(Some(device)) if device.token_id == self.user.claims.jti => {
                if let Err(e) = self.state.store.touch_device(user, device_id, now_millis()).await {
                    tracing::debug!(error = %e, "could not record websocket activity");
                }
            }
            Ok(Some(_)) => return Err(End::Close(close::SIGNED_IN_AGAIN, "signed in again on this device")),
            Ok(None) => return Err(End::Close(close::SIGNED_OUT, "signed out")),
            Err(_) => {} // cannot tell now; the next ping asks again
        }
        self.send(&ServerFrame::Pong).await
    }

    async fn on_event(&mut self, delivery: &Delivery) -> Result<(), End> {
        match &delivery.event {
            HubEvent::Message { .. } => self.deliver(delivery).await,
            HubEvent::Joined { conversation_id, user_id } => {
                if *user_id == self.user.user_id {
                    self.conversations.insert(conversation_id.clone());
                }
                self.notice(conversation_id, user_id, NoticeKind::Join).await
            }
            HubEvent::Left { conversation_id, user_id } => {
                if *user_id == self.user.user_id {
                    self.cursors.remove(conversation_id);
                    self.conversations.remove(conversation_id);
                    self.state.sfu.cut_off(conversation_id.clone(), user_id.clone()).await;
                }
                self.notice(conversation_id, user_id, NoticeKind::Leave).await
            }
            HubEvent::Presence { user_id, .. } | HubEvent::Typing { user_id, .. } if *user_id == self.user.user_id => {
                Ok(())
            }
            HubEvent::Presence { user_id, shown } => {
                for (conversation_id, presence) in shown {
                    if self.conversations.contains(conversation_id) {
                        let frame = ServerFrame::Presence {
                            conversation_id: conversation_id.clone(),
                            user_id: user_id.clone(),
                            presence: *presence,
                        };
                        self.send(&frame).await?;
                    }
                }
                Ok(())
            }
            HubEvent::Typing { conversation_id, user_id } => {
                let frame = ServerFrame::Typing { conversation_id: conversation_id.clone(), user_id: user_id.clone() };
                self.send(&frame).await
            }
            HubEvent::Invited { conversation_id, user_id } => {
                self.notice(conversation_id, user_id, NoticeKind::Invite).await
            }
            HubEvent::Updated { conversation_id, user_id } => {
                self.notice(conversation_id, user_id, NoticeKind::Update).await
            }
            HubEvent::Read { conversation_id, seq, .. } => {
                self.send(&ServerFrame::Read { conversation_id: conversation_id.clone(), seq: *seq }).await
            }
            HubEvent::SignedOut { close_code, .. } => Err(End::Close(
                *close_code,
                if *close_code == close::SIGNED_IN_AGAIN { "signed in again on this device" } else { "signed out" },
            )),
            HubEvent::CallRing { .. }
            | HubEvent::CallAnswered { .. }
            | HubEvent::CallRejoined { .. }
            | HubEvent::CallSignal { .. }
            | HubEvent::CallEnded { .. } => self.on_call_event(&delivery.event).await,
            // Group calls and live broadcasts (the selective forwarding unit).
            HubEvent::Room { update } => self.send(&ServerFrame::Room { room: update.clone() }).await,
        }
    }

    async fn notice(
        &mut self,
        conversation_id: &ConversationId,
        user_id: &wire::model::UserId,
        notice: NoticeKind,
    ) -> Result<(), End> {
        let frame = ServerFrame::Notice { conversation_id: conversation_id.clone(), user_id: user_id.clone(), notice };
        self.send(&frame).await
    }

    /// Delivers a live message in order: skipped if seen, after the missing
    /// ones if it leaves a gap.
    async fn deliver(&mut self, delivery: &Delivery) -> Result<(), End> {
        let HubEvent::Message { message } = &delivery.event else { return Ok(()) };
        let conversation = &message.conversation_id;
        let cursor = match self.cursors.get(conversation) {
            Some(cursor) => *cursor,
            None => {
                self.cursors.insert(conversation.clone(), message.seq - 1);
                message.seq - 1
            }
        };
        if message.seq <= cursor {
            return Ok(());
        }
        if message.seq > cursor + 1 {
            self.fill(conversation, message.seq - 1).await?;
        }
        match self.cursors.get_mut(conversation) {
            Some(cursor) if *cursor == message.seq - 1 => *cursor = message.seq,
            _ => return Ok(()),
        }
        let frame = delivery.message_frame().expect("a message event has a message frame");
        self.socket.feed(WsMessage::Text(frame)).await.map_err(|_| End::Gone)
    }

    /// Sends the stored messages after the cursor, up to `upto`.
    async fn fill(&mut self, conversation: &ConversationId, upto: u64) -> Result<(), End> {
        loop {
            let cursor = self.cursors.get(conversation).copied().unwrap_or(0);
            if cursor >= upto {
                return Ok(());
            }
            let page = match self.state.store.messages_after(conversation, cursor, MAX_PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    // The client keeps its position; the next message or resume retries.
                    tracing::warn!(error = %e, %conversation, "cannot catch a connection up");
                    return Ok(());
                }
            };
            let full = page.len() == MAX_PAGE as usize;
            for message in page.into_iter().take_while(|m| m.seq <= upto) {
                self.cursors.insert(conversation.clone(), message.seq);
                self.send(&ServerFrame::Message { message }).await?;
            }
            if !full {
                return Ok(());
            }
        }
    }
}

fn close_message(code: u16, reason: &'static str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// A token bucket: a burst, then so many per second.
struct Budget {
    tokens: f64,
    burst: f64,
    per_second: f64,
    refilled: Instant,
}

impl Budget {
    fn new(burst: f64, per_second: f64) -> Budget {
        Budget { tokens: burst, burst, per_second, refilled: Instant::now() }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.refilled = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}
