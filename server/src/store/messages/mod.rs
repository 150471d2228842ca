//! Messages of every conversation, numbered per conversation.
//!
//! Several server nodes may store messages of one conversation at the same
//! time, so neither store trusts a counter: a unique key on
//! (conversation, seq) arbitrates, and a writer that loses the race re-reads
//! the highest number and tries the next one. That keeps numbers unique and
//! gap-free on MongoDB and on FerretDB alike.
//!
//! Changes to a message (edits, deletes, reactions, pins) are entries of
//! the same sequence, naming their target ([`wire::fold`]). Each entry also
//! records how many messages members see up to it (its *shown number*):
//! unread counts subtract shown numbers, so changes count for no one's
//! unread and no count query is needed.

mod embedded;
mod mongodb;

use async_trait::async_trait;
use wire::model::{Attachment, CallRecord, ConversationId, FileId, Message, MessageId, MessageKind, Millis, UserId};

use super::{new_id, StoreError};

/// Largest page [`MessageRepo::messages_before`] and [`MessageRepo::messages_after`] return.
pub const MAX_PAGE: u32 = 100;

/// How often a writer may lose the race for a sequence number before giving up.
const MAX_SEQ_ATTEMPTS: usize = 64;

/// A message as its sender hands it in; the store gives it an id and a number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageDraft {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    /// The sender's own id: storing the same (conversation, sender, client id)
    /// twice returns the first message.
    pub client_id: String,
    pub kind: MessageKind,
    pub content: String,
    pub attachment: Option<Box<Attachment>>,
    /// What a call or broadcast came to: only in messages the server makes.
    pub call: Option<Box<CallRecord>>,
    /// For a change: the seq of the message it changes.
    pub target: Option<u64>,
    /// The seq of the message this one answers.
    pub reply_to: Option<u64>,
    pub mentions: Vec<UserId>,
}

impl MessageDraft {
    /// A message the server makes on a user's behalf to record a call or
    /// broadcast. `event_id` names the call: its client id is derived from
    /// it, so recording the same call twice (say, by two nodes) stores it once.
    pub fn call_record(
        conversation_id: ConversationId,
        sender_id: UserId,
        kind: MessageKind,
        event_id: &str,
        record: CallRecord,
    ) -> MessageDraft {
        MessageDraft {
            conversation_id,
            sender_id,
            client_id: format!("call:{event_id}"),
            kind,
            call: Some(Box::new(record)),
            ..MessageDraft::default()
        }
    }

    /// The message this draft becomes as the entry after `tip`, stored at `created_ms`.
    pub fn into_message(self, tip: Tip, created_ms: Millis) -> Message {
        Message {
            id: MessageId(new_id()),
            conversation_id: self.conversation_id,
            seq: tip.seq + 1,
            shown: tip.shown + u64::from(!self.kind.is_change()),
            sender_id: self.sender_id,
            client_id: self.client_id,
            kind: self.kind,
            content: self.content,
            created_ms,
            attachment: self.attachment,
            call: self.call,
            target: self.target,
            reply_to: self.reply_to,
            mentions: self.mentions,
        }
    }
}

/// The result of [`MessageRepo::append_message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub message: Message,
    /// True when the draft had been stored before: nothing new was written.
    pub duplicate: bool,
}

/// The newest entry of a conversation: where the next one follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tip {
    pub seq: u64,
    pub shown: u64,
}

/// Most changes [`MessageRepo::changes_of`] returns: reactions are bounded
/// per message and edits by a window, so a message has far fewer.
pub const MAX_CHANGES: u32 = 2000;

/// Most pin and unpin entries [`MessageRepo::pin_changes`] returns, the newest.
pub const MAX_PIN_CHANGES: u32 = 1000;

#[async_trait]
pub trait MessageRepo {
    /// Stores a message under the conversation's next sequence number, or
    /// returns the stored one when its client id was seen before.
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError>;

    /// Stores several drafts in one bulk write where it can, each exactly as
    /// [`MessageRepo::append_message`] would; the results are in the drafts' order.
    async fn append_messages(&self, drafts: Vec<MessageDraft>) -> Vec<Result<Appended, StoreError>>;

    /// Highest sequence number of the conversation; 0 when it has no message.
    async fn last_seq(&self, conversation: &ConversationId) -> Result<u64, StoreError> {
        Ok(self.tip(conversation).await?.seq)
    }

    /// The conversation's newest entry's seq and shown number (zeros when empty).
    async fn tip(&self, conversation: &ConversationId) -> Result<Tip, StoreError>;

    /// The shown number of the newest entry at or before `seq` (0 before the first).
    async fn shown_at(&self, conversation: &ConversationId, seq: u64) -> Result<u64, StoreError>;

    /// The entry numbered `seq`, message or change.
    async fn message_at(&self, conversation: &ConversationId, seq: u64) -> Result<Option<Message>, StoreError>;

    /// The changes to the message at `target`, oldest first (at most [`MAX_CHANGES`]).
    async fn changes_of(&self, conversation: &ConversationId, target: u64) -> Result<Vec<Message>, StoreError>;

    /// The conversation's pins and unpins, newest first (at most [`MAX_PIN_CHANGES`]).
    async fn pin_changes(&self, conversation: &ConversationId) -> Result<Vec<Message>, StoreError>;

    /// Erases what a deleted message said: the text, attachment and mentions
    /// of the message at `target`, the text of its edits, and the
    /// conversation's preview of it when it is the newest. The entries stay
    /// (their seqs are part of the sequence).
    async fn scrub(&self, conversation: &ConversationId, target: u64) -> Result<(), StoreError>;

    /// Whether a message (in any conversation) still carries the upload
    /// `file`: a scrubbed one does not.
    async fn file_in_use(&self, file: &FileId) -> Result<bool, StoreError>;

    /// Up to `limit` (at most [`MAX_PAGE`]) messages with `seq < before`, newest first;
    /// `before: None` starts from the newest.
    async fn messages_before(
        &self,
        conversation: &ConversationId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;

    /// Up to `limit` (at most [`MAX_PAGE`]) messages with `seq > after`, oldest first:
    /// what a client that has seen `after` missed.
    async fn messages_after(
        &self,
        conversation: &ConversationId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
}

fn page_size(limit: u32) -> u32 {
    limit.clamp(1, MAX_PAGE)
}
