//! A session's chat frames, each a call of [`crate::chat::Chat`], and the
//! ordered delivery of messages through the session's cursors.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use tokio_tungstenite::tungstenite::Message as WsMessage;
use wire::{
    model::{ConversationId, UserId},
    protocol::{
        close, NoticeKind, Position, ServerFrame, WsErrorCode, MAX_REPLAY_PER_CONVERSATION, MAX_REPLAY_PER_RESUME,
        MAX_RESUME_POSITIONS,
    },
};

use super::{cursor::Step, End, Session};
use crate::{
    auth::SessionState,
    chat::Outgoing,
    clock::now_millis,
    hub::{Delivery, HubEvent},
    ratelimit::budgets::Action,
};

/// Typing frames a session passes on per conversation: one per this period.
const TYPING_EVERY: Duration = Duration::from_secs(2);

impl Session {
    /// Stores a send now, or holds it while the node's readers are behind.
    pub(super) async fn on_send(&mut self, message: Outgoing) -> Result<(), End> {
        if !self.held.must_wait() {
            return self.store_send(message).await;
        }
        match self.held.hold(message) {
            Ok(()) => Ok(()),
            Err(message) => self.refuse_held(message).await,
        }
    }

    pub(super) async fn store_send(&mut self, message: Outgoing) -> Result<(), End> {
        let (conversation, client_id) = (message.conversation_id.clone(), message.client_id.clone());
        match self.state.chat.send(&self.user.user_id, message).await {
            Ok(sent) => {
                // The message ends this bout of typing: the next keystroke is passed on at once.
                self.typed.remove(&conversation);
                let m = sent.message;
                // The request's client id: a change that was already so is acked with an older entry.
                let ack = ServerFrame::Ack {
                    client_id,
                    conversation_id: m.conversation_id,
                    seq: m.seq,
                    shown: m.shown,
                    message_id: m.id,
                    duplicate: sent.duplicate,
                    content: sent.changed,
                };
                self.send(&ack).await
            }
            Err(e) => self.chat_error(e, Some(client_id)).await,
        }
    }

    /// The client has each conversation up to its position: sends what
    /// follows, at most [`MAX_REPLAY_PER_CONVERSATION`] messages of each and
    /// [`MAX_REPLAY_PER_RESUME`] in all, in the order the client named them;
    /// what is left out is announced as skipped. A conversation named twice
    /// is caught up once, from the lower position.
    pub(super) async fn on_resume(&mut self, positions: Vec<Position>) -> Result<(), End> {
        if positions.len() > MAX_RESUME_POSITIONS {
            let why = format!("a resume names at most {MAX_RESUME_POSITIONS} conversations");
            return self.error(WsErrorCode::BadRequest, why, None).await;
        }
        if self.state.budgets.spend(Action::Resume, &self.user.user_id).await.is_err() {
            return self.error(WsErrorCode::RateLimited, "resuming too often; slow down", None).await;
        }
        let mut lowest: Vec<(ConversationId, u64)> = Vec::with_capacity(positions.len());
        let mut index: HashMap<ConversationId, usize> = HashMap::with_capacity(positions.len());
        for Position { conversation_id, seq } in positions {
            match index.get(&conversation_id) {
                Some(&i) => lowest[i].1 = lowest[i].1.min(seq),
                None => {
                    index.insert(conversation_id.clone(), lowest.len());
                    lowest.push((conversation_id, seq));
                }
            }
        }
        let mut allowance = MAX_REPLAY_PER_RESUME;
        for (conversation_id, seq) in lowest {
            if let Err(e) = self.state.chat.require_member(&conversation_id, &self.user.user_id).await {
                self.chat_error(e, None).await?;
                continue;
            }
            // When the store cannot say, the fill (which fails too) is retried by the next message.
            let last = self.state.chat.last_seq(&conversation_id).await.unwrap_or(seq);
            let upto = last.max(seq);
            let skipped = self.cursors.resume_within(&conversation_id, seq, upto, allowance.min(MAX_REPLAY_PER_CONVERSATION));
            if let Some(upto) = skipped {
                self.send(&ServerFrame::Skipped { conversation_id: conversation_id.clone(), upto }).await?;
            }
            allowance -= upto - skipped.unwrap_or(seq);
            self.fill(&conversation_id, upto).await?;
        }
        Ok(())
    }

    pub(super) async fn on_read(&mut self, conversation: ConversationId, seq: u64) -> Result<(), End> {
        match self.state.chat.mark_read(&conversation, &self.user.user_id, seq).await {
            Ok(seq) => {
                self.state.pushes.read(self.user.user_id.clone(), conversation, seq);
                Ok(())
            }
            Err(e) => self.chat_error(e, None).await,
        }
    }

    pub(super) async fn on_delivered(&mut self, conversation: ConversationId, seq: u64) -> Result<(), End> {
        match self.state.chat.delivered(&conversation, &self.user.user_id, seq).await {
            Ok(()) => Ok(()),
            Err(e) => self.chat_error(e, None).await,
        }
    }

    /// Passes typing on to the conversation, at most once per [`TYPING_EVERY`].
    pub(super) async fn on_typing(&mut self, conversation: ConversationId) -> Result<(), End> {
        let now = Instant::now();
        if self.typed.get(&conversation).is_some_and(|at| now.duration_since(*at) < TYPING_EVERY) {
            return Ok(());
        }
        match self.state.chat.typing(&conversation, &self.user.user_id).await {
            Ok(()) => {
                self.typed.insert(conversation, now);
                Ok(())
            }
            Err(e) => self.chat_error(e, None).await,
        }
    }

    /// Keep-alive: checks that the device is still signed in with this token
    /// (in case a sign-out event from another node was missed) and records
    /// the activity, which keeps the device's session, and so its token, alive.
    pub(super) async fn on_ping(&mut self) -> Result<(), End> {
        if self.recheck().await? {
            let (user, device_id) = (&self.user.user_id, &self.user.device_id);
            if let Err(e) = self.state.store.touch_device(user, device_id, now_millis()).await {
                tracing::debug!(error = %e, "could not record websocket activity");
            }
        }
        self.send(&ServerFrame::Pong).await
    }

    /// Whether the device session this socket was opened on still stands
    /// (false: the store cannot tell now; the next check asks again); ends
    /// the session when it does not. The serve loop calls it every
    /// `--session-recheck-secs`, so a sign-out whose event never reached this
    /// node still closes the socket.
    pub(super) async fn recheck(&mut self) -> Result<bool, End> {
        match self.state.auth.session_state(&self.user).await {
            Ok(SessionState::Alive) => Ok(true),
            Ok(SessionState::Replaced) => Err(End::Close(close::SIGNED_IN_AGAIN, "signed in again on this device")),
            Ok(SessionState::Ended) => Err(End::Close(close::SIGNED_OUT, "signed out")),
            Err(_) => Ok(false),
        }
    }

    pub(super) async fn notice(&mut self, conversation: &ConversationId, user: &UserId, notice: NoticeKind) -> Result<(), End> {
        let frame = ServerFrame::Notice { conversation_id: conversation.clone(), user_id: user.clone(), notice };
        self.send(&frame).await
    }

    /// Delivers a live message in order: skipped if seen, after the missing
    /// ones if it leaves a gap.
    pub(super) async fn deliver(&mut self, delivery: &Delivery) -> Result<(), End> {
        let HubEvent::Message { message } = &delivery.event else { return Ok(()) };
        let conversation = &message.conversation_id;
        // A repair is for clients that follow the sequence; one that does not
        // starts at its next live message, as it would have.
        if delivery.repair && !self.cursors.follows(conversation) {
            return Ok(());
        }
        let step = match self.cursors.offer(conversation, message.seq) {
            Step::Fill { upto, .. } => {
                Box::pin(self.fill(conversation, upto)).await?;
                self.cursors.offer(conversation, message.seq)
            }
            step => step,
        };
        // Seen already, or still missing some (the store failed): the next
        // message or resume fills them.
        if step != Step::Send {
            return Ok(());
        }
        let frame = delivery.message_frame().expect("a message event has a message frame");
        self.feed(WsMessage::Text(frame)).await
    }

    /// The mailbox skipped messages of these conversations, from the seq
    /// given, while the client was behind: fills each from the store in
    /// order, to its end. One the user left meanwhile is not filled; when
    /// the store cannot say, the next message of the conversation fills it.
    pub(super) async fn catch_up(&mut self, skipped: Vec<(ConversationId, u64)>) -> Result<(), End> {
        for (conversation, from) in skipped {
            if !self.conversations.contains(&conversation) {
                continue;
            }
            self.cursors.start_before(&conversation, from);
            let Ok(last) = self.state.chat.last_seq(&conversation).await else { continue };
            self.fill(&conversation, last).await?;
        }
        Ok(())
    }

    /// Sends the stored messages after the cursor, up to `upto`.
    async fn fill(&mut self, conversation: &ConversationId, upto: u64) -> Result<(), End> {
        while let Some(after) = self.cursors.fill_from(conversation, upto) {
            let page = match self.state.chat.messages_after(conversation, after).await {
                Ok(page) => page,
                Err(e) => {
                    // The client keeps its position; the next message or resume retries.
                    tracing::warn!(error = %e, %conversation, "cannot catch a connection up");
                    return Ok(());
                }
            };
            let full = page.len() == crate::store::messages::MAX_PAGE as usize;
            for message in page.into_iter().take_while(|m| m.seq <= upto) {
                if self.cursors.filled(conversation, message.seq) {
                    self.send(&ServerFrame::Message { message }).await?;
                }
            }
            if !full {
                return Ok(());
            }
        }
        Ok(())
    }
}
