//! Friendships, kept as one link per side: each user's view of the other
//! (request sent, request received, friends). The accounts layer changes both
//! sides; the store only keeps links.

mod embedded;
mod mongodb;

use async_trait::async_trait;
use wire::model::{Millis, UserId};

use super::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// The owner asked the other to be friends.
    Outgoing,
    /// The other asked the owner.
    Incoming,
    Friends,
    /// The owner blocked the other (whatever the other did).
    Blocked,
    /// The other blocked the owner. Kept on the owner's side so that one
    /// look-up tells either; never shown to the owner.
    BlockedBy,
}

impl LinkState {
    pub fn code(self) -> i32 {
        match self {
            LinkState::Outgoing => 1,
            LinkState::Incoming => 2,
            LinkState::Friends => 3,
            LinkState::Blocked => 4,
            LinkState::BlockedBy => 5,
        }
    }

    /// Whether the link stands for a block, either way.
    pub fn is_block(self) -> bool {
        matches!(self, LinkState::Blocked | LinkState::BlockedBy)
    }

    pub fn from_code(code: i32) -> Option<LinkState> {
        [LinkState::Outgoing, LinkState::Incoming, LinkState::Friends, LinkState::Blocked, LinkState::BlockedBy]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

/// The owner's view of one other user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FriendLink {
    pub owner: UserId,
    pub other: UserId,
    pub state: LinkState,
    pub since_ms: Millis,
}

#[async_trait]
pub trait FriendRepo {
    /// Creates or replaces the owner's link to the other user.
    async fn put_link(&self, link: &FriendLink) -> Result<(), StoreError>;

    async fn link(&self, owner: &UserId, other: &UserId) -> Result<Option<FriendLink>, StoreError>;

    /// All of the owner's links, oldest first.
    async fn links_of(&self, owner: &UserId) -> Result<Vec<FriendLink>, StoreError>;

    async fn remove_link(&self, owner: &UserId, other: &UserId) -> Result<(), StoreError>;
}
