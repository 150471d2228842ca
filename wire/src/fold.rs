//! Folding a conversation's changes into the messages they change.
//!
//! An edit, a delete, a reaction or a pin is an entry of the conversation's
//! sequence like a message, naming the message it changes by its seq
//! ([`Message::target`]), so resume and history carry each exactly once.
//! A client meets the entries in any order: history pages newest first,
//! live ones, resumes, and a change on one page may target a message on a
//! page not loaded yet. [`Thread`] keeps every entry by its seq and works
//! out what members see from all it holds, in seq order: the same entries
//! show the same however they came, and an entry seen twice counts once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Message, MessageKind, Millis, UserId};

/// The entries of one conversation a client holds.
#[derive(Clone, Debug, Default)]
pub struct Thread {
    /// The messages, by seq.
    messages: BTreeMap<u64, Message>,
    /// The changes, by their target's seq, then by their own.
    changes: BTreeMap<u64, BTreeMap<u64, Message>>,
}

/// A message as its conversation's members see it, its changes folded in;
/// also `GET /api/conversations/{id}/messages/{seq}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shown {
    /// The message with its text and mentions now (the last edit's) and,
    /// once deleted, no text and no attachment.
    pub message: Message,
    /// When it was last edited.
    pub edited_ms: Option<Millis>,
    /// Who removed it (its sender, or an owner or admin of the group).
    pub deleted_by: Option<UserId>,
    /// The reactions standing, in the order each emoji was first given.
    pub reactions: Vec<Reaction>,
    pub pinned: bool,
}

/// One emoji's reactions to a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    /// Who gave it, first first.
    pub users: Vec<UserId>,
}

impl From<Message> for Shown {
    /// A message with no change to it.
    fn from(message: Message) -> Shown {
        Shown { message, edited_ms: None, deleted_by: None, reactions: Vec::new(), pinned: false }
    }
}

impl Thread {
    /// Takes in an entry (again is no change).
    pub fn add(&mut self, entry: Message) {
        match (entry.kind.is_change(), entry.target) {
            (true, Some(target)) => {
                self.changes.entry(target).or_default().insert(entry.seq, entry);
            }
            // A change without a target changes nothing.
            (true, None) => {}
            (false, _) => {
                self.messages.insert(entry.seq, entry);
            }
        }
    }

    /// The message at `seq` as members see it, if it is held.
    pub fn shown(&self, seq: u64) -> Option<Shown> {
        let message = self.messages.get(&seq)?;
        Some(fold(message, self.changes.get(&seq).into_iter().flat_map(|c| c.values())))
    }

    /// Every message held, oldest first, as members see them.
    pub fn all_shown(&self) -> impl Iterator<Item = Shown> + '_ {
        self.messages.keys().filter_map(|seq| self.shown(*seq))
    }

    /// The seqs of the pinned messages, the latest pinned first; a pin
    /// counts before its message is loaded (the client fetches it).
    pub fn pinned(&self) -> Vec<u64> {
        let mut pins: Vec<(u64, u64)> = self
            .changes
            .iter()
            .filter_map(|(target, changes)| {
                let last = changes.values().rev().find(|c| matches!(c.kind, MessageKind::Pin | MessageKind::Unpin))?;
                let deleted = changes.values().any(|c| c.kind == MessageKind::Delete);
                (last.kind == MessageKind::Pin && !deleted).then_some((last.seq, *target))
            })
            .collect();
        pins.sort_unstable_by(|a, b| b.cmp(a));
        pins.into_iter().map(|(_, target)| target).collect()
    }

    /// The edits of the message at `seq`, oldest first: its edit history.
    pub fn edits(&self, seq: u64) -> Vec<&Message> {
        let Some(changes) = self.changes.get(&seq) else { return Vec::new() };
        changes.values().filter(|c| c.kind == MessageKind::Edit).collect()
    }
}

/// `message` with `changes` (its own, any order of seq) applied in seq order.
/// Only the sender's edits count, and nothing counts after a delete.
fn fold<'a>(message: &Message, changes: impl Iterator<Item = &'a Message>) -> Shown {
    let mut changes: Vec<&Message> = changes.collect();
    changes.sort_unstable_by_key(|c| c.seq);
    let mut shown = Shown::from(message.clone());
    for change in changes {
        match change.kind {
            MessageKind::Edit if change.sender_id == message.sender_id => {
                shown.message.content.clone_from(&change.content);
                // An edit is the whole new text: whom it mentions replaces whom the old one did.
                shown.message.mentions.clone_from(&change.mentions);
                shown.edited_ms = Some(change.created_ms);
            }
            MessageKind::Delete => {
                shown.message.content.clear();
                shown.message.attachment = None;
                shown.message.mentions.clear();
                shown.deleted_by = Some(change.sender_id.clone());
                shown.reactions.clear();
                shown.pinned = false;
                break;
            }
            MessageKind::React => react(&mut shown.reactions, &change.content, &change.sender_id),
            MessageKind::Unreact => unreact(&mut shown.reactions, &change.content, &change.sender_id),
            MessageKind::Pin => shown.pinned = true,
            MessageKind::Unpin => shown.pinned = false,
            _ => {}
        }
    }
    shown
}

fn react(reactions: &mut Vec<Reaction>, emoji: &str, user: &UserId) {
    match reactions.iter_mut().find(|r| r.emoji == emoji) {
        Some(reaction) if reaction.users.contains(user) => {}
        Some(reaction) => reaction.users.push(user.clone()),
        None => reactions.push(Reaction { emoji: emoji.to_owned(), users: vec![user.clone()] }),
    }
}

fn unreact(reactions: &mut Vec<Reaction>, emoji: &str, user: &UserId) {
    if let Some(reaction) = reactions.iter_mut().find(|r| r.emoji == emoji) {
        reaction.users.retain(|u| u != user);
    }
    reactions.retain(|r| !r.users.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, sender: &str, kind: MessageKind, target: Option<u64>, content: &str) -> Message {
        Message {
            seq,
            sender_id: UserId(sender.into()),
            kind,
            target,
            content: content.into(),
            created_ms: seq as Millis * 1000,
            ..Message::default()
        }
    }

    fn text(seq: u64, sender: &str, content: &str) -> Message {
        entry(seq, sender, MessageKind::Text, None, content)
    }

    fn change(seq: u64, sender: &str, kind: MessageKind, target: u64, content: &str) -> Message {
        entry(seq, sender, kind, Some(target), content)
    }

    fn users(names: &[&str]) -> Vec<UserId> {
        names.iter().map(|n| UserId((*n).into())).collect()
    }

    /// A conversation's entries: two messages, then edits, reactions, a pin.
    fn entries() -> Vec<Message> {
        vec![
            text(1, "ann", "helo"),
            text(2, "bob", "hi"),
            change(3, "ann", MessageKind::Edit, 1, "hello"),
            change(4, "bob", MessageKind::React, 1, "👍"),
            change(5, "cat", MessageKind::React, 1, "🎉"),
            change(6, "cat", MessageKind::React, 1, "👍"),
            change(7, "bob", MessageKind::Unreact, 1, "👍"),
            change(8, "bob", MessageKind::Edit, 1, "bob may not edit ann's"),
            change(9, "bob", MessageKind::Pin, 2, ""),
            change(10, "ann", MessageKind::Edit, 1, "hello, all"),
        ]
    }

    #[test]
    fn changes_fold_into_their_message_in_seq_order() {
        let mut thread = Thread::default();
        entries().into_iter().for_each(|e| thread.add(e));
        let first = thread.shown(1).unwrap();
        assert_eq!(first.message.content, "hello, all");
        assert_eq!(first.edited_ms, Some(10_000));
        let reactions: Vec<_> = first.reactions.iter().map(|r| (r.emoji.as_str(), r.users.clone())).collect();
        assert_eq!(reactions, [("👍", users(&["cat"])), ("🎉", users(&["cat"]))]);
        assert_eq!(thread.edits(1).len(), 3, "every edit is kept, the refused one too");
        assert_eq!(thread.pinned(), [2]);
        assert_eq!(thread.all_shown().map(|s| s.message.seq).collect::<Vec<_>>(), [1, 2], "changes show as no line");
    }

    #[test]
    fn an_edit_brings_its_own_mentions() {
        let mut thread = Thread::default();
        thread.add(Message { mentions: users(&["bob"]), ..text(1, "ann", "hi @bob") });
        assert_eq!(thread.shown(1).unwrap().message.mentions, users(&["bob"]));
        thread.add(Message { mentions: users(&["cat"]), ..change(2, "ann", MessageKind::Edit, 1, "hi @cat") });
        assert_eq!(thread.shown(1).unwrap().message.mentions, users(&["cat"]));
        thread.add(change(3, "ann", MessageKind::Edit, 1, "hi all"));
        assert!(thread.shown(1).unwrap().message.mentions.is_empty(), "an edit mentioning no one mentions no one");
    }

    #[test]
    fn any_order_and_repeats_show_the_same() {
        let mut in_order = Thread::default();
        entries().into_iter().for_each(|e| in_order.add(e));
        let expected: Vec<Shown> = in_order.all_shown().collect();
        // Newest first (history pages), and everything twice (a resume after a page).
        let mut reversed = Thread::default();
        entries().into_iter().rev().chain(entries()).for_each(|e| reversed.add(e));
        assert_eq!(reversed.all_shown().collect::<Vec<_>>(), expected);
        // A change whose message is on a page not loaded yet waits for it.
        let mut paged = Thread::default();
        entries().into_iter().filter(|e| e.seq != 1).for_each(|e| paged.add(e));
        assert!(paged.shown(1).is_none());
        paged.add(text(1, "ann", "helo"));
        assert_eq!(paged.all_shown().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_deleted_message_keeps_nothing_and_takes_no_more_changes() {
        let mut thread = Thread::default();
        entries().into_iter().for_each(|e| thread.add(e));
        thread.add(change(11, "bob", MessageKind::Delete, 2, ""));
        thread.add(change(12, "bob", MessageKind::React, 2, "😮"));
        let second = thread.shown(2).unwrap();
        assert_eq!((second.message.content.as_str(), second.deleted_by), ("", Some(UserId("bob".into()))));
        assert!(second.reactions.is_empty() && !second.pinned);
        assert!(thread.pinned().is_empty(), "a deleted message is pinned no more");
    }

    #[test]
    fn the_latest_pin_comes_first_and_an_unpin_takes_it_off() {
        let mut thread = Thread::default();
        for e in [text(1, "ann", "a"), text(2, "ann", "b"), text(3, "ann", "c")] {
            thread.add(e);
        }
        thread.add(change(4, "ann", MessageKind::Pin, 3, ""));
        thread.add(change(5, "ann", MessageKind::Pin, 1, ""));
        thread.add(change(6, "ann", MessageKind::Pin, 2, ""));
        thread.add(change(7, "ann", MessageKind::Unpin, 1, ""));
        assert_eq!(thread.pinned(), [2, 3]);
        thread.add(change(8, "ann", MessageKind::Pin, 3, ""));
        assert_eq!(thread.pinned(), [3, 2], "pinned again: the latest");
    }
}
