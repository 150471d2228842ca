//! The browser's picture of the user's conversations: the list with its
//! unread counts, the loaded messages of each conversation, and the user's
//! messages still on their way.
//!
//! Plain data without signals or I/O, so that its rules are unit-tested:
//! [`Live`](super::Live) keeps one in a signal and feeds it websocket frames
//! and API answers.
//!
//! Two rules keep what is shown right whatever order things arrive in:
//! - Entries are kept by `seq`, so one that comes twice (live, then again
//!   when a resume refills it) is shown once, and a conversation's newest
//!   `seq` only moves forward. Changes (edits, deletes, reactions, pins) are
//!   entries too, folded into their message when shown ([`wire::fold`]).
//! - Unread counts are derived from shown numbers (the newest message's less
//!   the read position's), so a message counted by the list answer and
//!   again by the live stream is not counted twice, and a change never is.

use std::collections::{BTreeMap, HashMap};

use wire::{
    api::ConversationSummary,
    fold::Shown,
    model::{
        Attachment, Conversation, ConversationId, ConversationKind, Message, MessageId, MessageKind, MessagePreview,
        Millis, UserId, MENTION_ALL,
    },
    protocol::{NoticeKind, Position, WsErrorCode, MAX_RESUME_POSITIONS},
};

#[derive(Clone, Debug, PartialEq)]
pub struct Inbox {
    me: UserId,
    /// Newest activity first; `None` until `GET /api/conversations` answers.
    chats: Option<Vec<ConversationSummary>>,
    /// The conversations whose messages were loaded, and everything since.
    threads: HashMap<ConversationId, Thread>,
    /// Why the server refused the user's latest change (an edit, a delete,
    /// a reaction, a pin), until the user has seen it.
    refused: Option<WsErrorCode>,
    /// The messages pinned when a chat opened (`GET …/pins`), latest pinned
    /// first: pins older than the loaded entries count from these.
    pins_at_open: HashMap<ConversationId, Vec<u64>>,
}

/// The loaded part of one conversation. Its messages always form one
/// unbroken run of sequence numbers: history pages extend it downwards, the
/// live stream (resumed from its newest) upwards.
#[derive(Clone, Debug, Default, PartialEq)]
struct Thread {
    messages: BTreeMap<u64, Message>,
    notices: Vec<NoticeLine>,
    /// The user's messages not acknowledged yet, oldest first.
    outbox: Vec<Outgoing>,
}

/// "Ada joined" or "Ada left", shown after the message `after_seq`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NoticeLine {
    pub after_seq: u64,
    pub user_id: UserId,
    pub kind: NoticeKind,
    /// Its place among the thread's notices, which makes it a unique key.
    pub n: usize,
}

/// A message or a change the user sent that the server has not acknowledged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Outgoing {
    /// Sent again with the same id after a reconnect, the server stores it once.
    pub client_id: String,
    pub kind: MessageKind,
    pub content: String,
    /// The uploaded file an image, voice, video or file message carries.
    pub attachment: Option<Box<Attachment>>,
    /// For a change: the seq of the message it changes.
    pub target: Option<u64>,
    /// The seq of the message this one answers.
    pub reply_to: Option<u64>,
    /// The members the text mentions.
    pub mentions: Vec<UserId>,
    pub created_ms: Millis,
    /// Why the server refused it; `None` while it is pending.
    pub failure: Option<WsErrorCode>,
}

impl Outgoing {
    pub fn text(client_id: String, content: String, created_ms: Millis) -> Outgoing {
        Outgoing { client_id, kind: MessageKind::Text, content, created_ms, ..Outgoing::default() }
    }

    /// An edit, delete, reaction or pin of the message at `target`.
    pub fn change(client_id: String, kind: MessageKind, target: u64, content: String, created_ms: Millis) -> Outgoing {
        Outgoing { client_id, kind, content, target: Some(target), created_ms, ..Outgoing::default() }
    }
}

/// One line of a conversation as the chat view shows it, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A stored message with its changes folded in.
    Message(Box<Shown>),
    Notice(NoticeLine),
    Outgoing(Outgoing),
}

/// What identifies a [`Line`] on screen. A pending message becomes a stored
/// one (a new key) once acknowledged, and changes key when it fails; a
/// stored one changes key with what its changes make of it (an edit, a
/// reaction): so its row is redrawn exactly then.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LineKey {
    Seq { seq: u64, look: u64 },
    Notice(usize),
    Outgoing { client_id: String, failed: bool },
}

impl Line {
    pub fn key(&self) -> LineKey {
        match self {
            Line::Message(m) => LineKey::Seq { seq: m.message.seq, look: look(m) },
            Line::Notice(n) => LineKey::Notice(n.n),
            Line::Outgoing(o) => LineKey::Outgoing { client_id: o.client_id.clone(), failed: o.failure.is_some() },
        }
    }

    /// Whom the line shows, when someone else than the user.
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Line::Message(m) => Some(&m.message.sender_id),
            Line::Notice(n) => Some(&n.user_id),
            Line::Outgoing(_) => None,
        }
    }

    /// When it happened, for the day separators.
    pub fn created_ms(&self) -> Option<Millis> {
        match self {
            Line::Message(m) => Some(m.message.created_ms),
            Line::Outgoing(o) => Some(o.created_ms),
            Line::Notice(_) => None,
        }
    }
}

/// A fingerprint of what a message's changes make of it.
fn look(shown: &Shown) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    let Shown { message, edited_ms, deleted_by, reactions, pinned } = shown;
    (&message.content, &message.mentions, edited_ms, deleted_by, pinned).hash(&mut hasher);
    reactions.iter().for_each(|r| (&r.emoji, &r.users).hash(&mut hasher));
    hasher.finish()
}

impl Thread {
    fn newest(&self) -> u64 {
        self.messages.last_key_value().map_or(0, |(seq, _)| *seq)
    }

    /// Every loaded entry, folded: what members see.
    fn folded(&self) -> wire::fold::Thread {
        let mut folded = wire::fold::Thread::default();
        self.messages.values().cloned().for_each(|m| folded.add(m));
        folded
    }
}

impl Inbox {
    pub fn new(me: UserId) -> Inbox {
        Inbox { me, chats: None, threads: HashMap::new(), refused: None, pins_at_open: HashMap::new() }
    }

    pub fn me(&self) -> &UserId {
        &self.me
    }

    /// The conversation list, newest activity first, of one kind or all;
    /// `None` before it is loaded.
    pub fn chats(&self, kind: Option<ConversationKind>) -> Option<Vec<ConversationSummary>> {
        let chats = self.chats.as_ref()?;
        Some(chats.iter().filter(|s| kind.is_none_or(|k| s.conversation.kind == k)).cloned().collect())
    }

    pub fn summary(&self, id: &ConversationId) -> Option<&ConversationSummary> {
        self.chats.as_ref()?.iter().find(|s| &s.conversation.id == id)
    }

    fn summary_mut(&mut self, id: &ConversationId) -> Option<&mut ConversationSummary> {
        self.chats.as_mut()?.iter_mut().find(|s| &s.conversation.id == id)
    }

    /// Takes a fresh list from the server. What this browser already knows
    /// to be newer (messages that came live meanwhile, reads) is kept.
    pub fn set_chats(&mut self, list: Vec<ConversationSummary>) {
        let old = self.chats.take().unwrap_or_default();
        let merged = list
            .into_iter()
            .map(|new| match old.iter().find(|o| o.conversation.id == new.conversation.id) {
                Some(known) => merge(known.clone(), new),
                None => new,
            })
            .collect();
        self.chats = Some(merged);
        self.sort();
    }

    /// Adds a conversation the user just started or joined, or updates it.
    pub fn add_chat(&mut self, summary: ConversationSummary) {
        let chats = self.chats.get_or_insert_with(Vec::new);
        match chats.iter_mut().find(|s| s.conversation.id == summary.conversation.id) {
            Some(known) => *known = merge(known.clone(), summary),
            None => chats.push(summary),
        }
        self.sort();
    }

    /// Takes a group's new settings (`PATCH` answer).
    pub fn update_conversation(&mut self, conversation: Conversation) {
        if let Some(known) = self.summary_mut(&conversation.id) {
            let fresh = ConversationSummary { conversation, ..known.clone() };
            *known = merge(known.clone(), fresh);
        }
    }

    /// Forgets a conversation the user left or was removed from.
    pub fn forget(&mut self, id: &ConversationId) {
        if let Some(chats) = &mut self.chats {
            chats.retain(|s| &s.conversation.id != id);
        }
        self.threads.remove(id);
        self.pins_at_open.remove(id);
    }

    fn sort(&mut self) {
        if let Some(chats) = &mut self.chats {
            chats.sort_by_key(|s| std::cmp::Reverse(s.conversation.last_activity_ms));
        }
    }

    /// A stored message, live or caught up. Returns `true` when the list is
    /// loaded but lacks its conversation: then the list needs reloading.
    pub fn receive(&mut self, message: Message) -> bool {
        let mine = message.sender_id == self.me;
        let missing = match self.summary_mut(&message.conversation_id) {
            // A change moves neither the list nor the read position; a
            // delete of the newest message empties its preview.
            Some(summary) if message.kind.is_change() => {
                let preview = summary.conversation.last_message.as_mut();
                if let Some(p) = preview.filter(|p| message.kind == MessageKind::Delete && message.target == Some(p.seq)) {
                    p.text.clear();
                }
                false
            }
            Some(summary) => {
                let c = &mut summary.conversation;
                if message.seq > c.last_seq {
                    c.last_seq = message.seq;
                    c.last_message = Some(MessagePreview::of(&message));
                    c.last_activity_ms = c.last_activity_ms.max(message.created_ms);
                }
                // The server records the sender's read position with the message.
                if mine {
                    summary.read_seq = summary.read_seq.max(message.seq);
                    summary.read_shown = summary.read_shown.max(message.shown);
                }
                recount(summary);
                false
            }
            None => self.chats.is_some(),
        };
        let mentioned = !mine && message.mentions.iter().any(|m| m == &self.me || m.0 == MENTION_ALL);
        if let Some(summary) = self.summary_mut(&message.conversation_id).filter(|_| mentioned) {
            summary.mention_seq = summary.mention_seq.max(message.seq);
        }
        if let Some(thread) = self.threads.get_mut(&message.conversation_id) {
            if mine {
                thread.outbox.retain(|o| o.client_id != message.client_id);
            }
            thread.messages.insert(message.seq, message);
        }
        self.sort();
        missing
    }

    /// The server stored the user's message `client_id` under `seq` (shown
    /// number `shown`), with `content` when that is not the text sent.
    pub fn ack(
        &mut self,
        conversation: &ConversationId,
        client_id: &str,
        seq: u64,
        shown: u64,
        id: MessageId,
        content: Option<String>,
    ) {
        let Some(thread) = self.threads.get_mut(conversation) else { return };
        let Some(at) = thread.outbox.iter().position(|o| o.client_id == client_id) else { return };
        let sent = thread.outbox.remove(at);
        // The live copy of the message may have come first; it has the server's time.
        if thread.messages.contains_key(&seq) {
            return;
        }
        self.receive(Message {
            id,
            conversation_id: conversation.clone(),
            seq,
            shown,
            sender_id: self.me.clone(),
            client_id: sent.client_id,
            kind: sent.kind,
            content: content.unwrap_or(sent.content),
            created_ms: sent.created_ms,
            attachment: sent.attachment,
            target: sent.target,
            reply_to: sent.reply_to,
            mentions: sent.mentions,
            ..Message::default()
        });
    }

    /// Adds a message the user is sending.
    pub fn queue(&mut self, conversation: &ConversationId, outgoing: Outgoing) {
        self.threads.entry(conversation.clone()).or_default().outbox.push(outgoing);
    }

    /// The server refused the message `client_id`. A refused change is
    /// dropped (there is nothing to retry: the message stays as it was),
    /// and why is kept for the user to see.
    pub fn fail(&mut self, client_id: &str, code: WsErrorCode) {
        for thread in self.threads.values_mut() {
            let Some(at) = thread.outbox.iter().position(|o| o.client_id == client_id) else { continue };
            if thread.outbox[at].kind.is_change() {
                thread.outbox.remove(at);
                self.refused = Some(code);
            } else {
                thread.outbox[at].failure = Some(code);
            }
            return;
        }
    }

    /// Why the server refused the user's latest change, until dismissed.
    pub fn refused(&self) -> Option<WsErrorCode> {
        self.refused
    }

    pub fn dismiss_refusal(&mut self) {
        self.refused = None;
    }

    /// The send `client_id` if it still waits for its ack, and where.
    pub fn pending(&self, client_id: &str) -> Option<(ConversationId, Outgoing)> {
        self.threads.iter().find_map(|(id, t)| {
            let outgoing = t.outbox.iter().find(|o| o.client_id == client_id && o.failure.is_none())?;
            Some((id.clone(), outgoing.clone()))
        })
    }

    /// Makes a failed message pending again and returns it, to be sent again.
    pub fn retry(&mut self, conversation: &ConversationId, client_id: &str) -> Option<Outgoing> {
        let thread = self.threads.get_mut(conversation)?;
        let outgoing = thread.outbox.iter_mut().find(|o| o.client_id == client_id)?;
        outgoing.failure = None;
        Some(outgoing.clone())
    }

    /// Every pending message, to send again on a new connection.
    pub fn unsent(&self) -> Vec<(ConversationId, Outgoing)> {
        self.threads
            .iter()
            .flat_map(|(id, t)| t.outbox.iter().filter(|o| o.failure.is_none()).map(|o| (id.clone(), o.clone())))
            .collect()
    }

    /// The user has read the conversation up to `seq` (here or on another
    /// device), whose shown number is `shown` when the server said it.
    pub fn read(&mut self, conversation: &ConversationId, seq: u64, shown: Option<u64>) {
        let held = self.threads.get(conversation).and_then(|t| t.messages.range(..=seq).next_back()).map(|(_, m)| m.shown);
        if let Some(summary) = self.summary_mut(conversation) {
            let newest = summary.conversation.last_message.as_ref().filter(|p| p.seq <= seq).map(|p| p.shown);
            summary.read_seq = summary.read_seq.max(seq);
            if let Some(shown) = shown.or(held).or(newest) {
                summary.read_shown = summary.read_shown.max(shown);
            }
            recount(summary);
        }
    }

    /// The newest message shown in the conversation, when the user has not
    /// read it yet (only known once the list is loaded).
    pub fn unread_shown(&self, conversation: &ConversationId) -> Option<u64> {
        let newest = self.threads.get(conversation)?.newest();
        let read = self.summary(conversation)?.read_seq;
        (newest > read).then_some(newest)
    }

    /// A page of history (newest first or not: order does not matter).
    pub fn load(&mut self, conversation: &ConversationId, page: Vec<Message>) {
        let thread = self.threads.entry(conversation.clone()).or_default();
        for message in page {
            thread.messages.insert(message.seq, message);
        }
    }

    /// The `before` of the next older history page, when there is one.
    pub fn older_than(&self, conversation: &ConversationId) -> Option<u64> {
        let oldest = *self.threads.get(conversation)?.messages.first_key_value()?.0;
        // Sequence numbers start at 1 and have no gaps.
        (oldest > 1).then_some(oldest)
    }

    /// Whether this conversation's messages are loaded.
    pub fn has_thread(&self, conversation: &ConversationId) -> bool {
        self.threads.contains_key(conversation)
    }

    /// Someone joined, left or was removed (being online is not the
    /// inbox's business). Returns `true` when the user joined a conversation
    /// the list lacks.
    pub fn notice(&mut self, conversation: &ConversationId, user: &UserId, kind: NoticeKind) -> bool {
        if !matches!(kind, NoticeKind::Join | NoticeKind::Leave | NoticeKind::Reject) {
            return false;
        }
        if user == &self.me && kind != NoticeKind::Join {
            self.forget(conversation);
            return false;
        }
        if let Some(thread) = self.threads.get_mut(conversation) {
            let line =
                NoticeLine { after_seq: thread.newest(), user_id: user.clone(), kind, n: thread.notices.len() };
            thread.notices.push(line);
        }
        user == &self.me && self.chats.is_some() && self.summary(conversation).is_none()
    }

    /// How many join and leave notices a conversation had while open: the
    /// group panel reloads its members when this changes.
    pub fn notices_seen(&self, conversation: &ConversationId) -> usize {
        self.threads.get(conversation).map_or(0, |t| t.notices.len())
    }

    /// The conversation's lines in order: stored messages (their changes
    /// folded in) with the notices between them, then the messages on their way.
    pub fn lines(&self, conversation: &ConversationId) -> Vec<Line> {
        let Some(thread) = self.threads.get(conversation) else { return Vec::new() };
        let mut notices = thread.notices.iter().peekable();
        let mut lines = Vec::with_capacity(thread.messages.len() + thread.notices.len() + thread.outbox.len());
        // Notices from before the oldest loaded message are not shown: they
        // would be out of place above history that is not loaded yet.
        let oldest = thread.messages.first_key_value().map_or(0, |(seq, _)| *seq);
        while notices.next_if(|n| n.after_seq < oldest).is_some() {}
        for shown in thread.folded().all_shown() {
            let seq = shown.message.seq;
            lines.push(Line::Message(Box::new(shown)));
            while let Some(n) = notices.next_if(|n| n.after_seq <= seq) {
                lines.push(Line::Notice(n.clone()));
            }
        }
        lines.extend(notices.cloned().map(Line::Notice));
        // Changes on their way show once stored, folded into their message.
        lines.extend(thread.outbox.iter().filter(|o| !o.kind.is_change()).cloned().map(Line::Outgoing));
        lines
    }

    /// The message at `seq` with its changes folded in, if it is loaded.
    pub fn shown(&self, conversation: &ConversationId, seq: u64) -> Option<Shown> {
        let thread = self.threads.get(conversation)?;
        let message = thread.messages.get(&seq).filter(|m| !m.kind.is_change())?;
        let mut folded = wire::fold::Thread::default();
        folded.add(message.clone());
        let changes = thread.messages.values().filter(|m| m.target == Some(seq) && m.kind.is_change());
        changes.cloned().for_each(|c| folded.add(c));
        folded.shown(seq)
    }

    /// The earlier texts of the message at `seq` and when each was replaced:
    /// its text as sent, then each edit but the last.
    pub fn edit_history(&self, conversation: &ConversationId, seq: u64) -> Vec<(String, Millis)> {
        let Some(thread) = self.threads.get(conversation) else { return Vec::new() };
        let Some(message) = thread.messages.get(&seq) else { return Vec::new() };
        let folded = thread.folded();
        let edits = folded.edits(seq);
        let edits = edits.iter().filter(|e| e.sender_id == message.sender_id);
        let texts = std::iter::once(&message.content).chain(edits.clone().map(|e| &e.content));
        texts.zip(edits.map(|e| e.created_ms)).map(|(text, replaced)| (text.clone(), replaced)).collect()
    }

    /// The pinned messages, the latest pinned first: as the loaded entries
    /// say, then those pinned when the chat opened that no loaded entry
    /// unpinned or deleted since.
    pub fn pinned(&self, conversation: &ConversationId) -> Vec<u64> {
        let Some(thread) = self.threads.get(conversation) else { return Vec::new() };
        let mut pinned = thread.folded().pinned();
        let decided = |seq: &u64| {
            let decides = |m: &Message| matches!(m.kind, MessageKind::Pin | MessageKind::Unpin | MessageKind::Delete);
            thread.messages.values().any(|m| m.target == Some(*seq) && decides(m))
        };
        let at_open = self.pins_at_open.get(conversation).into_iter().flatten();
        let earlier: Vec<u64> = at_open.filter(|s| !decided(s) && !pinned.contains(s)).copied().collect();
        pinned.extend(earlier);
        pinned
    }

    /// Takes the messages pinned now, from the server.
    pub fn set_pins(&mut self, conversation: &ConversationId, pins: Vec<u64>) {
        self.pins_at_open.insert(conversation.clone(), pins);
    }

    /// The user's newest loaded text message still standing: what Up in an empty composer edits.
    pub fn last_editable(&self, conversation: &ConversationId) -> Option<u64> {
        let thread = self.threads.get(conversation)?;
        let folded = thread.folded();
        let mine = thread.messages.values().rev().filter(|m| m.sender_id == self.me && !m.kind.is_change());
        let editable = mine.filter(|m| !m.content.is_empty() && m.call.is_none());
        editable.map(|m| m.seq).find(|seq| folded.shown(*seq).is_some_and(|s| s.deleted_by.is_none()))
    }

    /// Whether the entry at `seq` is loaded.
    pub fn holds(&self, conversation: &ConversationId, seq: u64) -> bool {
        self.threads.get(conversation).is_some_and(|t| t.messages.contains_key(&seq))
    }

    /// How far this browser has each conversation: for a loaded one, its
    /// newest message; otherwise the newest the list knows. A resume with
    /// these brings everything after. Loaded conversations come first, then
    /// the list's, most recently active first, as many as one resume holds.
    pub fn positions(&self) -> Vec<Position> {
        let mut loaded: Vec<(&ConversationId, u64)> = self.threads.iter().map(|(id, t)| (id, t.newest())).collect();
        loaded.sort_unstable();
        let listed = self.chats.iter().flatten().map(|s| (&s.conversation.id, s.conversation.last_seq));
        let listed = listed.filter(|(id, _)| !self.threads.contains_key(*id));
        loaded
            .into_iter()
            .chain(listed)
            .take(MAX_RESUME_POSITIONS)
            .map(|(id, seq)| Position { conversation_id: id.clone(), seq })
            .collect()
    }

    /// A resume left out the conversation's messages up to `upto`: what is
    /// loaded of it (all older) goes, so that the loaded run stays unbroken;
    /// history pages bring the rest back when wanted.
    pub fn skipped(&mut self, conversation: &ConversationId, upto: u64) {
        if let Some(thread) = self.threads.get_mut(conversation) {
            thread.messages.retain(|seq, _| *seq > upto);
        }
    }
}

/// `known` updated with `fresh` from the server, keeping whatever of `known` is newer.
fn merge(known: ConversationSummary, mut fresh: ConversationSummary) -> ConversationSummary {
    if known.conversation.last_seq > fresh.conversation.last_seq {
        let c = &mut fresh.conversation;
        c.last_seq = known.conversation.last_seq;
        c.last_message = known.conversation.last_message;
        c.last_activity_ms = c.last_activity_ms.max(known.conversation.last_activity_ms);
    }
    fresh.read_seq = fresh.read_seq.max(known.read_seq);
    fresh.read_shown = fresh.read_shown.max(known.read_shown);
    fresh.mention_seq = fresh.mention_seq.max(known.mention_seq);
    fresh.peer = fresh.peer.or(known.peer);
    recount(&mut fresh);
    fresh
}

fn recount(summary: &mut ConversationSummary) {
    let newest = summary.conversation.last_message.as_ref().map_or(0, |p| p.shown);
    summary.unread = newest.saturating_sub(summary.read_shown);
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::model::{JoinPolicy, Role, Visibility};

    fn me() -> UserId {
        UserId::from("me")
    }

    fn cid(id: &str) -> ConversationId {
        ConversationId::from(id)
    }

    fn summary(id: &str, last_seq: u64, read_seq: u64, activity: Millis) -> ConversationSummary {
        ConversationSummary {
            conversation: Conversation {
                id: cid(id),
                kind: ConversationKind::Group,
                visibility: Visibility::Hidden,
                join_policy: JoinPolicy::InviteOnly,
                name: id.to_uppercase(),
                description: String::new(),
                creator_id: me(),
                peer_id: None,
                created_ms: 0,
                last_seq,
                last_message: (last_seq > 0).then(|| MessagePreview {
                    seq: last_seq,
                    shown: last_seq,
                    sender_id: UserId::from("them"),
                    kind: MessageKind::Text,
                    text: String::new(),
                    created_ms: activity,
                }),
                last_activity_ms: activity,
            },
            role: Role::Member,
            read_seq,
            read_shown: read_seq,
            unread: last_seq - read_seq,
            mention_seq: 0,
            peer: None,
            peer_presence: wire::model::Presence::Offline,
            notify_default: Default::default(),
        }
    }

    fn message(conversation: &str, seq: u64, sender: &str, client_id: &str) -> Message {
        Message {
            id: MessageId(format!("{conversation}-{seq}")),
            conversation_id: cid(conversation),
            seq,
            shown: seq,
            sender_id: UserId::from(sender),
            client_id: client_id.into(),
            kind: MessageKind::Text,
            content: format!("text {seq}"),
            created_ms: 1000 + seq as Millis,
            ..Default::default()
        }
    }

    #[test]
    fn pins_from_before_the_loaded_entries_count_until_unpinned() {
        let mut inbox = Inbox::new(me());
        inbox.load(&cid("a"), vec![message("a", 10, "them", "x"), message("a", 11, "them", "y")]);
        inbox.set_pins(&cid("a"), vec![3, 10]);
        assert_eq!(inbox.pinned(&cid("a")), [3, 10]);
        let pin = |seq, target| Message { kind: MessageKind::Pin, target: Some(target), ..message("a", seq, "them", "p") };
        inbox.receive(pin(12, 11));
        assert_eq!(inbox.pinned(&cid("a")), [11, 3, 10], "the latest pinned first");
        inbox.receive(Message { kind: MessageKind::Unpin, ..pin(13, 3) });
        assert_eq!(inbox.pinned(&cid("a")), [11, 10]);
    }

    #[test]
    fn changes_fold_into_their_message_and_count_for_no_unread() {
        let mut inbox = Inbox::new(me());
        inbox.set_chats(vec![summary("a", 1, 1, 0)]);
        inbox.load(&cid("a"), vec![message("a", 1, "them", "x")]);
        let before = inbox.lines(&cid("a"))[0].key();
        let react = Message {
            kind: MessageKind::React,
            target: Some(1),
            content: "👍".into(),
            shown: 1,
            ..message("a", 2, "them", "r")
        };
        inbox.receive(react);
        inbox.receive(Message { shown: 2, ..message("a", 3, "them", "y") });
        assert_ne!(inbox.lines(&cid("a"))[0].key(), before, "a reacted message is drawn again");
        assert_eq!(inbox.summary(&cid("a")).unwrap().unread, 1, "the reaction is no message");
        assert_eq!(seqs(&inbox, "a"), [1, 3], "nor a line");
        match &inbox.lines(&cid("a"))[0] {
            Line::Message(m) => assert_eq!(m.reactions.len(), 1),
            other => panic!("{other:?}"),
        }
        inbox.read(&cid("a"), 2, None);
        assert_eq!(inbox.summary(&cid("a")).unwrap().unread, 1, "read up to the reaction: the third is still new");
        inbox.read(&cid("a"), 3, Some(2));
        assert_eq!(inbox.summary(&cid("a")).unwrap().unread, 0);
    }

    fn outgoing(client_id: &str) -> Outgoing {
        Outgoing::text(client_id.into(), "hello".into(), 5)
    }

    fn seqs(inbox: &Inbox, id: &str) -> Vec<u64> {
        inbox
            .lines(&cid(id))
            .iter()
            .filter_map(|l| match l {
                Line::Message(m) => Some(m.message.seq),
                _ => None,
            })
            .collect()
    }

    fn order(inbox: &Inbox) -> Vec<String> {
        inbox.chats(None).unwrap().iter().map(|s| s.conversation.id.0.clone()).collect()
    }

    #[test]
    fn new_messages_raise_unread_and_move_the_conversation_up() {
        let mut inbox = Inbox::new(me());
        inbox.set_chats(vec![summary("a", 3, 3, 30), summary("b", 1, 1, 10)]);
        assert!(!inbox.receive(message("b", 2, "ada", "x")));
        assert!(!inbox.receive(message("b", 3, "ada", "y")));
        assert_eq!(order(&inbox), ["b", "a"]);
        assert_eq!(inbox.summary(&cid("b")).unwrap().unread, 2);
        // The same message again (a resume refilling it) counts once.
        inbox.receive(message("b", 3, "ada", "y"));
        assert_eq!(inbox.summary(&cid("b")).unwrap().unread, 2);
        // Read on another device.
        inbox.read(&cid("b"), 3, None);
        assert_eq!(inbox.summary(&cid("b")).unwrap().unread, 0);
        // One's own messages are read already.
        inbox.receive(message("a", 4, "me", "z"));
        assert_eq!(inbox.summary(&cid("a")).unwrap().unread, 0);
    }

    #[test]
    fn a_message_of_an_unknown_conversation_asks_for_the_list() {
        let mut inbox = Inbox::new(me());
        assert!(!inbox.receive(message("a", 1, "ada", "x")), "no list yet: its loading brings it");
        inbox.set_chats(vec![]);
        assert!(inbox.receive(message("a", 2, "ada", "x")));
    }

    #[test]
    fn a_reloaded_list_keeps_what_came_live() {
        let mut inbox = Inbox::new(me());
        inbox.set_chats(vec![summary("a", 1, 1, 10)]);
        inbox.receive(message("a", 2, "ada", "x"));
        inbox.set_chats(vec![summary("a", 1, 1, 10)]);
        let a = inbox.summary(&cid("a")).unwrap();
        assert_eq!((a.conversation.last_seq, a.unread), (2, 1));
        assert_eq!(a.conversation.last_message.as_ref().unwrap().text, "text 2");
    }

    #[test]
    fn sending_ack_and_echo_in_either_order_show_one_message() {
        for ack_first in [true, false] {
            let mut inbox = Inbox::new(me());
            inbox.set_chats(vec![summary("a", 1, 1, 10)]);
            inbox.load(&cid("a"), vec![message("a", 1, "ada", "x")]);
            inbox.queue(&cid("a"), outgoing("c1"));
            assert!(matches!(inbox.lines(&cid("a")).last(), Some(Line::Outgoing(_))));
            assert_eq!(inbox.unsent().len(), 1);
            let echo = message("a", 2, "me", "c1");
            if ack_first {
                inbox.ack(&cid("a"), "c1", 2, 2, echo.id.clone(), None);
                inbox.receive(echo);
            } else {
                inbox.receive(echo.clone());
                inbox.ack(&cid("a"), "c1", 2, 2, echo.id, None);
            }
            assert_eq!(seqs(&inbox, "a"), [1, 2]);
            assert_eq!(inbox.lines(&cid("a")).len(), 2, "nothing pending is left");
            assert!(inbox.unsent().is_empty());
            assert_eq!(inbox.summary(&cid("a")).unwrap().unread, 0);
        }
    }

    #[test]
    fn an_ack_carries_the_text_as_stored() {
        let mut inbox = Inbox::new(me());
        inbox.queue(&cid("a"), outgoing("c1"));
        inbox.ack(&cid("a"), "c1", 1, 1, MessageId("m1".into()), Some("stored 😄".into()));
        match inbox.lines(&cid("a")).as_slice() {
            [Line::Message(m)] => assert_eq!(m.message.content, "stored 😄"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failed_messages_wait_for_a_retry() {
        let mut inbox = Inbox::new(me());
        inbox.queue(&cid("a"), outgoing("c1"));
        inbox.fail("c1", WsErrorCode::RateLimited);
        assert!(inbox.unsent().is_empty(), "a failed message is not resent by itself");
        let Some(Line::Outgoing(o)) = inbox.lines(&cid("a")).pop() else { panic!() };
        assert_eq!(o.failure, Some(WsErrorCode::RateLimited));
        assert!(inbox.pending("c1").is_none(), "failed, not pending");
        assert_eq!(inbox.retry(&cid("a"), "c1").unwrap().client_id, "c1");
        assert_eq!(inbox.unsent().len(), 1);
        assert_eq!(inbox.pending("c1").map(|(c, o)| (c, o.client_id)), Some((cid("a"), "c1".into())));
    }

    #[test]
    fn history_pages_extend_the_thread_downwards() {
        let mut inbox = Inbox::new(me());
        assert_eq!(inbox.older_than(&cid("a")), None);
        inbox.load(&cid("a"), (51..=100).rev().map(|s| message("a", s, "ada", "x")).collect());
        assert_eq!(inbox.older_than(&cid("a")), Some(51));
        inbox.load(&cid("a"), (1..=50).rev().map(|s| message("a", s, "ada", "x")).collect());
        assert_eq!(inbox.older_than(&cid("a")), None);
        assert_eq!(seqs(&inbox, "a"), (1..=100).collect::<Vec<_>>());
        inbox.load(&cid("b"), vec![]);
        assert!(inbox.has_thread(&cid("b")));
        assert_eq!(inbox.older_than(&cid("b")), None);
    }

    #[test]
    fn positions_come_from_threads_then_the_list() {
        let mut inbox = Inbox::new(me());
        inbox.set_chats(vec![summary("a", 7, 7, 10), summary("b", 4, 4, 5)]);
        inbox.load(&cid("b"), vec![message("b", 3, "ada", "x")]);
        let positions: Vec<(String, u64)> =
            inbox.positions().into_iter().map(|p| (p.conversation_id.0, p.seq)).collect();
        assert_eq!(positions, [("b".into(), 3), ("a".into(), 7)]);
    }

    #[test]
    fn a_skip_drops_what_is_loaded_so_history_fills_downwards() {
        let mut inbox = Inbox::new(me());
        inbox.set_chats(vec![summary("a", 2, 2, 10)]);
        inbox.load(&cid("a"), vec![message("a", 1, "ada", "x"), message("a", 2, "ada", "y")]);
        inbox.skipped(&cid("a"), 300);
        inbox.receive(message("a", 301, "ada", "z"));
        assert_eq!(inbox.older_than(&cid("a")), Some(301));
        assert_eq!(inbox.positions()[0].seq, 301);
    }

    #[test]
    fn notices_sit_between_messages_and_leaving_forgets() {
        let mut inbox = Inbox::new(me());
        inbox.set_chats(vec![summary("a", 1, 1, 10)]);
        inbox.load(&cid("a"), vec![message("a", 1, "ada", "x")]);
        inbox.notice(&cid("a"), &UserId::from("bo"), NoticeKind::Join);
        inbox.receive(message("a", 2, "bo", "y"));
        let keys: Vec<LineKey> = inbox.lines(&cid("a")).iter().map(Line::key).collect();
        assert!(matches!(keys[..], [LineKey::Seq { seq: 1, .. }, LineKey::Notice(0), LineKey::Seq { seq: 2, .. }]));
        assert_eq!(inbox.notices_seen(&cid("a")), 1);

        assert!(inbox.notice(&cid("new"), &me(), NoticeKind::Join), "joined elsewhere: reload the list");
        inbox.notice(&cid("a"), &me(), NoticeKind::Leave);
        assert!(inbox.summary(&cid("a")).is_none() && !inbox.has_thread(&cid("a")));
    }

    #[test]
    fn unread_shown_needs_the_list_and_a_newer_message() {
        let mut inbox = Inbox::new(me());
        inbox.load(&cid("a"), vec![message("a", 2, "ada", "x")]);
        assert_eq!(inbox.unread_shown(&cid("a")), None);
        inbox.set_chats(vec![summary("a", 2, 1, 10)]);
        assert_eq!(inbox.unread_shown(&cid("a")), Some(2));
        inbox.read(&cid("a"), 2, None);
        assert_eq!(inbox.unread_shown(&cid("a")), None);
    }
}
