//! Conversations (seed 000's `sessions`), their members with role and read
//! position, and invitations to invite-only groups.
//!
//! Receipts are positions too: each member has one `delivered_seq` (the
//! newest entry one of their devices received) beside `read_seq`, and one
//! `mention_seq` (the newest entry mentioning them). All three only move
//! forward (`MAX()`, `$max`), so racing devices and nodes cannot move them back.
//!
//! Unread counts are the newest message's shown number (see `messages`)
//! less the member's `read_shown`: no counting queries. The conversation's newest message is recorded only if it is newer
//! than the one recorded, so racing writers on several nodes cannot move it back.

pub(super) mod embedded;
pub(super) mod mongodb;

use async_trait::async_trait;
use wire::model::{
    Conversation, ConversationId, JoinPolicy, Millis, MessagePreview, Role, UserId, Visibility,
};

use super::StoreError;
use crate::text::search_fold::{directory_key, KeyQuery};

/// Most conversations one [`ConversationRepo::public_conversations`] page holds.
pub const MAX_DIRECTORY_PAGE: u32 = 100;
/// Most ids one [`ConversationRepo::conversation_ids_after`] page holds.
pub const MAX_ID_PAGE: u32 = 1000;

/// What the directory matches a group by, kept beside its name and
/// rewritten with it or its description: both folded.
fn search_key(name: &str, description: &str) -> String {
    directory_key([name, description])
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub role: Role,
    /// The highest sequence number this member has read.
    pub read_seq: u64,
    /// The shown number at `read_seq`.
    pub read_shown: u64,
    /// The highest sequence number one of the member's devices has received;
    /// never below `read_seq` (reading implies receiving).
    pub delivered_seq: u64,
    /// The newest sequence number whose message mentions this member; 0 if none.
    pub mention_seq: u64,
    pub joined_ms: Millis,
}

/// Whom a message mentions, for [`ConversationRepo::raise_mention_seq`].
#[derive(Clone, Copy, Debug)]
pub enum Mentioned<'a> {
    /// These members (bounded by the mention limit).
    Members(&'a [UserId]),
    /// `@all`: every member but the sender.
    AllBut(&'a UserId),
}

/// Changes to a conversation's settings; `None` fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConversationPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<Visibility>,
    pub join_policy: Option<JoinPolicy>,
}

/// What storing a batch of entries moves, for [`ConversationRepo::record_moves`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Moves {
    /// Each conversation's newest message in the batch.
    pub newest_messages: Vec<(ConversationId, MessagePreview)>,
    /// Each conversation's newest entry, where a change followed its newest message.
    pub newest_entries: Vec<(ConversationId, u64)>,
    /// Each sender's read position: (conversation, sender, seq, shown).
    pub read: Vec<(ConversationId, UserId, u64, u64)>,
}

#[async_trait]
pub trait ConversationRepo {
    /// Stores a new conversation; an id in use is [`StoreError::Conflict`].
    async fn insert_conversation(&self, conversation: &Conversation) -> Result<(), StoreError>;

    async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError>;

    async fn conversations_by_ids(&self, ids: &[ConversationId]) -> Result<Vec<Conversation>, StoreError>;

    async fn update_conversation(
        &self,
        id: &ConversationId,
        patch: &ConversationPatch,
    ) -> Result<Option<Conversation>, StoreError>;

    /// Records what a stored batch moved, none of it ever moved back: each
    /// conversation's newest message (unless a newer one is recorded; it is
    /// the newest entry too), its newest entry of any kind (a change too),
    /// and each sender's read position as [`Self::mark_read`] would. In one
    /// write where the store can: a busy writer's batch would otherwise cost a
    /// write per conversation and per sender. Goes on past a failure and
    /// says the first.
    async fn record_moves(&self, moves: Moves) -> Result<(), StoreError>;

    /// The seq of each conversation's newest recorded entry of any kind; the
    /// ones not found are left out.
    async fn last_entries(&self, ids: &[ConversationId]) -> Result<Vec<(ConversationId, u64)>, StoreError>;

    /// Public groups, most recently active first; with a query, those whose
    /// name or description holds it (folded, see `text::search_fold`): the
    /// ones where one is the query first, then where one begins with it,
    /// then the rest, each most recently active first.
    async fn public_conversations(&self, query: Option<&KeyQuery>, skip: u32, limit: u32)
        -> Result<Vec<Conversation>, StoreError>;

    /// Up to `limit` (at most [`MAX_ID_PAGE`]) conversation ids after `after`, in id
    /// order: a walk over every conversation (the search index's catch-up).
    async fn conversation_ids_after(&self, after: Option<&ConversationId>, limit: u32)
        -> Result<Vec<ConversationId>, StoreError>;

    /// Adds a member or replaces its membership.
    async fn put_member(&self, member: &Membership) -> Result<(), StoreError>;

    async fn member(&self, conversation: &ConversationId, user: &UserId) -> Result<Option<Membership>, StoreError>;

    /// The conversation's members, in the order they joined.
    async fn members_of(&self, conversation: &ConversationId) -> Result<Vec<Membership>, StoreError>;

    /// The conversation's first `limit` members in the order they joined:
    /// enough to tell a group larger than `limit - 1` without reading it all.
    async fn first_members(&self, conversation: &ConversationId, limit: u32) -> Result<Vec<Membership>, StoreError>;

    /// The conversations a user belongs to.
    async fn memberships_of(&self, user: &UserId) -> Result<Vec<Membership>, StoreError>;

    /// False if the user was not a member.
    async fn remove_member(&self, conversation: &ConversationId, user: &UserId) -> Result<bool, StoreError>;

    /// Moves the member's read position forward to `seq`, shown number
    /// `shown` (never back), and the delivered position with it.
    async fn mark_read(&self, conversation: &ConversationId, user: &UserId, seq: u64, shown: u64)
        -> Result<(), StoreError>;

    /// Moves the member's delivered position forward to `seq` (never back);
    /// whether it moved.
    async fn mark_delivered(&self, conversation: &ConversationId, user: &UserId, seq: u64) -> Result<bool, StoreError>;

    /// Raises the `mention_seq` of the mentioned members to `seq` (never
    /// lowers it), in one update.
    async fn raise_mention_seq(&self, conversation: &ConversationId, who: Mentioned<'_>, seq: u64)
        -> Result<(), StoreError>;

    /// Records that `user` may join the invite-only `conversation`.
    async fn put_invitation(&self, conversation: &ConversationId, user: &UserId, at: Millis) -> Result<(), StoreError>;

    async fn is_invited(&self, conversation: &ConversationId, user: &UserId) -> Result<bool, StoreError>;

    /// The conversations `user` is invited to, oldest invitation first.
    async fn invitations_of(&self, user: &UserId) -> Result<Vec<ConversationId>, StoreError>;

    async fn remove_invitation(&self, conversation: &ConversationId, user: &UserId) -> Result<(), StoreError>;
}
