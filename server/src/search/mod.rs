//! Message search that works for Chinese: a tantivy index per node, fed
//! from the stored sequence, asked with queries built from analyzed terms.
//!
//! | module | holds |
//! |---|---|
//! | `analyzer` | text to terms: folding, CJK unigrams and bigrams with positions, words (no I/O) |
//! | `query` | a user's query to clauses (quotes are the only syntax), excerpts and highlights (no I/O) |
//! | `index` | the tantivy index, its documents and the cursors committed with them |
//! | `follower` | keeps the index in step with every conversation's sequence |
//! | here | [`Search`]: checks a request, filters by membership, runs it, shapes the hits |
//!
//! Membership is checked at query time against the store, so leaving a
//! group hides its messages at once and the index never needs to know
//! who is in what.

pub mod analyzer;
mod follower;
pub mod index;
pub mod query;

use std::{path::Path, sync::Arc};

use tokio::{sync::watch, task::JoinHandle};
use wire::{
    api::{SearchHit, SearchParams, SearchResults, MAX_SEARCH_DEPTH},
    protocol::{ApiError, ErrorCode},
    model::{ConversationId, UserId},
};

use self::{
    follower::{Follower, Wake},
    index::{Doc, Filters, IndexError, SearchIndex, SEARCHED_KINDS},
    query::Parsed,
};
use crate::{
    hub::Hub,
    ratelimit::budgets::{Action, UserBudgets},
    store::{DynStore, StoreError},
};

/// The index's directory under the data dir.
pub const DIR: &str = "search";

/// Why a search was not answered.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{0}")]
    Invalid(ApiError),
    #[error("searching too often")]
    RateLimited(std::time::Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> ApiError {
        match e {
            SearchError::Invalid(e) => e,
            SearchError::RateLimited(wait) => ApiError::rate_limited("searching too often; slow down", wait),
            SearchError::Store(e) => e.into(),
            SearchError::Index(e) => ApiError::new(ErrorCode::Internal, e.to_string()),
        }
    }
}

pub struct Search {
    index: Arc<SearchIndex>,
    store: DynStore,
    budgets: Arc<UserBudgets>,
}

impl Search {
    /// Opens (or starts building) the index in `dir` (`<data dir>/search`)
    /// and starts following the store; the task ends when `stop` turns true.
    pub fn start(
        dir: &Path,
        store: DynStore,
        hub: &Hub,
        budgets: Arc<UserBudgets>,
        stop: watch::Receiver<bool>,
    ) -> Result<(Arc<Search>, JoinHandle<()>), IndexError> {
        let (index, rebuilding) = SearchIndex::open(dir)?;
        let index = Arc::new(index);
        let wake = Arc::new(Wake::default());
        let noted = wake.clone();
        hub.observe(move |conversation, kind| {
            if Wake::matters(kind) {
                noted.mark(conversation);
            }
        });
        let follower = Follower { store: store.clone(), index: index.clone(), wake };
        let task = tokio::spawn(follower.run(stop, rebuilding));
        Ok((Arc::new(Search { index, store, budgets }), task))
    }

    /// The messages of `user`'s conversations that match `params`.
    pub async fn search(&self, user: &UserId, params: &SearchParams) -> Result<SearchResults, SearchError> {
        let (q, limit) = params.check().map_err(SearchError::Invalid)?;
        let parsed = query::parse(q);
        if parsed.is_empty() {
            let e = ApiError::new(ErrorCode::EmptyQuery, "the search query holds no letter, digit or character");
            return Err(SearchError::Invalid(e.about("q")));
        }
        let offset = match &params.cursor {
            None => 0,
            Some(c) => c.parse::<u32>().ok().filter(|&o| o < MAX_SEARCH_DEPTH).ok_or_else(|| {
                SearchError::Invalid(ApiError::invalid("cursor", "not a cursor this search gave"))
            })?,
        };
        if params.kind.is_some_and(|k| !SEARCHED_KINDS.contains(&k)) {
            return Err(SearchError::Invalid(ApiError::invalid("kind", "kind is text, image, file, voice or video")));
        }
        self.budgets.spend(Action::SearchMessages, user).await.map_err(SearchError::RateLimited)?;
        let conversations = self.conversations(user, params.conversation.as_ref()).await?;
        let limit = limit.min(MAX_SEARCH_DEPTH - offset);
        let text = query::build(&parsed, self.index.body_field());
        let (index, params) = (self.index.clone(), params.clone());
        let found = tokio::task::spawn_blocking(move || {
            let filters = Filters {
                conversations: &conversations,
                from: params.from.as_ref(),
                kind: params.kind,
                after: params.after,
                before: params.before,
            };
            // One more than asked says whether there is a next page.
            index.search(text, &filters, params.order, offset as usize, limit as usize + 1)
        });
        let found = found.await.expect("searching panicked")?;
        let more = found.len() > limit as usize && offset + limit < MAX_SEARCH_DEPTH;
        let hits = found.into_iter().take(limit as usize).map(|doc| hit(doc, &parsed)).collect();
        Ok(SearchResults { hits, next_cursor: more.then(|| (offset + limit).to_string()) })
    }

    /// The conversations searched: the one asked for, if the user is in
    /// it (else "no such conversation", as for anyone outside), or all of theirs.
    async fn conversations(
        &self,
        user: &UserId,
        only: Option<&ConversationId>,
    ) -> Result<Vec<ConversationId>, SearchError> {
        match only {
            Some(conversation) => match self.store.member(conversation, user).await? {
                Some(_) => Ok(vec![conversation.clone()]),
                None => {
                    let e = ApiError::new(ErrorCode::NotFound, "no such conversation").about("conversation");
                    Err(SearchError::Invalid(e))
                }
            },
            None => Ok(self.store.memberships_of(user).await?.into_iter().map(|m| m.conversation_id).collect()),
        }
    }
}

/// A found document as the asker sees it: the text around the first match,
/// or the file name when only it matched.
fn hit(doc: Doc, parsed: &Parsed) -> SearchHit {
    let in_text = query::highlights(&doc.text, &parsed.needles);
    let (shown, marks) = match &doc.file_name {
        Some(name) if in_text.is_empty() => (name.as_str(), query::highlights(name, &parsed.needles)),
        _ => (doc.text.as_str(), in_text),
    };
    let (excerpt, highlights) = query::excerpt(shown, &marks);
    SearchHit {
        conversation_id: doc.conversation_id,
        seq: doc.seq,
        sender_id: doc.sender_id,
        kind: doc.kind,
        created_ms: doc.created_ms,
        excerpt,
        highlights,
    }
}

/// Bytes of the files under `dir`, at any depth.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
