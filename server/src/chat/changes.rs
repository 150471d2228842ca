//! Changes to a message: edits, deletes, reactions and pins. Each is stored
//! as an entry of the conversation's sequence naming its target
//! ([`wire::fold`]); here are the rules of who may change what, worked out
//! from the target and the changes it has had. [`Chat::send`] stores them.

use std::time::Duration;

use wire::{
    fold::{Shown, Thread},
    model::{Conversation, ConversationId, Message, MessageKind, Role, UserId},
};

use super::{Chat, ChatError};
use crate::{clock::now_millis, store::conversations::Membership};

/// What users may do to messages, from the server's flags.
#[derive(Clone, Copy, Debug)]
pub struct ChangeLimits {
    /// How long after sending a message its sender may edit it.
    pub edit_window: Duration,
    /// Most different emoji reacted to one message.
    pub max_reactions: usize,
    /// Most members one message mentions.
    pub max_mentions: usize,
}

/// What a change comes to.
pub enum Verdict {
    /// Store the change with this content (an edit's text, a reaction's emoji
    /// as Unicode writes it).
    Store(String),
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
        let mut thread = Thread::default();
        thread.add(message.clone());
        changes.iter().cloned().for_each(|c| thread.add(c));
        let shown = thread.shown(target).expect("the message was just added");
        if shown.deleted_by.is_some() {
            return Err(ChatError::MessageDeleted);
        }
        let user = &member.user_id;
        let already = |kinds: &[MessageKind]| {
            let last = changes.iter().rev().find(|c| kinds.contains(&c.kind) && c.sender_id == *user);
            Ok(Verdict::AlreadySo(last.unwrap_or(&message).clone()))
        };
        match kind {
            MessageKind::Edit => self.check_edit(&message, user, content),
            MessageKind::Delete if message.sender_id == *user || moderates(member) => Ok(Verdict::Store(String::new())),
            MessageKind::Delete => Err(ChatError::Forbidden("only its sender, or an owner or admin of the group, deletes a message")),
            MessageKind::React | MessageKind::Unreact => {
                let emoji = emojis::get(content)
                    .ok_or_else(|| ChatError::invalid("content", "a reaction is one emoji"))?
                    .as_str()
                    .to_owned();
                let given = shown.reactions.iter().any(|r| r.emoji == emoji && r.users.contains(user));
                match (kind, given) {
                    (MessageKind::React, true) => already(&[MessageKind::React]),
                    (MessageKind::Unreact, false) => already(&[MessageKind::Unreact]),
                    (MessageKind::React, false) if is_new_and_too_many(&shown, &emoji, self.limits.max_reactions) => {
                        Err(ChatError::TooManyReactions)
                    }
                    _ => Ok(Verdict::Store(emoji)),
                }
            }
            MessageKind::Pin | MessageKind::Unpin => {
                if !moderates(member) && !is_private(member) {
                    return Err(ChatError::Forbidden("only owners and admins pin messages in a group"));
                }
                match (kind, shown.pinned) {
                    (MessageKind::Pin, true) | (MessageKind::Unpin, false) => already(&[MessageKind::Pin, MessageKind::Unpin]),
                    _ => Ok(Verdict::Store(String::new())),
                }
            }
            _ => unreachable!("only changes are checked here"),
        }
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
    /// with text (or a caption), within the edit window, under the text policy.
    fn check_edit(&self, message: &Message, user: &UserId, content: &str) -> Result<Verdict, ChatError> {
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
        let text = self.text.apply(content).map_err(|refused| ChatError::ContentRefused(refused.to_string()))?;
        Ok(Verdict::Store(text))
    }
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
