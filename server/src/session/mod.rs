//! One websocket session: a browser tab's connection, carrying every
//! conversation of its user. It reads the client's frames, hands each to the
//! service it is for, and sends the client every event of its conversations
//! in sequence order; bad input gets an error frame and the socket stays open.
//!
//! | module | holds |
//! |---|---|
//! | here | the upgrade, the session's state and its select loop |
//! | `dispatch` | which handler takes each client frame and each hub event |
//! | `chat` | chat frames (send, resume, read, typing, ping) and ordered delivery |
//! | `cursor` | the ordering decisions, without I/O: skip, send or fill a gap first |
//! | `held` | sends held while the node's readers are behind, refused with `retry` past a bound |
//! | `calls` | 1:1 call frames and events |
//! | `rooms` | group call and broadcast frames |
//! | `upgrade` | the websocket handshake |
//! | `write_buffer` | the socket's write buffer, freed once written out |
//!
//! The live stream starts only after the client's first frame, so a client
//! that resumes (its first frame) never sees a live message before the ones
//! it missed.

mod calls;
mod chat;
mod cursor;
mod dispatch;
mod held;
mod rooms;
mod upgrade;
mod write_buffer;

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{extract::State, response::Response};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{
    protocol::{frame::CloseFrame, WebSocketConfig},
    Message as WsMessage,
};
use wire::{
    model::{ConversationId, UserId},
    protocol::{close, ServerFrame, WsErrorCode, PROTOCOL_VERSION},
};

use self::{
    calls::InCall,
    cursor::Cursors,
    held::{Held, Turn},
    upgrade::{Socket, WebSocketUpgrade},
};
use crate::{
    auth::AuthUser,
    calls::KEEP_EVERY,
    chat::ChatError,
    hub::{ConnId, Mailbox, Next, Pressure},
    state::AppState,
};

/// Largest websocket message read at all; beyond `MAX_FRAME_BYTES` and up to
/// this, the client gets an error frame, beyond it the socket closes (1009).
const MAX_SOCKET_MESSAGE: usize = 1 << 20;
/// Initial read buffer of a websocket. The default, 128 KiB, is allocated
/// for every connection, idle or not; frames larger than this still arrive
/// (the buffer grows). Measured with 19,500 idle connections (the load
/// generator's scenario 1): 136 KB per connection before, see PERFORMANCE.md.
const READ_BUFFER: usize = 4096;
/// Events handled at most between two writes to the socket. Frames are
/// collected in the [`write_buffer`], not in tungstenite's own, which would
/// keep the memory of its largest batch for the connection's life.
const FLUSH_AFTER: usize = 64;
/// Activity changes reach the presence at most once per this period: a
/// client flipping between active and idle cannot flood its watchers.
const ACTIVITY_EVERY: Duration = Duration::from_secs(2);

/// `GET /ws`: upgrades a signed-in request to the chat connection.
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>, user: AuthUser) -> Response {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_SOCKET_MESSAGE))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0);
    let sessions = state.sessions.clone();
    ws.on_upgrade(&sessions, config, move |socket| open(socket, state, user))
}

/// Opens a session on a new socket, then runs it as a task of its own, with
/// its state boxed. The task that opened it ends here: an async fn holds its
/// arguments, and whatever it moved out of them, to its end, and here that
/// was 2.5 KB of every connection (PERFORMANCE.md).
async fn open(mut socket: Socket, state: AppState, user: AuthUser) {
    let conversations = match state.store.memberships_of(&user.user_id).await {
        Ok(ms) => ms.into_iter().map(|m| m.conversation_id).collect::<Vec<_>>(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot open a connection: the store is unavailable");
            let _ = socket.send(close_message(1011, "the store is unavailable; reconnect later")).await;
            return;
        }
    };
    let per_device = state.config.sockets_per_device as usize;
    let Some((id, mailbox)) = state.hub.connect(&user.user_id, &user.device_id, &conversations, per_device) else {
        return crowded(socket, &state, "this device has too many connections open; close some tabs").await;
    };
    if Box::pin(state.presence.open(&user.user_id, state.config.sockets_per_user)).await.is_err() {
        state.hub.disconnect(id);
        return crowded(socket, &state, "your account has too many connections open; close some tabs or devices").await;
    }
    let kept_apart = state.chat.kept_apart(&user.user_id).await.unwrap_or_default();
    let session = Box::new(Session {
        endpoint: format!("{}/{id}", state.config.node_id),
        id,
        call: None,
        socket,
        state: state.clone(),
        conversations: conversations.into_iter().collect(),
        kept_apart,
        user,
        cursors: Cursors::default(),
        active: true,
        viewing: None,
        reported_active: true,
        reported_viewing: None,
        next_activity_report: tokio::time::Instant::now(),
        typed: HashMap::new(),
        signals: None,
        held: Held::new(state.hub.pressure().clone()),
    });
    state.sessions.spawn(session.run(mailbox));
}

/// Closes a connection over its user's or device's cap.
async fn crowded(mut socket: Socket, state: &AppState, reason: &'static str) {
    metrics::counter!("natter_ws_refused_total", "reason" => "crowded").increment(1);
    let _ = in_time(state.config.ws_write_timeout, socket.send(close_message(close::TOO_MANY_CONNECTIONS, reason))).await;
}

/// What a session has heard from its client.
struct Heard {
    /// It has sent a frame (its resume, or anything else): it is ready for events.
    live: bool,
    /// It has sent something, an answer or any other frame, since the last ping.
    since_ping: bool,
}

/// Why a session ends.
enum End {
    /// The client closed it or the socket failed: nothing more to send.
    Gone,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

struct Session {
    id: ConnId,
    /// This tab's name in calls: `<node>/<connection>`.
    endpoint: String,
    call: Option<InCall>,
    socket: Socket,
    state: AppState,
    user: AuthUser,
    /// The conversations this user belongs to, kept up to date by join and
    /// leave events: which presence changes concern the client.
    conversations: HashSet<ConversationId>,
    /// Users a block keeps apart from this one: their presence and typing are not passed on.
    kept_apart: HashSet<UserId>,
    cursors: Cursors,
    /// Whether the client last said the person is using this device.
    active: bool,
    /// The conversation the client last said it shows, visible and focused.
    viewing: Option<ConversationId>,
    /// What the presence tracker was last told of them, and when it may be told again.
    reported_active: bool,
    reported_viewing: Option<ConversationId>,
    next_activity_report: tokio::time::Instant,
    /// When this session last passed on typing in each conversation.
    typed: HashMap<ConversationId, Instant>,
    /// The channel through which the media task sends this session's room
    /// frames: opened on the first room joined, since a channel's first
    /// block (some 7 KB) is allocated when it is made.
    signals: Option<(mpsc::Sender<ServerFrame>, mpsc::Receiver<ServerFrame>)>,
    /// Sends waiting for the node's readers to catch up.
    held: Held,
}

impl Session {
    /// Serves the client, then lets go of everything the connection held.
    async fn run(mut self: Box<Self>, mailbox: Arc<Mailbox>) {
        self.serve(mailbox).await;
        self.state.hub.disconnect(self.id);
        Box::pin(self.state.sfu.gone(self.id)).await;
        if let Some(call) = self.call.take() {
            self.state.calls.dropped(self.user.user_id.clone(), self.endpoint.clone(), call.call_id);
        }
        let (active, viewing) = (self.reported_active, self.reported_viewing.as_ref());
        Box::pin(self.state.presence.closed(&self.user.user_id, active, viewing)).await;
    }

    async fn serve(&mut self, mailbox: Arc<Mailbox>) {
        let mut closing = self.state.hub.closing();
        let mut result = Box::pin(self.hello()).await;
        if result.is_ok() {
            result = Box::pin(self.in_progress()).await;
        }
        if result.is_ok() {
            result = self.flush().await;
        }
        let mut heard = Heard { live: false, since_ping: true };
        let ping_every = self.state.config.ws_ping;
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        // After a busy spell, the next ping is a whole period away, not due at once.
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut unflushed = 0;
        let recheck_every = self.state.config.session_recheck;
        let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + recheck_every, recheck_every);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut keep_call = tokio::time::interval(KEEP_EVERY);
        // Ticks pass unheard between calls: no burst of renewals when one starts.
        keep_call.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // The handlers are boxed but for the hot one (an event of the hub):
        // the task of an idle session keeps room for the largest future it
        // may await, as long as the connection lasts (10 KB before, 4.9 KB).
        while result.is_ok() {
            result = tokio::select! {
                frame = self.socket.next() => Box::pin(self.on_received(frame, &mut heard)).await,
                _ = ping.tick() => Box::pin(self.on_ping_due(&mut heard)).await,
                _ = tokio::time::sleep_until(self.next_activity_report), if self.unreported() => {
                    Box::pin(self.report_activity()).await;
                    Ok(())
                }
                next = mailbox.recv(), if heard.live => match next {
                    Next::Event(event) => self.on_event(&event).await,
                    Next::Behind(skipped) => Box::pin(self.catch_up(skipped)).await,
                    Next::Closed => Err(End::Close(1013, "the connection stopped reading; reconnect to catch up")),
                },
                turn = self.held.next(), if !self.held.is_empty() => match turn {
                    Turn::Go(send) => Box::pin(self.store_send(send)).await,
                    Turn::Refuse(send) => Box::pin(self.refuse_held(send)).await,
                },
                Some(frame) = next_signal(&mut self.signals), if self.signals.is_some() => self.send(&frame).await,
                _ = keep_call.tick(), if self.call.is_some() => Box::pin(self.keep_call()).await,
                _ = recheck.tick() => Box::pin(self.recheck()).await.map(drop),
                _ = async { closing.wait_for(|closing| *closing).await.map(drop) } => {
                    Err(End::Close(close::GOING_AWAY, "the server is restarting"))
                }
            };
            // Frames are queued, and written when nothing more is waiting: a
            // busy connection writes many frames per system call.
            unflushed += 1;
            if result.is_ok() && (!heard.live || mailbox.is_empty() || unflushed >= FLUSH_AFTER) {
                result = self.flush().await;
                unflushed = 0;
            }
        }
        if let Err(End::Close(code, reason)) = result {
            tracing::debug!(conn = self.id, code, reason, "closing websocket");
            let _ = in_time(self.state.config.ws_write_timeout, self.socket.send(close_message(code, reason))).await;
        }
    }

    async fn on_received(&mut self, frame: Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>, heard: &mut Heard) -> Result<(), End> {
        let frame = match frame {
            Some(Ok(frame)) => frame,
            _ => return Err(End::Gone),
        };
        heard.since_ping = true;
        if matches!(frame, WsMessage::Pong(_)) {
            return Ok(());
        }
        heard.live = true;
        self.on_frame(frame).await
    }

    /// Pings the client, or closes the connection when nothing came from it
    /// since the last ping. The loop may have been busy meanwhile (a send
    /// waiting on a slow store) while the answer sat unread: a frame that
    /// has already arrived is read first.
    async fn on_ping_due(&mut self, heard: &mut Heard) -> Result<(), End> {
        if !heard.since_ping {
            match self.socket.next().now_or_never() {
                Some(frame) => self.on_received(frame, heard).await?,
                None => return Err(End::Close(close::GOING_AWAY, "no answer to pings")),
            }
        }
        heard.since_ping = false;
        self.feed(WsMessage::Ping(Default::default())).await
    }

    /// The first frame: who the client is, on which node and protocol.
    async fn hello(&mut self) -> Result<(), End> {
        let hello = ServerFrame::Hello {
            protocol_version: PROTOCOL_VERSION,
            user_id: self.user.user_id.clone(),
            node_id: self.state.config.node_id.clone(),
        };
        self.send(&hello).await
    }

    /// Where the media task is to send this session's room frames.
    fn signals(&mut self) -> mpsc::Sender<ServerFrame> {
        self.signals.get_or_insert_with(|| mpsc::channel(crate::sfu::SIGNALS)).0.clone()
    }

    /// Queues a frame; the serve loop flushes.
    async fn send(&mut self, frame: &ServerFrame) -> Result<(), End> {
        let text = serde_json::to_string(frame).expect("frames serialize");
        self.feed(WsMessage::Text(text.into())).await
    }

    /// Queues a message; writes to the socket when its buffer is full.
    async fn feed(&mut self, message: WsMessage) -> Result<(), End> {
        in_time(self.state.config.ws_write_timeout, self.socket.feed(message)).await
    }

    async fn flush(&mut self) -> Result<(), End> {
        in_time(self.state.config.ws_write_timeout, self.socket.flush()).await
    }

    async fn error(&mut self, code: WsErrorCode, message: impl Into<String>, client_id: Option<String>) -> Result<(), End> {
        self.error_after(code, message, client_id, None).await
    }

    /// An error frame; with `retry_after`, telling the client when to try again.
    async fn error_after(
        &mut self,
        code: WsErrorCode,
        message: impl Into<String>,
        client_id: Option<String>,
        retry_after: Option<Duration>,
    ) -> Result<(), End> {
        let retry_after_ms = retry_after.map(|after| after.as_millis() as u64);
        self.send(&ServerFrame::Error { code, message: message.into(), client_id, retry_after_ms }).await
    }

    /// Answers a refused chat request with its error frame.
    async fn chat_error(&mut self, e: ChatError, client_id: Option<String>) -> Result<(), End> {
        if let ChatError::Store(e) = &e {
            tracing::warn!(error = %e, "websocket request failed in the store");
        }
        let wait = match e {
            ChatError::RateLimited { wait, .. } => Some(wait),
            _ => None,
        };
        self.error_after(e.ws_code(), e.ws_message(), client_id, wait).await
    }

    /// Refuses a send the node held too long: the client sends it again later.
    async fn refuse_held(&mut self, send: crate::chat::Outgoing) -> Result<(), End> {
        let (why, after) = ("the server is busy delivering; send again shortly", Pressure::retry_after(self.id));
        self.error_after(WsErrorCode::Retry, why, Some(send.client_id), Some(after)).await
    }
}

/// A write that must finish within `limit`: a client that stops reading is
/// dropped (it resumes when it comes back) instead of holding its session
/// and its mailbox for ever.
async fn in_time<E>(limit: Duration, write: impl Future<Output = Result<(), E>>) -> Result<(), End> {
    match tokio::time::timeout(limit, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => {
            metrics::counter!("natter_ws_write_timeouts_total").increment(1);
            Err(End::Gone)
        }
    }
}

/// The next room frame, once the session has a signals channel.
async fn next_signal(signals: &mut Option<(mpsc::Sender<ServerFrame>, mpsc::Receiver<ServerFrame>)>) -> Option<ServerFrame> {
    signals.as_mut()?.1.recv().await
}

fn close_message(code: u16, reason: &'static str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame { code: code.into(), reason: reason.into() }))
}
