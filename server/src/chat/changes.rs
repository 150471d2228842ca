//! Changes to a message: edits, deletes, reactions and pins. Each is stored
//! as an entry of the conversation's sequence naming its target
//! ([`wire::fold`]); here are the rules of who may change what, worked out
//! from the target and the changes it has had. [`Chat::send`] stores them.
//! Also one message with its changes folded in, as members see it.

use std::{collections::HashSet, time::Duration};

use wire::{
    fold::{Shown, Thread},
    model::{Conversation, ConversationId, Message, MessageKind, Role, UserId},
};

use super::{Chat, ChatError};
use crate::{clock::now_millis, ratelimit::budgets::Action, store::conversations::Membership};

/// Most messages the pinned bar gets.
pub const MAX_PINNED: usize = 50;

/// What users may do to messages, and how far receipts reach, from the server's flags.
#[derive(Clone, Copy, Debug)]
pub struct ChangeLimits {
    /// How long after sending a message its sender may edit it.
    pub edit_window: Duration,
    /// Most different emoji reacted to one message.
    pub max_reactions: usize,
    /// Most members one message mentions.
    pub max_mentions: usize,
    /// Most members a group may have for its members to see receipts
    /// (private chats always have them).
    pub receipts_group_limit: usize,
}

/// What a change comes to.
pub enum Verdict {
    /// Store the change with this content (an edit's text, a reaction's emoji
    /// as Unicode writes it); `target` is the message as shown before it.
    Store { content: String, target: Shown },
    /// The message already is as asked (a reaction given again, a pin of a
    /// pinned message): nothing to store, no error. Acked with this entry:
    /// the change that made it so, or the message.
    AlreadySo(Message),
}

impl Chat {
    /// Checks `user`'s change `kind` (with `content`) to the message at
    /// `target`, for the member `member`.
    pub(super) async fn check_change(
        &self,
        member: &Membership,
        kind: MessageKind,
        target: Option<u64>,
        content: &str,
    ) -> Result<Verdict, ChatError> {
        let conversation = &member.conversation_id;
        let target = target.ok_or_else(|| ChatError::invalid("target", "a change names the message it changes"))?;
        let (message, changes) = self.message_with_changes(conversation, target).await?;
        let shown = folded(&message, &changes);
        if shown.deleted_by.is_some() {
            return Err(ChatError::MessageDeleted);
        }
        let user = &member.user_id;
        let already = |kinds: &[MessageKind]| {
            let last = changes.iter().rev().find(|c| kinds.contains(&c.kind) && c.sender_id == *user);
            Ok(Verdict::AlreadySo(last.unwrap_or(&message).clone()))
        };
        let content = match kind {
            MessageKind::Edit => self.check_edit(&message, user, content)?,
            MessageKind::Delete if message.sender_id == *user || moderates(member) => String::new(),
            MessageKind::Delete => {
                return Err(ChatError::Forbidden("only its sender, or an owner or admin of the group, deletes a message"))
            }
            MessageKind::React | MessageKind::Unreact => {
                let emoji = emojis::get(content)
                    .ok_or_else(|| ChatError::invalid("content", "a reaction is one emoji"))?
                    .as_str()
                    .to_owned();
                let given = shown.reactions.iter().any(|r| r.emoji == emoji && r.users.contains(user));
                match (kind, given) {
                    (MessageKind::React, true) => return already(&[MessageKind::React]),
                    (MessageKind::Unreact, false) => return already(&[MessageKind::Unreact]),
                    (MessageKind::React, false) if is_new_and_too_many(&shown, &emoji, self.limits.max_reactions) => {
                        return Err(ChatError::TooManyReactions)
                    }
                    _ => emoji,
                }
            }
            MessageKind::Pin | MessageKind::Unpin => {
                if !moderates(member) && !is_private(member) {
                    return Err(ChatError::Forbidden("only owners and admins pin messages in a group"));
                }
                match (kind, shown.pinned) {
                    (MessageKind::Pin, true) | (MessageKind::Unpin, false) => {
                        return already(&[MessageKind::Pin, MessageKind::Unpin])
                    }
                    _ => String::new(),
                }
            }
            _ => unreachable!("only changes are checked here"),
        };
        Ok(Verdict::Store { content, target: shown })
    }

    /// A member's view of the message at `seq`: with its changes folded in.
    /// A seq that holds a change, or nothing, is no message.
    pub async fn message(&self, conversation: &ConversationId, user: &UserId, seq: u64) -> Result<Shown, ChatError> {
        self.spend(Action::Lookup, user, "looking up messages too often; slow down").await?;
        self.require_member(conversation, user).await?;
        let (message, changes) = self.message_with_changes(conversation, seq).await?;
        Ok(folded(&message, &changes))
    }

    /// The messages pinned now, the latest pinned first (at most [`MAX_PINNED`]):
    /// what the pinned bar shows, however long ago each was pinned.
    pub async fn pinned(&self, conversation: &ConversationId, user: &UserId) -> Result<Vec<Shown>, ChatError> {
        self.spend(Action::Lookup, user, "looking up messages too often; slow down").await?;
        self.require_member(conversation, user).await?;
        let mut decided = HashSet::new();
        let mut pinned = Vec::new();
        // Newest first: each target's newest pin or unpin decides.
        for change in self.store.pin_changes(conversation).await? {
            let Some(target) = change.target.filter(|t| decided.insert(*t)) else { continue };
            if change.kind != MessageKind::Pin {
                continue;
            }
            let (message, changes) = self.message_with_changes(conversation, target).await?;
            let shown = folded(&message, &changes);
            // A deleted message is pinned no more.
            if shown.pinned {
                pinned.push(shown);
            }
            if pinned.len() == MAX_PINNED {
                break;
            }
        }
        Ok(pinned)
    }

    /// The message at `seq` (not a change) and its changes so far.
    async fn message_with_changes(
        &self,
        conversation: &ConversationId,
        seq: u64,
    ) -> Result<(Message, Vec<Message>), ChatError> {
        let message = self.store.message_at(conversation, seq).await?;
        let message = message.filter(|m| !m.kind.is_change()).ok_or(ChatError::NoSuchMessage)?;
        Ok((message, self.store.changes_of(conversation, seq).await?))
    }

    /// A message a reply may answer: one that exists and was not deleted.
    pub(super) async fn check_reply(&self, conversation: &ConversationId, seq: u64) -> Result<(), ChatError> {
        let (_, changes) = self.message_with_changes(conversation, seq).await?;
        match changes.iter().any(|c| c.kind == MessageKind::Delete) {
            true => Err(ChatError::MessageDeleted),
            false => Ok(()),
        }
    }

    /// An edit of `message` by `user` to `content`: the sender's own message
    /// with text (or a caption), within the edit window, under the text
    /// policy. Answers the text to store.
    fn check_edit(&self, message: &Message, user: &UserId, content: &str) -> Result<String, ChatError> {
        if message.sender_id != *user {
            return Err(ChatError::Forbidden("only its sender edits a message"));
        }
        let captioned = matches!(
            message.kind,
            MessageKind::Text | MessageKind::Image | MessageKind::Voice | MessageKind::Video | MessageKind::File
        );
        if !captioned {
            return Err(ChatError::invalid("target", "this message has no text to edit"));
        }
        let age = now_millis().saturating_sub(message.created_ms).max(0) as u128;
        if age > self.limits.edit_window.as_millis() {
            return Err(ChatError::EditWindowClosed);
        }
        if message.kind == MessageKind::Text && content.trim().is_empty() {
            return Err(ChatError::invalid("content", "a message needs some text; delete it instead"));
        }
        self.text.apply(content).map_err(|refused| ChatError::ContentRefused(refused.to_string()))
    }
}

/// `message` as shown with `changes` (its own) folded in.
fn folded(message: &Message, changes: &[Message]) -> Shown {
    let mut thread = Thread::default();
    thread.add(message.clone());
    changes.iter().cloned().for_each(|c| thread.add(c));
    thread.shown(message.seq).expect("the message was just added")
}

/// Whether the member moderates their group (owners and admins).
pub(super) fn moderates(member: &Membership) -> bool {
    matches!(member.role, Role::Owner | Role::Admin) && !is_private(member)
}

/// Whether the member's conversation is a private chat.
fn is_private(member: &Membership) -> bool {
    Conversation::private_peer(&member.conversation_id, &member.user_id).is_some()
}

/// Whether `emoji` would be one different reaction more than `max`.
fn is_new_and_too_many(shown: &Shown, emoji: &str, max: usize) -> bool {
    !shown.reactions.iter().any(|r| r.emoji == emoji) && shown.reactions.len() >= max
}
