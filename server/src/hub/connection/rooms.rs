//! A connection's room frames (group calls, live broadcasts): checked here
//! (sizes, membership in the store) before the media task sees them.

use app::{
    model::ConversationId,
    protocol::{ServerFrame, WsErrorCode},
    room::{RoomKind, RoomRole, MAX_SDP_BYTES},
};

use super::{Connection, End};
use crate::sfu::{rooms::RoomKey, Command, RoomError};

impl Connection {
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
        match self.state.store.member(&conversation_id, &self.user.user_id).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return self.error(WsErrorCode::NotMember, "you are not a member of this conversation", None).await
            }
            Err(e) => return self.store_error(e, None).await,
        }
        let key = RoomKey { conversation: conversation_id.clone(), kind };
        let (user, conn, signals) = (self.user.user_id.clone(), self.id, self.signals.clone());
        let answer = self
            .state
            .sfu
            .ask(|reply| Command::Join { key, user, conn, role, video, offer: sdp, signals, reply })
            .await;
        match answer {
            Some(Ok(sdp)) => self.send(&ServerFrame::RoomJoined { conversation_id, kind, sdp }).await,
            Some(Err(refused)) => self.room_error(refused).await,
            None => self.error(WsErrorCode::Internal, "the media relay has stopped", None).await,
        }
    }

    pub(super) async fn on_room_answer(&mut self, conversation: ConversationId, kind: RoomKind, answer: String) -> Result<(), End> {
        if answer.len() > MAX_SDP_BYTES {
            return self.error(WsErrorCode::BadSdp, format!("an SDP holds at most {MAX_SDP_BYTES} bytes"), None).await;
        }
        let (key, conn) = (RoomKey { conversation, kind }, self.id);
        match self.state.sfu.ask(|reply| Command::Answer { key, conn, answer, reply }).await {
            Some(Ok(())) | None => Ok(()),
            Some(Err(refused)) => self.room_error(refused).await,
        }
    }

    pub(super) async fn on_room_leave(&mut self, conversation: ConversationId, kind: RoomKind) -> Result<(), End> {
        let (key, conn) = (RoomKey { conversation, kind }, self.id);
        match self.state.sfu.ask(|reply| Command::Leave { key, conn, reply }).await {
            Some(Ok(())) | None => Ok(()),
            Some(Err(refused)) => self.room_error(refused).await,
        }
    }

    /// Tells a new connection about the rooms in progress in its conversations.
    pub(super) async fn rooms_in_progress(&mut self) -> Result<(), End> {
        let conversations = self.conversations.iter().cloned().collect();
        let rooms = self.state.sfu.ask(|reply| Command::InProgress { conversations, reply }).await.unwrap_or_default();
        for room in rooms {
            self.send(&ServerFrame::Room { room }).await?;
        }
        Ok(())
    }

    async fn room_error(&mut self, refused: RoomError) -> Result<(), End> {
        self.error(refused.code, refused.message, None).await
    }
}
