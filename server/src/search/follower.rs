//! Keeps the node's index in step with the store: it follows every
//! conversation's sequence from where the index's cursor for it stands.
//!
//! The hub tells it which conversations have new entries (on any node: in a
//! cluster the bus tells every node what was stored, see `Hub::observe`); it
//! reads them from the store, the
//! truth, and commits. A walk over every conversation runs at start-up
//! (after a restart, or to build a new index) and every [`SWEEP_EVERY`],
//! so an event that never arrived costs only time. Since the store's
//! sequence is the input, every node's index ends up the same.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::{watch, Notify};
use wire::model::{ConversationId, Message, MessageKind};

use super::index::{Doc, IndexError, Op, SearchIndex, SEARCHED_KINDS};
use crate::{
    backoff::Backoff,
    store::{conversations::MAX_ID_PAGE, messages::MAX_PAGE, DynStore, StoreError},
};

/// How often every conversation is looked at, events or not.
const SWEEP_EVERY: Duration = Duration::from_secs(300);
/// How long a wake-up waits for more entries before reading them.
const GATHER: Duration = Duration::from_millis(50);
/// Rounds of reading and committing start at most this often: each commit
/// writes a segment that is merged later. Back to back, at 500 messages a
/// second, they took about a fifth of the node's core; a quiet node still
/// indexes a lone message within [`GATHER`].
const ROUND_EVERY: Duration = Duration::from_secs(1);
/// During a walk: commit (and log progress) after this many entries or this long.
const COMMIT_ENTRIES: usize = 20_000;
const COMMIT_EVERY: Duration = Duration::from_secs(5);

/// Conversations with entries the index has not read yet.
#[derive(Default)]
pub struct Wake {
    pending: Mutex<(HashSet<ConversationId>, Option<Instant>)>,
    notify: Notify,
}

impl Wake {
    /// Notes that the conversation has a new entry.
    pub fn mark(&self, conversation: &ConversationId) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.0.insert(conversation.clone());
        pending.1.get_or_insert_with(Instant::now);
        drop(pending);
        self.notify.notify_one();
    }

    /// Whether an entry of this kind changes what search finds.
    pub fn matters(kind: MessageKind) -> bool {
        SEARCHED_KINDS.contains(&kind) || matches!(kind, MessageKind::Edit | MessageKind::Delete)
    }

    /// The conversations noted, and since when the oldest note waits.
    fn take(&self) -> (Vec<ConversationId>, Option<Instant>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (set, since) = std::mem::take(&mut *pending);
        (set.into_iter().collect(), since)
    }
}

/// Why an entry could not be indexed.
#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

pub struct Follower {
    pub store: DynStore,
    pub index: Arc<SearchIndex>,
    pub wake: Arc<Wake>,
}

impl Follower {
    /// Follows until `stop` turns true; `rebuilding` says the index started empty.
    pub async fn run(self, mut stop: watch::Receiver<bool>, rebuilding: bool) {
        let mut backoff = Backoff::default();
        let mut next_sweep = tokio::time::Instant::now();
        let mut rebuilding = rebuilding;
        loop {
            if tokio::time::Instant::now() >= next_sweep {
                if self.sweep(&stop, rebuilding).await {
                    rebuilding = false;
                    next_sweep = tokio::time::Instant::now() + SWEEP_EVERY;
                } else {
                    next_sweep = tokio::time::Instant::now() + backoff.take();
                }
            }
            let round = tokio::time::Instant::now();
            let (dirty, since) = self.wake.take();
            metrics::gauge!("natter_search_pending_conversations").set(dirty.len() as f64);
            if !dirty.is_empty() {
                let mut failed = false;
                for conversation in &dirty {
                    if let Err(e) = self.catch_up(conversation).await {
                        tracing::warn!(error = %e, %conversation, "search index: cannot follow the conversation");
                        self.wake.mark(conversation);
                        failed = true;
                    }
                }
                if self.commit().await.is_err() {
                    dirty.iter().for_each(|c| self.wake.mark(c));
                    failed = true;
                }
                if let Some(since) = since.filter(|_| !failed) {
                    metrics::gauge!("natter_search_lag_seconds").set(since.elapsed().as_secs_f64());
                }
                if !failed {
                    backoff.reset();
                    tokio::select! {
                        _ = tokio::time::sleep_until(round + ROUND_EVERY) => {}
                        _ = stop.changed() => {}
                    }
                    if *stop.borrow() {
                        return;
                    }
                    continue;
                }
            }
            let wait = if dirty.is_empty() { next_sweep } else { tokio::time::Instant::now() + backoff.take() };
            tokio::select! {
                _ = self.wake.notify.notified() => tokio::time::sleep(GATHER).await,
                _ = tokio::time::sleep_until(wait) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// Reads every conversation's new entries; false if the walk broke off.
    async fn sweep(&self, stop: &watch::Receiver<bool>, rebuilding: bool) -> bool {
        let started = Instant::now();
        if rebuilding {
            tracing::info!("search index: building from the store");
        }
        let (mut after, mut conversations, mut entries, mut uncommitted) = (None, 0usize, 0usize, 0usize);
        let mut last_commit = Instant::now();
        loop {
            let ids = match self.store.conversation_ids_after(after.as_ref(), MAX_ID_PAGE).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "search index: cannot list the conversations");
                    let _ = self.commit().await;
                    return false;
                }
            };
            let Some(last) = ids.last().cloned() else { break };
            for conversation in &ids {
                if *stop.borrow() {
                    let _ = self.commit().await;
                    return false;
                }
                match self.catch_up(conversation).await {
                    Ok(n) => uncommitted += n,
                    Err(e) => {
                        tracing::warn!(error = %e, %conversation, "search index: cannot follow the conversation");
                        self.wake.mark(conversation);
                    }
                }
                conversations += 1;
                if uncommitted >= COMMIT_ENTRIES || last_commit.elapsed() >= COMMIT_EVERY {
                    entries += uncommitted;
                    uncommitted = 0;
                    last_commit = Instant::now();
                    if self.commit().await.is_err() {
                        return false;
                    }
                    if rebuilding {
                        tracing::info!(conversations, entries, "search index: building");
                    }
                }
            }
            after = Some(last);
        }
        entries += uncommitted;
        if self.commit().await.is_err() {
            return false;
        }
        metrics::gauge!("natter_search_index_bytes").set(self.index.bytes() as f64);
        if rebuilding || entries > 0 {
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(conversations, entries, secs, documents = self.index.len(), "search index: caught up");
        }
        true
    }

    /// Indexes the conversation's entries after its cursor; how many.
    async fn catch_up(&self, conversation: &ConversationId) -> Result<usize, FollowError> {
        let mut after = self.index.cursor(conversation);
        let mut read = 0;
        loop {
            let page = self.store.messages_after(conversation, after, MAX_PAGE).await?;
            let Some(last) = page.last().map(|m| m.seq) else { break };
            let mut ops = Vec::new();
            for entry in &page {
                ops.extend(self.op_for(entry).await?);
            }
            let (index, id) = (self.index.clone(), conversation.clone());
            tokio::task::spawn_blocking(move || index.apply(&id, ops, last)).await.expect("indexing panicked")?;
            metrics::counter!("natter_search_entries_total").increment(page.len() as u64);
            read += page.len();
            after = last;
            if page.len() < MAX_PAGE as usize {
                break;
            }
        }
        Ok(read)
    }

    /// What an entry changes in the index. An edit re-indexes its target
    /// with the new text, a delete removes it; reactions and pins change nothing.
    async fn op_for(&self, entry: &Message) -> Result<Option<Op>, StoreError> {
        let remove = |seq| Op::Remove { conversation_id: entry.conversation_id.clone(), seq };
        Ok(match (entry.kind, entry.target) {
            (MessageKind::Delete, Some(target)) => Some(remove(target)),
            (MessageKind::Edit, Some(target)) => {
                let Some(original) = self.store.message_at(&entry.conversation_id, target).await? else {
                    return Ok(None);
                };
                Some(Doc::of(&original, &entry.content).map_or_else(|| remove(target), Op::Replace))
            }
            _ => Doc::of(entry, &entry.content).map(Op::Add),
        })
    }

    /// Commits in the blocking pool; on failure drops the uncommitted work
    /// (its cursors too, so it is read again).
    async fn commit(&self) -> Result<(), IndexError> {
        let index = self.index.clone();
        let result = tokio::task::spawn_blocking(move || {
            let result = index.commit();
            if let Err(e) = &result {
                tracing::error!(error = %e, "search index: cannot commit");
                if let Err(e) = index.roll_back() {
                    tracing::error!(error = %e, "search index: cannot roll back");
                }
            }
            metrics::gauge!("natter_search_documents").set(index.len() as f64);
            result
        });
        result.await.expect("committing panicked")
    }
}
