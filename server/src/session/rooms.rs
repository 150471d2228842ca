//! A session's room frames (group calls, live broadcasts): checked here
//! (sizes, membership) before the media task sees them, on this node or on
//! the node hosting the room.

use wire::{
    model::ConversationId,
    protocol::{ServerFrame, WsErrorCode},
    room::{RoomKind, RoomRole, MAX_SDP_BYTES},
};

use super::{End, Session};
use crate::{
    ratelimit::budgets::Action,
    sfu::{
        rooms::{Guest, RoomKey},
        RoomError,
    },
};

impl Session {
    pub(super) async fn on_room_join(
        &mut self,
        conversation_id: ConversationId,
        kind: RoomKind,
        role: RoomRole,
        video: bool,
        sdp: String,
    ) -> Result<(), End> {
        if sdp.len() > MAX_SDP_BYTES {
            return self.error(WsErrorCode::BadSdp, format!("an SDP holds at most {MAX_SDP_BYTES} bytes"), None).await;
        }
        if let Err(e) = self.state.chat.require_member(&conversation_id, &self.user.user_id).await {
            return self.chat_error(e, None).await;
        }
        // Every join and leave is told to all members; a room that ends is recorded.
        if self.state.budgets.spend(Action::RoomJoin, &self.user.user_id).await.is_err() {
            return self.error(WsErrorCode::RoomRateLimited, "joining rooms too often; wait a moment", None).await;
        }
        let key = RoomKey { conversation: conversation_id.clone(), kind };
        let guest = Guest { user: self.user.user_id.clone(), conn: self.id, role, video };
        let signals = self.signals();
        match self.state.sfu.join(key, guest, sdp, signals).await {
            Ok(sdp) => self.send(&ServerFrame::RoomJoined { conversation_id, kind, sdp }).await,
            Err(refused) => self.room_error(refused).await,
        }
    }

    pub(super) async fn on_room_answer(&mut self, conversation: ConversationId, kind: RoomKind, answer: String) -> Result<(), End> {
        if answer.len() > MAX_SDP_BYTES {
            return self.error(WsErrorCode::BadSdp, format!("an SDP holds at most {MAX_SDP_BYTES} bytes"), None).await;
        }
        let result = self.state.sfu.answer(RoomKey { conversation, kind }, self.id, answer).await;
        self.room_result(result).await
    }

    pub(super) async fn on_room_leave(&mut self, conversation: ConversationId, kind: RoomKind) -> Result<(), End> {
        let result = self.state.sfu.leave(RoomKey { conversation, kind }, self.id).await;
        self.room_result(result).await
    }

    /// Tells a new connection about the rooms in progress in its conversations.
    pub(super) async fn in_progress(&mut self) -> Result<(), End> {
        let conversations = self.conversations.iter().cloned().collect();
        for room in self.state.sfu.in_progress(conversations).await {
            self.send(&ServerFrame::Room { room }).await?;
        }
        // A call ringing for this user rings here too: the tab may have been opened from its push.
        if let Some(call) = self.state.calls.ringing_for(&self.user.user_id).await {
            self.send(&ServerFrame::CallIncoming { call }).await?;
        }
        Ok(())
    }

    async fn room_result(&mut self, result: Result<(), RoomError>) -> Result<(), End> {
        match result {
            Ok(()) => Ok(()),
            Err(refused) => self.room_error(refused).await,
        }
    }

    async fn room_error(&mut self, refused: RoomError) -> Result<(), End> {
        self.error(refused.code, refused.message, None).await
    }
}
