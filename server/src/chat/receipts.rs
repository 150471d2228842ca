//! Receipts: how far the other members have received and read. Each member
//! has one delivered and one read position per conversation (see
//! `store::conversations`), never a row per message, so a receipt costs one
//! update however many messages it covers, and "seen by N" is a comparison.
//!
//! Receipts go only between members who both send them (`Privacy.read_receipts`):
//! who turns them off sends none and sees none. They are kept for private
//! chats and for groups up to `--receipts-group-limit` members; beyond
//! that they would cost every read a fan-out to a crowd.

use wire::{
    api::{Receipt, Receipts},
    model::{ConversationId, UserId},
};

use super::{Chat, ChatError};
use crate::{
    hub::HubEvent,
    ratelimit::budgets::Action,
    store::{conversations::Membership, StoreError},
};

impl Chat {
    /// One of the user's devices has the conversation up to `seq` (clamped to
    /// its newest entry): records it, and tells those who see receipts when
    /// the position moved.
    pub async fn delivered(&self, conversation: &ConversationId, user: &UserId, seq: u64) -> Result<(), ChatError> {
        self.spend(Action::Receipts, user, "delivery receipts too often; slow down").await?;
        let member = self.require_member(conversation, user).await?;
        let seq = seq.min(self.store.last_seq(conversation).await?);
        // The stored delivered position is never below the read one.
        if seq > member.delivered_seq && self.store.mark_delivered(conversation, user, seq).await? {
            self.receipt_moved(&member, seq, member.read_seq).await;
        }
        Ok(())
    }

    /// The other members' receipts, for a member who sends receipts, in a
    /// private chat or a group within the limit.
    pub async fn receipts(&self, conversation: &ConversationId, user: &UserId) -> Result<Receipts, ChatError> {
        self.spend(Action::Receipts, user, "asking for receipts too often; slow down").await?;
        self.require_member(conversation, user).await?;
        if !self.store.privacy(user).await?.read_receipts {
            return Err(ChatError::ReceiptsOff);
        }
        let others = self.receipt_peers(conversation, user).await?.ok_or(ChatError::GroupTooLargeForReceipts)?;
        Ok(Receipts { receipts: others.iter().map(receipt_of).collect() })
    }

    /// Tells the members who see receipts that `mover`'s positions are now
    /// `delivered_seq` and `read_seq`, if `mover` sends receipts. The
    /// position is stored already: a failure here costs a live update only.
    pub(super) async fn receipt_moved(&self, mover: &Membership, delivered_seq: u64, read_seq: u64) {
        let to = match self.receipt_audience(mover).await {
            Ok(to) if !to.is_empty() => to,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, conversation = %mover.conversation_id, "could not pass a receipt on");
                return;
            }
        };
        let receipt = Receipt { user_id: mover.user_id.clone(), delivered_seq, read_seq };
        self.fanout.publish(HubEvent::Receipt { conversation_id: mover.conversation_id.clone(), receipt, to }).await;
    }

    /// Who hears of `mover`'s receipt: nobody when `mover` sends none or the
    /// group is over the limit, else the others who send them.
    async fn receipt_audience(&self, mover: &Membership) -> Result<Vec<UserId>, StoreError> {
        if !self.store.privacy(&mover.user_id).await?.read_receipts {
            return Ok(Vec::new());
        }
        let others = self.receipt_peers(&mover.conversation_id, &mover.user_id).await?.unwrap_or_default();
        Ok(others.into_iter().map(|m| m.user_id).collect())
    }

    /// The members other than `me` who send receipts and are not kept
    /// apart from `me` by a block (either way); `None` for a group over the
    /// limit (told from one bounded read, not by reading it all).
    async fn receipt_peers(&self, conversation: &ConversationId, me: &UserId) -> Result<Option<Vec<Membership>>, StoreError> {
        let limit = self.limits.receipts_group_limit;
        let members = self.store.first_members(conversation, u32::try_from(limit + 1).unwrap_or(u32::MAX)).await?;
        if members.len() > limit {
            return Ok(None);
        }
        let links = self.store.links_of(me).await?;
        let apart: Vec<UserId> = links.into_iter().filter(|l| l.state.is_block()).map(|l| l.other).collect();
        let others: Vec<Membership> = members.into_iter().filter(|m| m.user_id != *me && !apart.contains(&m.user_id)).collect();
        let ids: Vec<UserId> = others.iter().map(|m| m.user_id.clone()).collect();
        let off = self.store.receipts_off(&ids).await?;
        Ok(Some(others.into_iter().filter(|m| !off.contains(&m.user_id)).collect()))
    }
}

fn receipt_of(member: &Membership) -> Receipt {
    Receipt { user_id: member.user_id.clone(), delivered_seq: member.delivered_seq, read_seq: member.read_seq }
}
