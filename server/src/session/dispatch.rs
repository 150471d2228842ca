//! Which handler takes each frame from the client and each event from the hub.

use tokio_tungstenite::tungstenite::Message as WsMessage;
use wire::{
    model::ConversationId,
    protocol::{close, ClientFrame, NoticeKind, ServerFrame, WsErrorCode, MAX_FRAME_BYTES},
};

use super::{End, Session, ACTIVITY_EVERY};
use crate::{
    chat::Outgoing,
    hub::{Delivery, HubEvent},
    presence::tally::Change,
    ratelimit::budgets::Action,
};

impl Session {
    pub(super) async fn on_frame(&mut self, frame: WsMessage) -> Result<(), End> {
        let text = match frame {
            WsMessage::Text(text) => text,
            WsMessage::Close(_) => return Err(End::Gone),
            WsMessage::Binary(_) => return self.error(WsErrorCode::BadFrame, "frames are JSON text", None).await,
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => return Ok(()),
        };
        if text.len() > MAX_FRAME_BYTES {
            return self.error(WsErrorCode::FrameTooLarge, format!("frames are at most {MAX_FRAME_BYTES} bytes"), None).await;
        }
        let frame = match serde_json::from_str::<ClientFrame>(text.as_str()) {
            Ok(frame) => frame,
            Err(e) => return self.error(WsErrorCode::BadFrame, format!("not a frame: {e}"), None).await,
        };
        match frame {
            ClientFrame::Send { conversation_id, client_id, kind, content, attachment, target, reply_to, mentions } => {
                self.on_send(Outgoing { conversation_id, client_id, kind, content, attachment, target, reply_to, mentions })
                    .await
            }
            ClientFrame::Resume { positions } => self.on_resume(positions).await,
            ClientFrame::Read { conversation_id, seq } => self.on_read(conversation_id, seq).await,
            ClientFrame::Delivered { conversation_id, seq } => self.on_delivered(conversation_id, seq).await,
            ClientFrame::Ping => self.on_ping().await,
            ClientFrame::Activity { active } => self.on_activity(active).await,
            ClientFrame::Viewing { conversation_id } => self.on_viewing(conversation_id).await,
            ClientFrame::Typing { conversation_id } => self.on_typing(conversation_id).await,
            // 1:1 calls.
            ClientFrame::CallInvite { conversation_id, callee_id, media } => {
                self.on_call_invite(conversation_id, callee_id, media).await
            }
            ClientFrame::CallAccept { call_id } => self.on_call_accept(call_id).await,
            ClientFrame::CallDecline { call_id } => self.on_call_decline(call_id).await,
            ClientFrame::CallHangup { call_id } => self.on_call_hangup(call_id).await,
            ClientFrame::CallSignal { call_id, signal } => self.on_call_signal(call_id, signal).await,
            ClientFrame::CallRejoin { call_id } => self.on_call_rejoin(call_id).await,
            // Group calls and live broadcasts (the selective forwarding unit).
            ClientFrame::RoomJoin { conversation_id, kind, role, video, sdp } => {
                self.on_room_join(conversation_id, kind, role, video, sdp).await
            }
            ClientFrame::RoomAnswer { conversation_id, kind, sdp } => self.on_room_answer(conversation_id, kind, sdp).await,
            ClientFrame::RoomLeave { conversation_id, kind } => self.on_room_leave(conversation_id, kind).await,
        }
    }

    /// Handles an event of the hub. What is rare and awaits much (the store,
    /// calls) is boxed: an idle session's task holds room for the largest
    /// future it may await, for as long as the connection lasts.
    pub(super) async fn on_event(&mut self, delivery: &Delivery) -> Result<(), End> {
        match &delivery.event {
            HubEvent::Message { .. } => self.deliver(delivery).await,
            HubEvent::Joined { conversation_id, user_id } => {
                if *user_id == self.user.user_id {
                    self.conversations.insert(conversation_id.clone());
                }
                Box::pin(self.notice(conversation_id, user_id, NoticeKind::Join)).await
            }
            HubEvent::Left { conversation_id, user_id } => {
                if *user_id == self.user.user_id {
                    self.cursors.forget(conversation_id);
                    self.conversations.remove(conversation_id);
                    Box::pin(self.state.sfu.cut_off(conversation_id.clone(), user_id.clone())).await;
                }
                Box::pin(self.notice(conversation_id, user_id, NoticeKind::Leave)).await
            }
            HubEvent::Presence { user_id, .. } | HubEvent::Typing { user_id, .. }
                if *user_id == self.user.user_id || self.kept_apart.contains(user_id) =>
            {
                Ok(())
            }
            HubEvent::Blocks { .. } => {
                if let Ok(users) = Box::pin(self.state.chat.kept_apart(&self.user.user_id)).await {
                    self.kept_apart = users;
                }
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
                Box::pin(self.notice(conversation_id, user_id, NoticeKind::Invite)).await
            }
            HubEvent::Updated { conversation_id, user_id } => {
                Box::pin(self.notice(conversation_id, user_id, NoticeKind::Update)).await
            }
            HubEvent::Read { conversation_id, seq, shown, .. } => {
                self.send(&ServerFrame::Read { conversation_id: conversation_id.clone(), seq: *seq, shown: *shown }).await
            }
            HubEvent::Receipt { conversation_id, receipt, .. } => {
                self.send(&ServerFrame::Receipt { conversation_id: conversation_id.clone(), receipt: receipt.clone() }).await
            }
            HubEvent::SignedOut { close_code, .. } => Err(End::Close(
                *close_code,
                if *close_code == close::SIGNED_IN_AGAIN { "signed in again on this device" } else { "signed out" },
            )),
            HubEvent::CallRing { .. }
            | HubEvent::CallAnswered { .. }
            | HubEvent::CallRejoined { .. }
            | HubEvent::CallSignal { .. }
            | HubEvent::CallEnded { .. } => Box::pin(self.on_call_event(&delivery.event)).await,
            // Group calls and live broadcasts (the selective forwarding unit).
            HubEvent::Room { update } => self.send(&ServerFrame::Room { room: update.clone() }).await,
        }
    }

    /// The client says whether the person is using this device: told to the
    /// presence at once, or at the end of the current [`ACTIVITY_EVERY`].
    async fn on_activity(&mut self, active: bool) -> Result<(), End> {
        self.active = active;
        self.report_if_due().await;
        Ok(())
    }

    /// The client says which conversation it shows, visible and focused:
    /// told like activity. One the user is not in counts as none.
    async fn on_viewing(&mut self, conversation: Option<ConversationId>) -> Result<(), End> {
        self.viewing = conversation.filter(|c| self.conversations.contains(c));
        self.report_if_due().await;
        Ok(())
    }

    async fn report_if_due(&mut self) {
        if self.unreported() && tokio::time::Instant::now() >= self.next_activity_report {
            self.report_activity().await;
        }
    }

    /// The conversation in view as pushes count it: none while the person is idle.
    fn in_view(&self) -> Option<&ConversationId> {
        self.viewing.as_ref().filter(|_| self.active)
    }

    /// Whether the presence tracker has yet to hear of a change.
    pub(super) fn unreported(&self) -> bool {
        self.active != self.reported_active || self.in_view() != self.reported_viewing.as_ref()
    }

    /// Tells the presence tracker the client's latest activity and view,
    /// unless the user's activity budget is spent: then it is told when
    /// there is one again.
    pub(super) async fn report_activity(&mut self) {
        if let Err(wait) = self.state.budgets.spend(Action::Activity, &self.user.user_id).await {
            self.next_activity_report = tokio::time::Instant::now() + wait;
            return;
        }
        self.next_activity_report = tokio::time::Instant::now() + ACTIVITY_EVERY;
        let user = &self.user.user_id;
        if self.active != self.reported_active {
            self.reported_active = self.active;
            self.state.presence.change(user, Change::Activity { active: self.active }).await;
        }
        let in_view = self.in_view().cloned();
        if in_view != self.reported_viewing {
            self.state.presence.view(user, self.reported_viewing.as_ref(), in_view.as_ref()).await;
            self.reported_viewing = in_view;
        }
    }
}
