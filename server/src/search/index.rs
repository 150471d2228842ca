//! The node's search index: a tantivy index in `<data dir>/search`, one
//! document per searchable message, and how far each conversation's
//! sequence has been indexed.
//!
//! Those positions (the *cursors*) are written in the commit itself (its
//! payload), so the documents and the positions they reach are always
//! saved together: a node that stops at any moment resumes exactly where
//! its last commit ended. A missing index, one that does not open, or one
//! of another [`FORMAT`] is built anew from the store.

use std::{
    collections::HashMap,
    ops::Bound,
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard},
};

use serde::{Deserialize, Serialize};
use tantivy::{
    collector::TopDocs,
    directory::{
        error::{LockError, OpenReadError, OpenWriteError, DeleteError},
        Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, WatchCallback, WatchHandle, WritePtr,
    },
    query::Query,
    schema::{
        Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED,
        STORED, STRING,
    },
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, TantivyDocument, Term,
};
use wire::{
    api::SearchOrder,
    model::{ConversationId, Message, MessageKind, Millis, UserId},
};

use super::analyzer::{ChatTokenizer, TOKENIZER};

/// The index's layout and analysis: bump it when either changes, and
/// every node rebuilds its index from the store on its next start.
pub const FORMAT: u32 = 1;

/// Memory the writer buffers before it writes a segment.
const WRITER_HEAP: usize = 64 << 20;

/// Kinds of message whose text or file name is searched.
pub const SEARCHED_KINDS: [MessageKind; 5] =
    [MessageKind::Text, MessageKind::Image, MessageKind::File, MessageKind::Voice, MessageKind::Video];

/// What the index keeps of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc {
    pub conversation_id: ConversationId,
    pub seq: u64,
    pub sender_id: UserId,
    pub kind: MessageKind,
    pub created_ms: Millis,
    pub text: String,
    pub file_name: Option<String>,
}

impl Doc {
    /// The document of a message showing `text` (its own, or an edit's);
    /// `None` when there is nothing to search.
    pub fn of(message: &Message, text: &str) -> Option<Doc> {
        let file_name = message.attachment.as_ref().map(|a| a.name.clone()).filter(|n| !n.is_empty());
        if !SEARCHED_KINDS.contains(&message.kind) || (text.trim().is_empty() && file_name.is_none()) {
            return None;
        }
        Some(Doc {
            conversation_id: message.conversation_id.clone(),
            seq: message.seq,
            sender_id: message.sender_id.clone(),
            kind: message.kind,
            created_ms: message.created_ms,
            text: text.to_owned(),
            file_name,
        })
    }
}

/// A change to the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A new message's document. Entries are read once (past the cursor),
    /// so it cannot be there already, and adding it costs no delete.
    Add(Doc),
    /// The document of an edited message, in place of the one it had.
    Replace(Doc),
    Remove { conversation_id: ConversationId, seq: u64 },
}

/// What the commit payload holds.
#[derive(Default, Serialize, Deserialize)]
struct Payload {
    format: u32,
    cursors: HashMap<ConversationId, u64>,
}

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    conversation: Field,
    seq: Field,
    sender: Field,
    kind: Field,
    created: Field,
    body: Field,
    text: Field,
    file_name: Field,
}

const CREATED: &str = "created_ms";

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let analyzed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        key: b.add_text_field("key", STRING),
        conversation: b.add_text_field("conversation", STRING | STORED),
        seq: b.add_u64_field("seq", STORED),
        sender: b.add_text_field("sender", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        created: b.add_i64_field(CREATED, NumericOptions::from(INDEXED | STORED | FAST)),
        body: b.add_text_field("body", analyzed),
        text: b.add_text_field("text", STORED),
        file_name: b.add_text_field("file_name", STORED),
    };
    (b.build(), fields)
}

/// The term naming one message's document.
fn key(conversation: &ConversationId, seq: u64) -> String {
    format!("{conversation}/{seq}")
}

/// The filters of a search besides its text.
pub struct Filters<'a> {
    pub conversations: &'a [ConversationId],
    pub from: Option<&'a UserId>,
    pub kind: Option<MessageKind>,
    pub after: Option<Millis>,
    pub before: Option<Millis>,
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    /// Indexed up to, per conversation: committed and pending alike.
    cursors: Mutex<HashMap<ConversationId, u64>>,
    dir: PathBuf,
}

/// Why the index cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Io(#[from] std::io::Error),
}

impl SearchIndex {
    /// Opens the index in `dir`, or makes an empty one there (then the
    /// second value is true: it must be filled from the store).
    pub fn open(dir: &Path) -> Result<(SearchIndex, bool), IndexError> {
        if let Some(opened) = Self::open_existing(dir) {
            return Ok((opened?, false));
        }
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        crate::private::create_dir_all(dir)?;
        let index = Index::create(PrivateDirectory::open(dir)?, schema().0, Default::default())?;
        Ok((Self::with(index, dir, HashMap::new())?, true))
    }

    /// `None` when there is no usable index of this format.
    fn open_existing(dir: &Path) -> Option<Result<SearchIndex, IndexError>> {
        let index = Index::open(PrivateDirectory::open(dir).ok()?).ok()?;
        let payload = index.load_metas().ok()?.payload?;
        let payload: Payload = serde_json::from_str(&payload).ok()?;
        if payload.format != FORMAT || index.schema() != schema().0 {
            tracing::info!(dir = %dir.display(), found = payload.format, "search index of another format: rebuilding");
            return None;
        }
        Some(Self::with(index, dir, payload.cursors))
    }

    fn with(index: Index, dir: &Path, cursors: HashMap<ConversationId, u64>) -> Result<SearchIndex, IndexError> {
        index.tokenizers().register(TOKENIZER, ChatTokenizer);
        let writer = index.writer_with_num_threads(1, WRITER_HEAP)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let fields = schema().1;
        let index = SearchIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            cursors: Mutex::new(cursors),
            dir: dir.to_owned(),
        };
        Ok(index)
    }

    fn writer(&self) -> MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cursors(&self) -> MutexGuard<'_, HashMap<ConversationId, u64>> {
        self.cursors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How far the conversation's sequence has been indexed (0: not at all).
    pub fn cursor(&self, conversation: &ConversationId) -> u64 {
        self.cursors().get(conversation).copied().unwrap_or(0)
    }

    /// Applies `ops`, then records the conversation as indexed up to `seq`;
    /// searchable once committed.
    pub fn apply(&self, conversation: &ConversationId, ops: Vec<Op>, seq: u64) -> Result<(), IndexError> {
        let f = self.fields;
        let writer = self.writer();
        let remove = |conversation: &ConversationId, seq| {
            writer.delete_term(Term::from_field_text(f.key, &key(conversation, seq)));
        };
        for op in ops {
            let doc = match op {
                Op::Add(doc) => doc,
                Op::Replace(doc) => {
                    remove(&doc.conversation_id, doc.seq);
                    doc
                }
                Op::Remove { conversation_id, seq } => {
                    remove(&conversation_id, seq);
                    continue;
                }
            };
            let mut d = TantivyDocument::default();
            d.add_text(f.key, key(&doc.conversation_id, doc.seq));
            d.add_text(f.conversation, &doc.conversation_id.0);
            d.add_u64(f.seq, doc.seq);
            d.add_text(f.sender, &doc.sender_id.0);
            d.add_text(f.kind, doc.kind.name());
            d.add_i64(f.created, doc.created_ms);
            d.add_text(f.body, &doc.text);
            d.add_text(f.text, &doc.text);
            if let Some(name) = &doc.file_name {
                d.add_text(f.body, name);
                d.add_text(f.file_name, name);
            }
            writer.add_document(d)?;
        }
        self.cursors().insert(conversation.clone(), seq);
        Ok(())
    }

    /// Makes what was applied durable and searchable, with the cursors.
    pub fn commit(&self) -> Result<(), IndexError> {
        let payload = Payload { format: FORMAT, cursors: self.cursors().clone() };
        let payload = serde_json::to_string(&payload).expect("cursors serialize");
        let mut writer = self.writer();
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// Drops what was applied since the last commit, cursors included.
    pub fn roll_back(&self) -> Result<(), IndexError> {
        self.writer().rollback()?;
        let committed = self.index.load_metas()?.payload.and_then(|p| serde_json::from_str::<Payload>(&p).ok());
        *self.cursors() = committed.map(|p| p.cursors).unwrap_or_default();
        Ok(())
    }

    /// The query's matches in `filters`, `offset` skipped, at most `limit`.
    pub fn search(
        &self,
        text: Box<dyn Query>,
        filters: &Filters<'_>,
        order: SearchOrder,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Doc>, IndexError> {
        use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, RangeQuery, TermQuery, TermSetQuery};
        let f = self.fields;
        let filter = |q: Box<dyn Query>| (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>);
        let text_term = |field, value: &str| Term::from_field_text(field, value);
        let mut clauses = vec![(Occur::Must, text)];
        let in_conversations = filters.conversations.iter().map(|c| text_term(f.conversation, &c.0));
        clauses.push(filter(Box::new(TermSetQuery::new(in_conversations))));
        if let Some(from) = filters.from {
            clauses.push(filter(Box::new(TermQuery::new(text_term(f.sender, &from.0), IndexRecordOption::Basic))));
        }
        if let Some(kind) = filters.kind {
            clauses.push(filter(Box::new(TermQuery::new(text_term(f.kind, kind.name()), IndexRecordOption::Basic))));
        }
        if filters.after.is_some() || filters.before.is_some() {
            let lower = filters.after.map_or(Bound::Unbounded, |t| Bound::Included(Term::from_field_i64(f.created, t)));
            let upper = filters.before.map_or(Bound::Unbounded, |t| Bound::Excluded(Term::from_field_i64(f.created, t)));
            clauses.push(filter(Box::new(RangeQuery::new(lower, upper))));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(limit).and_offset(offset);
        let found: Vec<DocAddress> = match order {
            SearchOrder::Newest => {
                let by_time = top.order_by_fast_field::<i64>(CREATED, Order::Desc);
                searcher.search(&query, &by_time)?.into_iter().map(|(_, at)| at).collect()
            }
            SearchOrder::Relevance => {
                let ranked = top.tweak_score(move |segment: &tantivy::SegmentReader| {
                    let created = segment.fast_fields().i64(CREATED).ok().map(|c| c.first_or_default_col(0));
                    move |doc, score: Score| {
                        let at = created.as_ref().map_or(0, |c| c.get_val(doc));
                        (relevance(score), at)
                    }
                });
                searcher.search(&query, &ranked)?.into_iter().map(|(_, at)| at).collect()
            }
        };
        found.into_iter().map(|at| Ok(self.read(&searcher.doc::<TantivyDocument>(at)?))).collect()
    }

    fn read(&self, d: &TantivyDocument) -> Doc {
        let f = self.fields;
        let text = |field| d.get_first(field).and_then(|v| v.as_str().map(str::to_owned));
        let kind = text(f.kind).and_then(|k| SEARCHED_KINDS.into_iter().find(|s| s.name() == k));
        Doc {
            conversation_id: ConversationId(text(f.conversation).unwrap_or_default()),
            seq: d.get_first(f.seq).and_then(|v| v.as_u64()).unwrap_or(0),
            sender_id: UserId(text(f.sender).unwrap_or_default()),
            kind: kind.unwrap_or_default(),
            created_ms: d.get_first(f.created).and_then(|v| v.as_i64()).unwrap_or(0),
            text: text(f.text).unwrap_or_default(),
            file_name: text(f.file_name),
        }
    }

    /// The analyzed field queries are built on.
    pub fn body_field(&self) -> Field {
        self.fields.body
    }

    /// Documents in the committed index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The index's size on disk, in bytes.
    pub fn bytes(&self) -> u64 {
        crate::search::dir_bytes(&self.dir)
    }
}

/// tantivy's directory on disk, but every file it makes is private
/// (`crate::private`): tantivy creates them with the umask's mode. The
/// directory is `0700` from the start, so nobody else reaches a file in the
/// moment before its mode is set.
#[derive(Clone, Debug)]
struct PrivateDirectory {
    inner: MmapDirectory,
    root: PathBuf,
}

impl PrivateDirectory {
    fn open(root: &Path) -> Result<PrivateDirectory, IndexError> {
        let inner = MmapDirectory::open(root).map_err(|e| IndexError::Io(std::io::Error::other(e.to_string())))?;
        Ok(PrivateDirectory { inner, root: root.to_owned() })
    }

    fn restrict(&self, path: &Path) {
        if let Err(e) = crate::private::restrict_file(&self.root.join(path)) {
            tracing::warn!(error = %e, path = %path.display(), "search index: cannot make a file private");
        }
    }
}

impl Directory for PrivateDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<std::sync::Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let written = self.inner.open_write(path)?;
        self.restrict(path);
        Ok(written)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        self.inner.atomic_write(path, data)?;
        self.restrict(path);
        Ok(())
    }

    fn sync_directory(&self) -> std::io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        let held = self.inner.acquire_lock(lock)?;
        self.restrict(&lock.filepath);
        Ok(held)
    }

    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(callback)
    }
}

/// Scores rounded to a tenth, so that matches about as good rank newest first.
fn relevance(score: Score) -> i64 {
    (score * 10.0).round() as i64
}
