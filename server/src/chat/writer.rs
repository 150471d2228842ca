//! Stores messages in batches (the seed's 批量入库) and publishes them.
//!
//! One task per node takes drafts from a queue. Whatever is waiting when it
//! starts a write goes into the same bulk write, so a quiet server writes each
//! message at once (no timer holds acks back) and a busy one writes many per
//! round trip. Each sender is answered as soon as the batch is durable.

use std::{collections::HashMap, sync::Arc};

use tokio::sync::{mpsc, oneshot};
use wire::model::{ConversationId, Message, MessagePreview, UserId, MENTION_ALL};

use crate::{
    hub::{Fanout, HubEvent},
    store::{
        conversations::{Mentioned, Moves},
        messages::{Appended, MessageDraft},
        DynStore, StoreError,
    },
};

/// Most drafts stored in one bulk write.
const MAX_BATCH: usize = 128;
/// Drafts waiting beyond this make senders wait for room.
const QUEUE: usize = 4096;

struct Job {
    draft: MessageDraft,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// Told of each message this node stored, after its fan-out (pushes). It
/// must not wait: whatever it does with the message happens elsewhere.
pub trait Listener: Send + Sync + 'static {
    fn stored(&self, message: Message);
}

impl Writer {
    /// Starts the writing task; it ends when the last `Writer` handle is dropped.
    pub fn start(store: DynStore, fanout: Arc<dyn Fanout>, listener: impl Listener) -> Writer {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(queue, store, fanout, listener));
        Writer { jobs }
    }

    /// Stores the draft and answers once it is durable.
    pub async fn append(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        let stopped = || StoreError::Unavailable("the message writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { draft, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(mut queue: mpsc::Receiver<Job>, store: DynStore, fanout: Arc<dyn Fanout>, listener: impl Listener) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("natter_message_batch_size").record(jobs.len() as f64);
        let (drafts, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.draft, j.reply)).unzip();
        let results = store.append_messages(drafts).await;
        let mut stored = Vec::new();
        for (result, reply) in results.into_iter().zip(replies) {
            if let Ok(appended) = &result {
                if !appended.duplicate {
                    stored.push(appended.message.clone());
                }
            }
            let _ = reply.send(result); // the sender may have gone; the message stays stored
        }
        after_store(&store, fanout.as_ref(), &listener, stored).await;
    }
}

/// What follows storing: the fan-out first, since recipients wait for it
/// and nothing else does, each message then handed to the listener
/// (pushes, queued); then, in one store write, what the batch moved (see
/// [`moves_of`]); then the mentioned members' mention positions.
async fn after_store(store: &DynStore, fanout: &dyn Fanout, listener: &impl Listener, entries: Vec<Message>) {
    let moves = moves_of(&entries);
    let mentioning: Vec<(ConversationId, UserId, Vec<UserId>, u64)> = entries
        .iter()
        .filter(|m| !m.kind.is_change() && !m.mentions.is_empty())
        .map(|m| (m.conversation_id.clone(), m.sender_id.clone(), m.mentions.clone(), m.seq))
        .collect();
    for message in entries {
        fanout.publish(HubEvent::Message { message: message.clone() }).await;
        listener.stored(message);
    }
    if let Err(e) = store.record_moves(moves).await {
        tracing::warn!(error = %e, "could not record the newest messages and the senders' read positions");
    }
    for (conversation, sender, mentions, seq) in mentioning {
        if let Err(e) = raise_mentions(store, &conversation, &sender, &mentions, seq).await {
            tracing::warn!(error = %e, %conversation, "could not record a mention");
        }
    }
}

/// What a batch moves: each conversation's newest message and, where a
/// change followed it, its newest entry; each sender's read position (one
/// has read what one wrote). A change moves only the newest entry: a
/// reaction to an old message reads nothing newer (an edit's new mentions
/// are `Chat`'s, which knows whom the message mentioned before).
fn moves_of(entries: &[Message]) -> Moves {
    let mut newest: HashMap<&ConversationId, MessagePreview> = HashMap::new();
    let mut newest_entry: HashMap<&ConversationId, u64> = HashMap::new();
    let mut read: HashMap<(&ConversationId, &UserId), (u64, u64)> = HashMap::new();
    for m in entries {
        let seq = newest_entry.entry(&m.conversation_id).or_default();
        *seq = (*seq).max(m.seq);
        if m.kind.is_change() {
            continue;
        }
        if newest.get(&m.conversation_id).is_none_or(|p| m.seq > p.seq) {
            newest.insert(&m.conversation_id, MessagePreview::of(m));
        }
        let position = read.entry((&m.conversation_id, &m.sender_id)).or_default();
        *position = (*position).max((m.seq, m.shown));
    }
    // Recording the newest message records the newest entry too, unless a change followed it.
    newest_entry.retain(|conversation, seq| newest.get(conversation).is_none_or(|p| *seq > p.seq));
    Moves {
        newest_messages: newest.into_iter().map(|(c, p)| (c.clone(), p)).collect(),
        newest_entries: newest_entry.into_iter().map(|(c, seq)| (c.clone(), seq)).collect(),
        read: read.into_iter().map(|((c, u), (seq, shown))| (c.clone(), u.clone(), seq, shown)).collect(),
    }
}

/// Raises the mention position of each member `mentions` names to `seq`, in
/// one update: `@all` is every member but the sender.
pub(super) async fn raise_mentions(
    store: &DynStore,
    conversation: &ConversationId,
    sender: &UserId,
    mentions: &[UserId],
    seq: u64,
) -> Result<(), StoreError> {
    let who = match mentions.iter().any(|u| u.0 == MENTION_ALL) {
        true => Mentioned::AllBut(sender),
        false => Mentioned::Members(mentions),
    };
    store.raise_mention_seq(conversation, who, seq).await
}

#[cfg(test)]
mod tests {
    use wire::model::MessageKind;

    use super::*;

    fn entry(conversation: &str, seq: u64, shown: u64, sender: &str, kind: MessageKind) -> Message {
        let (conversation_id, sender_id) = (ConversationId::from(conversation), UserId::from(sender));
        Message { conversation_id, seq, shown, sender_id, kind, ..Message::default() }
    }

    fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
        v.sort();
        v
    }

    #[test]
    fn a_batch_moves_each_conversation_once_and_each_sender_to_their_newest() {
        let batch = [
            entry("a", 1, 1, "ann", MessageKind::Text),
            entry("a", 2, 2, "bob", MessageKind::Text),
            entry("a", 3, 3, "ann", MessageKind::Text),
            entry("b", 7, 5, "ann", MessageKind::Text),
            entry("b", 8, 5, "bob", MessageKind::React),
            entry("c", 4, 2, "cat", MessageKind::Edit),
        ];
        let moves = moves_of(&batch);
        let newest: Vec<(String, u64)> = moves.newest_messages.iter().map(|(c, p)| (c.0.clone(), p.seq)).collect();
        assert_eq!(sorted(newest), [("a".into(), 3), ("b".into(), 7)]);
        let entries: Vec<(String, u64)> = moves.newest_entries.iter().map(|(c, seq)| (c.0.clone(), *seq)).collect();
        assert_eq!(sorted(entries), [("b".into(), 8), ("c".into(), 4)], "where a change came last");
        let read: Vec<(String, String, u64, u64)> =
            moves.read.iter().map(|(c, u, seq, shown)| (c.0.clone(), u.0.clone(), *seq, *shown)).collect();
        let want = [("a", "ann", 3, 3), ("a", "bob", 2, 2), ("b", "ann", 7, 5)];
        assert_eq!(sorted(read), want.map(|(c, u, seq, shown)| (c.to_owned(), u.to_owned(), seq, shown)), "changes read nothing");
    }
}
