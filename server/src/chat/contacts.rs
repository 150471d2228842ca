//! Who may reach whom. A block (either way) refuses everything direct;
//! friends reach each other; anyone else may only ask — a private chat or a
//! group invitation that waits among the other's invitations — unless the
//! other takes nothing from strangers (`ContactPolicy::Friends`).

use std::collections::HashSet;

use wire::{
    api::{ContactPolicy, PublicProfile},
    model::{Conversation, ConversationId, UserId},
};

use super::{Chat, ChatError, NO_SUCH_USER};
use crate::{
    clock::now_millis,
    hub::HubEvent,
    store::friends::{FriendLink, LinkState},
};

/// How one user may reach another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Add them, message them, call them.
    Direct,
    /// Ask: they see an invitation and decide.
    Ask,
    Refused,
}

impl Chat {
    /// How `from` may reach `to`.
    pub async fn reach(&self, from: &UserId, to: &UserId) -> Result<Reach, ChatError> {
        match self.store.link(from, to).await?.map(|l| l.state) {
            Some(state) if state.is_block() => return Ok(Reach::Refused),
            Some(LinkState::Friends) => return Ok(Reach::Direct),
            _ => {}
        }
        Ok(match self.store.privacy(to).await?.contact {
            ContactPolicy::Everyone => Reach::Ask,
            ContactPolicy::Friends => Reach::Refused,
        })
    }

    /// Refuses when either of the two blocked the other.
    pub async fn require_unblocked(&self, from: &UserId, to: &UserId) -> Result<(), ChatError> {
        match self.store.link(from, to).await? {
            Some(link) if link.state.is_block() => Err(ChatError::NotAccepting),
            _ => Ok(()),
        }
    }

    /// For a message or call in a private chat: refuses when either blocked the other.
    pub async fn require_unblocked_in(&self, conversation: &ConversationId, from: &UserId) -> Result<(), ChatError> {
        match Conversation::private_peer(conversation, from) {
            Some(peer) => self.require_unblocked(from, &peer).await,
            None => Ok(()),
        }
    }

    /// `me` blocks `other`: no message, call, invitation or friend request
    /// from either reaches the other, and neither sees the other's presence.
    /// Any friendship or request between them ends.
    pub async fn block(&self, me: &UserId, other: &UserId) -> Result<(), ChatError> {
        if me == other {
            return Err(ChatError::invalid("user_id", "you cannot block yourself"));
        }
        self.store.user_by_id(other).await?.ok_or(NO_SUCH_USER)?;
        let theirs = match self.store.link(other, me).await?.map(|l| l.state) {
            Some(LinkState::Blocked) => LinkState::Blocked,
            _ => LinkState::BlockedBy,
        };
        let now = now_millis();
        let link = |owner: &UserId, other: &UserId, state| FriendLink { owner: owner.clone(), other: other.clone(), state, since_ms: now };
        self.store.put_link(&link(other, me, theirs)).await?;
        self.store.put_link(&link(me, other, LinkState::Blocked)).await?;
        self.blocks_changed(me, other).await;
        Ok(())
    }

    /// Lifts `me`'s block of `other` (theirs of `me`, if any, stays).
    pub async fn unblock(&self, me: &UserId, other: &UserId) -> Result<(), ChatError> {
        if self.store.link(me, other).await?.map(|l| l.state) != Some(LinkState::Blocked) {
            return Err(ChatError::NotFound("you have not blocked this user"));
        }
        match self.store.link(other, me).await?.map(|l| l.state) {
            Some(LinkState::Blocked) => {
                let link = FriendLink { owner: me.clone(), other: other.clone(), state: LinkState::BlockedBy, since_ms: now_millis() };
                self.store.put_link(&link).await?;
            }
            _ => {
                self.store.remove_link(other, me).await?;
                self.store.remove_link(me, other).await?;
            }
        }
        self.blocks_changed(me, other).await;
        Ok(())
    }

    /// The users `me` blocked, oldest block first.
    pub async fn blocked(&self, me: &UserId) -> Result<Vec<PublicProfile>, ChatError> {
        let ids: Vec<UserId> =
            self.store.links_of(me).await?.into_iter().filter(|l| l.state == LinkState::Blocked).map(|l| l.other).collect();
        let mut users = self.store.users_by_ids(&ids).await?;
        users.sort_by_key(|u| ids.iter().position(|id| *id == u.id));
        Ok(users.iter().map(|u| u.public()).collect())
    }

    /// The users kept apart from `me` by a block, either way: their presence
    /// and typing are hidden from `me`, and they cannot find `me`.
    pub async fn kept_apart(&self, me: &UserId) -> Result<HashSet<UserId>, ChatError> {
        let links = self.store.links_of(me).await?;
        Ok(links.into_iter().filter(|l| l.state.is_block()).map(|l| l.other).collect())
    }

    async fn blocks_changed(&self, a: &UserId, b: &UserId) {
        for user_id in [a, b] {
            self.fanout.publish(HubEvent::Blocks { user_id: user_id.clone() }).await;
        }
    }
}
