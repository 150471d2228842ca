//! The clean-up of uploads, run every so often by [`run`]: files never posted
//! within `--unposted-file-ttl-secs` are deleted, then stored content that
//! no file refers to any more (the original, `.thumb.webp`, `.image`). Each
//! pass also measures the stored content for `/metrics`. [`release`] does
//! the same at once for one upload whose last message was deleted. It works
//! the same on both blob storages (the data dir, GridFS): moving aside is a
//! rename there too.
//!
//! Content is shared, and may be uploaded or instantly claimed again while
//! it is being removed; what keeps the two apart:
//! - a posting and the deletion of an unposted file never both win (see
//!   `FileRepo::delete_unposted_files`), so a file is either posted or gone;
//! - uploads record their file before they put its bytes in place, and an
//!   instant upload checks the bytes are there after recording its file;
//! - the sweep only considers content last written longer than the age ago,
//!   and removes it by first moving its files aside, then deleting the blob's
//!   record only if no file refers to it (checked again at that moment), and
//!   moving them back if one does. An upload racing it either is seen by that
//!   check or puts its bytes in place after they were moved aside.
//!
//! Every node of a cluster sweeps the shared storage; two sweeps of one
//! blob find its files moved by the other and step aside.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, SystemTime},
};

use tokio::sync::watch;
use wire::model::FileId;

use super::{blob_name, is_sha256, Uploads, PARTS};
use crate::{
    blobs::{Blobs, Entry},
    clock::now_millis,
    store::{DynStore, StoreError},
};

pub const FILES_BYTES: &str = "natter_files_bytes";
pub const FILES_BLOBS: &str = "natter_files_blobs";
/// Unposted files asked for per round trip.
const BATCH: u32 = 500;
/// Where the sweep moves a blob's files while it decides (a name prefix in the blob storage).
const SWEPT_DIR: &str = "swept";

/// What a sweep did and found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub files_deleted: u64,
    pub blobs_deleted: u64,
    /// Bytes stored afterwards (with the data dir: every byte under `files/`).
    pub bytes: u64,
    /// Distinct contents kept afterwards.
    pub blobs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored content: {0}")]
    Io(#[from] std::io::Error),
}

/// How often a sweep runs for an age: an eighth of it, between a quarter
/// second and an hour (so an unposted file goes at most an eighth late).
pub fn period(ttl: Duration) -> Duration {
    (ttl / 8).clamp(Duration::from_millis(250), Duration::from_secs(3600))
}

/// Sweeps every [`period`] of `ttl` (the first after one period) until `stop` turns true.
pub async fn run(store: DynStore, uploads: Uploads, ttl: Duration, mut stop: watch::Receiver<bool>) {
    metrics::describe_gauge!(FILES_BYTES, metrics::Unit::Bytes, "Bytes of stored uploads, as of the last sweep");
    metrics::describe_gauge!(FILES_BLOBS, "Distinct uploaded contents stored, as of the last sweep");
    let every = period(ttl);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        // A stopping server does not wait for a sweep to end; the next run redoes it.
        let swept = tokio::select! {
            swept = sweep(&store, &uploads, ttl) => swept,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        match swept {
            Ok(report) if report.files_deleted + report.blobs_deleted > 0 => tracing::info!(?report, "uploads swept"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the sweep of uploads failed; the next one tries again"),
        }
    }
}

/// One pass: unposted files older than `ttl`, then unreferenced content, then the gauges.
pub async fn sweep(store: &DynStore, uploads: &Uploads, ttl: Duration) -> Result<Report, SweepError> {
    let mut report = Report::default();
    let before_ms = now_millis() - ttl.as_millis() as i64;
    loop {
        let ids = store.unposted_files(before_ms, BATCH).await?;
        report.files_deleted += store.delete_unposted_files(&ids).await?;
        if ids.len() < BATCH as usize {
            break;
        }
    }
    let survey = survey(uploads.blobs().list("").await?);
    let stale = stale(&survey.blobs, SystemTime::now() - ttl);
    let referenced: HashSet<String> = store.referenced_blobs(&stale).await?.into_iter().collect();
    let (mut bytes, mut blobs) = (survey.bytes, survey.blobs.values().filter(|b| b.original).count() as u64);
    let unreferenced: Vec<String> = stale.into_iter().filter(|s| !referenced.contains(s)).collect();
    for batch in unreferenced.chunks(BATCH as usize) {
        for sha256 in remove_blobs(store, &**uploads.blobs(), batch).await? {
            let gone = &survey.blobs[&sha256];
            report.blobs_deleted += 1;
            bytes = bytes.saturating_sub(gone.bytes);
            blobs -= u64::from(gone.original);
        }
    }
    metrics::gauge!(FILES_BYTES).set(bytes as f64);
    metrics::gauge!(FILES_BLOBS).set(blobs as f64);
    (report.bytes, report.blobs) = (bytes, blobs);
    Ok(report)
}

/// Deletes the upload `id` once no message carries it any more (the last
/// that did was deleted): its record, so its owner's quota gets its size
/// back, and its stored content unless another upload (say, an instant
/// upload of the same bytes) still refers to it. Deleting one message of
/// several that carry the upload changes nothing.
pub async fn release(store: &DynStore, uploads: &Uploads, id: &FileId) -> Result<(), SweepError> {
    if store.file_in_use(id).await? {
        return Ok(());
    }
    let Some(file) = store.file(id).await? else { return Ok(()) };
    store.delete_file(id).await?;
    remove_blobs(store, &**uploads.blobs(), &[file.blob.sha256]).await?;
    Ok(())
}

/// One content's stored files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kept {
    bytes: u64,
    /// When the newest of its files was last written.
    written: SystemTime,
    /// Whether the original is there (not only derivatives).
    original: bool,
}

#[derive(Debug, Default)]
struct Survey {
    /// Every byte stored, temporary files included (with the data dir).
    bytes: u64,
    blobs: HashMap<String, Kept>,
}

/// Sums up what the blob storage lists.
fn survey(entries: Vec<Entry>) -> Survey {
    let mut survey = Survey::default();
    for entry in entries {
        survey.bytes += entry.len;
        let Some((sha256, original)) = parse_name(&entry.name) else { continue };
        let fresh = Kept { bytes: 0, written: entry.written, original: false };
        let blob = survey.blobs.entry(sha256.to_owned()).or_insert(fresh);
        blob.bytes += entry.len;
        blob.written = blob.written.max(entry.written);
        blob.original |= original;
    }
    survey
}

/// The hash a blob's item is named after (`ab/cd/<sha256><part>`), and
/// whether it is the original; `None` for a look-alike elsewhere (moved
/// aside, temporary).
fn parse_name(name: &str) -> Option<(&str, bool)> {
    let (dir, file) = name.rsplit_once('/')?;
    let (sha256, part) = file.split_at_checked(64)?;
    let own = is_sha256(sha256) && PARTS.contains(&part) && dir.len() == 5 && blob_name(sha256).starts_with(dir);
    own.then_some((sha256, part.is_empty()))
}

/// The contents none of whose files was written since `cutoff`: those a
/// sweep removes unless a file refers to them.
fn stale(blobs: &HashMap<String, Kept>, cutoff: SystemTime) -> Vec<String> {
    blobs.iter().filter(|(_, b)| b.written < cutoff).map(|(sha256, _)| sha256.clone()).collect()
}

/// Removes the files and records of those blobs no file refers to (see the
/// module's notes); answers those it removed files of.
async fn remove_blobs(store: &DynStore, blobs: &dyn Blobs, sha256s: &[String]) -> Result<Vec<String>, SweepError> {
    let mut moved: HashMap<&str, Vec<(String, String)>> = HashMap::new();
    for sha256 in sha256s {
        for part in PARTS {
            let name = format!("{}{part}", blob_name(sha256));
            let aside = format!("{SWEPT_DIR}/{sha256}{part}.{}", crate::store::new_id());
            match blobs.rename(&name, &aside).await {
                Ok(true) => moved.entry(sha256).or_default().push((name, aside)),
                Ok(false) => {}
                Err(e) => {
                    put_back(blobs, moved.values().flatten()).await;
                    return Err(e.into());
                }
            }
        }
    }
    let gone: HashSet<String> = match store.delete_unreferenced_blobs(sha256s).await {
        Ok(gone) => gone.into_iter().collect(),
        Err(e) => {
            put_back(blobs, moved.values().flatten()).await;
            return Err(e.into());
        }
    };
    let mut removed = Vec::new();
    for (sha256, files) in moved {
        if !gone.contains(sha256) {
            put_back(blobs, &files).await;
            continue;
        }
        for (_, aside) in &files {
            if let Err(e) = blobs.remove(aside).await {
                tracing::warn!(error = %e, name = aside, "cannot remove a swept file");
            }
        }
        removed.push(sha256.to_owned());
    }
    Ok(removed)
}

/// Moves files back where they were, unless an upload put them there anew meanwhile.
async fn put_back<'a>(blobs: &dyn Blobs, moved: impl IntoIterator<Item = &'a (String, String)>) {
    for (name, aside) in moved {
        let back = match blobs.open(name).await {
            Ok(None) => blobs.rename(aside, name).await.map(drop),
            _ => blobs.remove(aside).await,
        };
        if let Err(e) = back {
            tracing::error!(error = %e, name, "cannot put a swept file back");
        }
    }
}

#[cfg(test)]
mod tests {
    use wire::model::{FileId, UserId};

    use super::*;
    use crate::{
        blobs::dir::DirBlobs,
        store::files::{BlobRecord, FileRecord},
    };

    #[test]
    fn only_a_blobs_own_names_are_its_files() {
        let sha = "ab".repeat(32);
        let name = blob_name(&sha);
        assert_eq!(parse_name(&name), Some((sha.as_str(), true)));
        assert_eq!(parse_name(&format!("{name}.thumb.webp")), Some((sha.as_str(), false)));
        assert_eq!(parse_name(&format!("{name}.image")), Some((sha.as_str(), false)));
        let others = [
            format!("{name}.thumb.0193.part"),
            format!("{name}.image.0193"),
            "tmp/0193.part".into(),
            format!("ab/ab/{}", "AB".repeat(32)),
            format!("swept/{sha}"),
            format!("cd/ab/{sha}"),
            sha.clone(),
            "é".repeat(40),
        ];
        for other in others {
            assert_eq!(parse_name(&other), None, "{other}");
        }
    }

    #[test]
    fn a_blob_is_stale_only_when_all_its_files_are_old() {
        let now = SystemTime::now();
        let at = |secs_ago| Kept { bytes: 1, written: now - Duration::from_secs(secs_ago), original: true };
        let blobs = HashMap::from([("old".to_owned(), at(100)), ("new".to_owned(), at(1)), ("edge".to_owned(), at(10))]);
        let mut stale = stale(&blobs, now - Duration::from_secs(10));
        stale.sort();
        assert_eq!(stale, ["old"], "written at the cutoff is not before it");
    }

    #[test]
    fn sweeps_come_an_eighth_of_the_age_apart_within_bounds() {
        assert_eq!(period(Duration::from_secs(86_400)), Duration::from_secs(3600));
        assert_eq!(period(Duration::from_secs(8)), Duration::from_secs(1));
        assert_eq!(period(Duration::from_secs(1)), Duration::from_millis(250));
    }

    /// A store with `sha`'s record, a blob storage with its original and thumbnail.
    async fn one_blob(dir: &std::path::Path, sha: &str) -> (DynStore, DirBlobs) {
        let store: DynStore =
            std::sync::Arc::new(crate::store::embedded::EmbeddedStore::open(&dir.join("db.sqlite3")).unwrap());
        let blob = BlobRecord {
            sha256: sha.to_owned(),
            size: 5,
            mime: "image/png".into(),
            width: Some(1),
            height: Some(1),
            thumbnail: true,
            created_ms: 0,
        };
        store.insert_blob(&blob).await.unwrap();
        let blobs = DirBlobs::new(dir.join("files"));
        blobs.put(&blob_name(sha), b"12345").await.unwrap();
        blobs.put(&format!("{}.thumb.webp", blob_name(sha)), b"123").await.unwrap();
        (store, blobs)
    }

    async fn names(blobs: &DirBlobs) -> Vec<String> {
        let mut names: Vec<String> = blobs.list("").await.unwrap().into_iter().map(|e| e.name).collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn content_no_file_refers_to_goes_with_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let sha = "ef".repeat(32);
        let (store, blobs) = one_blob(dir.path(), &sha).await;
        assert_eq!(remove_blobs(&store, &blobs, &[sha.clone()]).await.unwrap(), [sha.clone()]);
        assert_eq!(names(&blobs).await, Vec::<String>::new(), "nothing left, nothing aside");
        assert_eq!(store.blob(&sha).await.unwrap(), None);
    }

    #[tokio::test]
    async fn content_a_file_came_to_refer_to_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let sha = "ef".repeat(32);
        let (store, blobs) = one_blob(dir.path(), &sha).await;
        // Found unreferenced by the survey, then uploaded again before its removal.
        let blob = store.blob(&sha).await.unwrap().unwrap();
        let file = FileRecord { id: FileId::from("f1"), owner: UserId::from("u1"), name: "a.png".into(), blob, created_ms: 0 };
        store.insert_file(&file).await.unwrap();
        assert!(remove_blobs(&store, &blobs, &[sha.clone()]).await.unwrap().is_empty());
        let read = |name: String| {
            let blobs = blobs.clone();
            async move { crate::blobs::read_all(&*blobs.open(&name).await.unwrap().unwrap()).await.unwrap() }
        };
        assert_eq!(read(blob_name(&sha)).await, b"12345");
        assert_eq!(read(format!("{}.thumb.webp", blob_name(&sha))).await, b"123");
        assert!(store.blob(&sha).await.unwrap().is_some());
        assert_eq!(names(&blobs).await.len(), 2, "nothing left aside");
    }

    #[test]
    fn the_survey_counts_every_byte_and_each_blob_once() {
        let sha = "cd".repeat(32);
        let entry = |name: String, len| Entry { name, len, written: SystemTime::now() };
        let survey = survey(vec![
            entry(blob_name(&sha), 5),
            entry(format!("{}.thumb.webp", blob_name(&sha)), 3),
            entry(format!("tmp/{sha}"), 2),
        ]);
        assert_eq!(survey.bytes, 10);
        assert_eq!(survey.blobs.len(), 1);
        assert_eq!((survey.blobs[&sha].bytes, survey.blobs[&sha].original), (8, true));
    }
}
