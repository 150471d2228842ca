//! The chat domain: what members may do in a conversation and what follows
//! from it. The HTTP API and the websocket session are thin callers of
//! [`Chat`]; neither holds a chat rule of its own.
//!
//! | module | holds |
//! |---|---|
//! | here | [`Chat`]: membership, sending, reading, typing, history, who may read a file |
//! | `changes` | edits, deletes, reactions and pins: who may change what; one message with its changes |
//! | `receipts` | delivered and read positions as others see them, and who sees them |
//! | `conversations` | creating, joining, inviting, leaving and changing conversations |
//! | `contacts` | who may reach whom: blocks, privacy settings, friendship |
//! | `writer` | the batched, durable append of messages and what follows it |
//! | `repair` | what a cluster's bus lost, filled from the store |
//! | `error` | [`ChatError`], answered by both doors |

mod changes;
pub mod contacts;
mod conversations;
mod error;
mod receipts;
pub mod repair;
pub mod writer;

use std::sync::Arc;

use wire::{
    model::{ConversationId, Message, MessageKind, UserId, MENTION_ALL},
    protocol::{AttachmentRef, MAX_CLIENT_ID_CHARS, MAX_TEXT_CHARS},
};

pub use self::{changes::ChangeLimits, error::ChatError, writer::Writer};
use self::changes::Verdict;
use crate::{
    files::{self, Uploads},
    hub::{Fanout, HubEvent},
    ratelimit::budgets::{Action, UserBudgets},
    store::{
        conversations::Membership,
        files::FileRecord,
        messages::{Appended, MessageDraft, MAX_PAGE},
        DynStore, StoreError,
    },
    text::TextPolicy,
};

/// A message as its sender hands it in, before any check.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub conversation_id: ConversationId,
    /// The sender's own id for it: the same id again stores it once.
    pub client_id: String,
    pub kind: MessageKind,
    /// The text, or an attachment's caption; an edit's new text; a reaction's emoji.
    pub content: String,
    pub attachment: Option<AttachmentRef>,
    /// For a change: the seq of the message it changes.
    pub target: Option<u64>,
    /// The seq of the message this one answers.
    pub reply_to: Option<u64>,
    pub mentions: Vec<UserId>,
}

/// A stored message, as its sender learns of it.
pub struct Sent {
    pub message: Message,
    /// The client id had been stored before: nothing new was written.
    pub duplicate: bool,
    /// The text as stored, when the text policy changed what was sent.
    pub changed: Option<String>,
}

const NO_SUCH_USER: ChatError = ChatError::NotFound("no such user");

pub struct Chat {
    store: DynStore,
    fanout: Arc<dyn Fanout>,
    writer: Arc<Writer>,
    text: Arc<TextPolicy>,
    budgets: Arc<UserBudgets>,
    limits: ChangeLimits,
    /// Where uploads are kept: a deleted message's file goes once no message carries it.
    uploads: Uploads,
}

impl Chat {
    pub fn new(
        store: DynStore,
        fanout: Arc<dyn Fanout>,
        writer: Arc<Writer>,
        text: Arc<TextPolicy>,
        budgets: Arc<UserBudgets>,
        limits: ChangeLimits,
        uploads: Uploads,
    ) -> Chat {
        Chat { store, fanout, writer, text, budgets, limits, uploads }
    }

    /// Spends one of the user's `action`s, or says how long to wait.
    async fn spend(&self, action: Action, user: &UserId, why: &'static str) -> Result<(), ChatError> {
        self.budgets.spend(action, user).await.map_err(|wait| ChatError::RateLimited { why, wait })
    }

    /// The asker's membership: the one check of "is this user in it".
    pub async fn require_member(&self, conversation: &ConversationId, user: &UserId) -> Result<Membership, ChatError> {
        self.membership(conversation, user).await?.ok_or(ChatError::NotMember)
    }

    /// The user's membership, if any.
    async fn membership(&self, conversation: &ConversationId, user: &UserId) -> Result<Option<Membership>, StoreError> {
        self.store.member(conversation, user).await
    }

    /// Checks a message or a change, stores it and answers once it is
    /// durable; the writer then publishes it.
    pub async fn send(&self, sender: &UserId, message: Outgoing) -> Result<Sent, ChatError> {
        let client_id = &message.client_id;
        let id_ok = !client_id.is_empty()
            && client_id.chars().count() <= MAX_CLIENT_ID_CHARS
            && !client_id.chars().any(char::is_control);
        if !id_ok {
            return Err(ChatError::invalid("client_id", "client_id: 1 to 64 characters, no control characters"));
        }
        if message.kind.is_change() {
            return self.change(sender, message).await;
        }
        let Outgoing { conversation_id, client_id, kind, content, attachment, reply_to, mentions, .. } = message;
        // Attachments may come without a caption.
        if kind == MessageKind::Text && content.trim().is_empty() {
            return Err(ChatError::invalid("content", "a message needs some text"));
        }
        let member = self.admit(sender, &conversation_id, &content).await?;
        if let Some(seq) = reply_to {
            self.check_reply(&conversation_id, seq).await?;
        }
        let mentions = self.mentioned(&member, mentions).await?;
        // Text and captions alike: shortcodes become emoji, listed words are masked or refused.
        let stored = self.text.apply(&content).map_err(|refused| ChatError::ContentRefused(refused.to_string()))?;
        let attachment = match files::attach(&self.store, sender, &conversation_id, kind, attachment).await {
            Ok(attachment) => attachment,
            Err(files::Refused::Bad(why)) => return Err(ChatError::invalid("attachment", why)),
            Err(files::Refused::Store(e)) => return Err(e.into()),
        };
        let draft = MessageDraft {
            conversation_id,
            sender_id: sender.clone(),
            client_id,
            kind,
            content: stored,
            attachment,
            reply_to,
            mentions,
            ..MessageDraft::default()
        };
        let appended = self.writer.append(draft).await?;
        let changed = (appended.message.content != content).then(|| appended.message.content.clone());
        Ok(Sent { message: appended.message, duplicate: appended.duplicate, changed })
    }

    /// Checks a change (an edit, delete, reaction or pin) and stores it; a
    /// delete then erases what the message said from the store, and its file
    /// once no other message carries it. An edit's mentions replace the
    /// message's; those it newly mentions get an "@" badge up to the edit.
    async fn change(&self, sender: &UserId, change: Outgoing) -> Result<Sent, ChatError> {
        let Outgoing { conversation_id, client_id, kind, content, attachment, target, mentions, .. } = change;
        if attachment.is_some() {
            return Err(ChatError::invalid("attachment", "a change carries no file"));
        }
        let member = self.admit(sender, &conversation_id, &content).await?;
        let (stored, before) = match self.check_change(&member, kind, target, &content).await? {
            Verdict::Store { content, target } => (content, target),
            Verdict::AlreadySo(entry) => return Ok(Sent { message: entry, duplicate: true, changed: None }),
        };
        // Only an edit has text that mentions anyone.
        let mentions = if kind == MessageKind::Edit { self.mentioned(&member, mentions).await? } else { Vec::new() };
        let newly: Vec<UserId> = mentions.iter().filter(|u| !before.message.mentions.contains(u)).cloned().collect();
        let draft = MessageDraft {
            conversation_id,
            sender_id: sender.clone(),
            client_id,
            kind,
            content: stored,
            target,
            mentions,
            ..MessageDraft::default()
        };
        let appended = self.writer.append(draft).await?;
        let conversation = &appended.message.conversation_id;
        if !newly.is_empty() && !appended.duplicate {
            writer::raise_mentions(&self.store, conversation, sender, &newly, appended.message.seq).await?;
        }
        if let (MessageKind::Delete, Some(target)) = (kind, target) {
            // Again for a resent delete: the erasure may not have happened the first time.
            self.store.scrub(conversation, target).await?;
            if let Some(attachment) = &before.message.attachment {
                if let Err(e) = files::sweep::release(&self.store, &self.uploads, &attachment.file_id).await {
                    tracing::warn!(error = %e, file = %attachment.file_id, "could not remove a deleted message's file");
                }
            }
        }
        let changed = (appended.message.content != content).then(|| appended.message.content.clone());
        Ok(Sent { message: appended.message, duplicate: appended.duplicate, changed })
    }

    /// What every entry passes, message or change: its length, the sender's
    /// budget, membership, no block between the two of a private chat.
    async fn admit(&self, sender: &UserId, conversation: &ConversationId, content: &str) -> Result<Membership, ChatError> {
        if content.chars().count() > MAX_TEXT_CHARS {
            return Err(ChatError::TooLong(format!("a message holds at most {MAX_TEXT_CHARS} characters")));
        }
        self.spend(Action::Send, sender, "sending too fast; slow down").await?;
        let member = self.require_member(conversation, sender).await?;
        self.require_unblocked_in(conversation, sender).await?;
        Ok(member)
    }

    /// The members among `mentions` (others are dropped), `all` only from an
    /// owner or admin of a group; more than the limit is refused.
    async fn mentioned(&self, member: &Membership, mentions: Vec<UserId>) -> Result<Vec<UserId>, ChatError> {
        if mentions.is_empty() {
            return Ok(mentions);
        }
        if mentions.len() > self.limits.max_mentions {
            let why = format!("a message mentions at most {} members", self.limits.max_mentions);
            return Err(ChatError::invalid("mentions", why));
        }
        let members = self.store.members_of(&member.conversation_id).await?;
        let may_mention_all = changes::moderates(member);
        let mut kept: Vec<UserId> = Vec::new();
        for user in mentions {
            let known = if user.0 == MENTION_ALL { may_mention_all } else { members.iter().any(|m| m.user_id == user) };
            if known && !kept.contains(&user) {
                kept.push(user);
            }
        }
        Ok(kept)
    }

    /// Stores a message the server makes on a user's behalf (how a call or
    /// broadcast ended); published like any message.
    pub async fn record(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        self.writer.append(draft).await
    }

    /// Moves the user's read position forward, to `seq` or the conversation's
    /// last message if `seq` is past it, and tells the user's other devices.
    /// Answers the position recorded.
    /// Others who see receipts learn of it when the position moved.
    pub async fn mark_read(&self, conversation: &ConversationId, user: &UserId, seq: u64) -> Result<u64, ChatError> {
        let member = self.require_member(conversation, user).await?;
        let seq = seq.min(self.store.last_seq(conversation).await?);
        let shown = self.store.shown_at(conversation, seq).await?;
        self.store.mark_read(conversation, user, seq, shown).await?;
        let event = HubEvent::Read { conversation_id: conversation.clone(), user_id: user.clone(), seq, shown };
        self.fanout.publish(event).await;
        if seq > member.read_seq {
            self.receipt_moved(&member, member.delivered_seq.max(seq), seq).await;
        }
        Ok(seq)
    }

    /// Tells the conversation's members that the user is typing.
    pub async fn typing(&self, conversation: &ConversationId, user: &UserId) -> Result<(), ChatError> {
        self.require_member(conversation, user).await?;
        self.spend(Action::Typing, user, "typing notices too often; slow down").await?;
        let event = HubEvent::Typing { conversation_id: conversation.clone(), user_id: user.clone() };
        self.fanout.publish(event).await;
        Ok(())
    }

    /// A member's page of history: newest first, before `before`.
    pub async fn history(
        &self,
        conversation: &ConversationId,
        user: &UserId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Message>, ChatError> {
        self.require_member(conversation, user).await?;
        if limit == 0 || limit > MAX_PAGE {
            return Err(ChatError::invalid("limit", format!("1 to {MAX_PAGE} messages a page")));
        }
        Ok(self.store.messages_before(conversation, before, limit).await?)
    }

    /// The conversation's newest sequence number. Its caller holds the membership.
    pub async fn last_seq(&self, conversation: &ConversationId) -> Result<u64, StoreError> {
        self.store.last_seq(conversation).await
    }

    /// The messages after `after`, oldest first, one page: what a
    /// connection fills a gap with. Its caller holds the membership.
    pub async fn messages_after(&self, conversation: &ConversationId, after: u64) -> Result<Vec<Message>, StoreError> {
        self.store.messages_after(conversation, after, MAX_PAGE).await
    }

    /// Whether `user` may read the file: its uploader, or a member of a
    /// conversation it was posted in.
    pub async fn may_read_file(&self, user: &UserId, file: &FileRecord) -> Result<bool, ChatError> {
        if file.owner == *user {
            return Ok(true);
        }
        for conversation in self.store.postings(&file.id).await? {
            match self.require_member(&conversation, user).await {
                Ok(_) => return Ok(true),
                Err(ChatError::NotMember) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }
}
