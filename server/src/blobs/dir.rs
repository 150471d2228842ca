//! Items as files under a directory of the data dir (one node, or nodes
//! sharing a network file system): a name is a path below the root, written
//! to a temporary file, synced and renamed into place, private to the
//! server's user (see `private`).

use std::{
    io::{self, SeekFrom},
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use futures_util::{stream, StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use super::{is_safe_name, unsafe_name, Blobs, ByteStream, Entry, Stored};

#[derive(Clone, Debug)]
pub struct DirBlobs {
    root: PathBuf,
}

impl DirBlobs {
    pub fn new(root: PathBuf) -> DirBlobs {
        DirBlobs { root }
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        if !is_safe_name(name) {
            return Err(unsafe_name(name));
        }
        Ok(self.root.join(name))
    }

    /// The path of `name`, its directory made.
    async fn path_made(&self, name: &str) -> io::Result<PathBuf> {
        let path = self.path(name)?;
        crate::private::create_dir_all_async(path.parent().expect("a name has a parent: the root")).await?;
        Ok(path)
    }
}

struct DirStored {
    path: PathBuf,
    len: u64,
}

impl Stored for DirStored {
    fn len(&self) -> u64 {
        self.len
    }

    fn read(&self, start: u64, end: u64) -> ByteStream {
        let path = self.path.clone();
        let opened = async move {
            let mut file = tokio::fs::File::open(&path).await?;
            if start > 0 {
                file.seek(SeekFrom::Start(start)).await?;
            }
            Ok::<_, io::Error>(ReaderStream::new(file.take(end.saturating_sub(start))))
        };
        stream::once(opened).try_flatten().boxed()
    }
}

#[async_trait]
impl Blobs for DirBlobs {
    fn kind(&self) -> &'static str {
        "data dir"
    }

    async fn put_file(&self, name: &str, from: &Path) -> io::Result<()> {
        tokio::fs::rename(from, self.path_made(name).await?).await
    }

    async fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.path_made(name).await?;
        let tmp = path.with_extension(format!("{}.part", uuid::Uuid::now_v7().simple()));
        let written = async {
            let mut file = crate::private::create_file(&tmp).await?;
            file.write_all(bytes).await?;
            file.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        written
    }

    async fn open(&self, name: &str) -> io::Result<Option<Box<dyn Stored>>> {
        let path = self.path(name)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(Box::new(DirStored { path, len: meta.len() }))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, prefix: &str) -> io::Result<Vec<Entry>> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || walk(&root, &prefix)).await.map_err(io::Error::other)?
    }

    async fn rename(&self, from: &str, to: &str) -> io::Result<bool> {
        let from = self.path(from)?;
        match tokio::fs::rename(&from, self.path_made(to).await?).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn remove(&self, name: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(name)?).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn remove_all(&self, prefix: &str) -> io::Result<()> {
        let dir = self.path(prefix.strip_suffix('/').ok_or_else(|| unsafe_name(prefix))?)?;
        match tokio::fs::remove_dir_all(dir).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Every file under `root` whose name (relative, `/`-separated) starts with `prefix` (blocking).
fn walk(root: &Path, prefix: &str) -> io::Result<Vec<Entry>> {
    let mut found = Vec::new();
    // Start at the deepest directory the prefix names whole.
    let start = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut dirs = vec![(root.join(start), start.to_owned())];
    while let Some((dir, relative)) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // nothing stored yet, or just removed
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Ok(meta) = entry.metadata() else { continue }; // removed meanwhile
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            let name = if relative.is_empty() { file_name } else { format!("{relative}/{file_name}") };
            if meta.is_dir() {
                dirs.push((entry.path(), name));
            } else if name.starts_with(prefix) {
                found.push(Entry { name, len: meta.len(), written: meta.modified()? });
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn items_come_back_by_range_and_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DirBlobs::new(dir.path().join("files"));
        assert!(blobs.open("ab/cd/x").await.unwrap().is_none());
        blobs.put("ab/cd/x", b"0123456789").await.unwrap();
        blobs.put("u/v1/128.webp", b"img").await.unwrap();
        let stored = blobs.open("ab/cd/x").await.unwrap().unwrap();
        assert_eq!(stored.len(), 10);
        assert_eq!(super::super::collect(stored.read(2, 5)).await.unwrap(), b"234");
        assert_eq!(super::super::read_all(&*stored).await.unwrap(), b"0123456789");

        let names = |entries: Vec<Entry>| {
            let mut names: Vec<String> = entries.into_iter().map(|e| e.name).collect();
            names.sort();
            names
        };
        assert_eq!(names(blobs.list("").await.unwrap()), ["ab/cd/x", "u/v1/128.webp"]);
        assert_eq!(names(blobs.list("u/").await.unwrap()), ["u/v1/128.webp"]);
        assert!(blobs.rename("ab/cd/x", "swept/x.1").await.unwrap());
        assert!(!blobs.rename("ab/cd/x", "swept/x.2").await.unwrap());
        blobs.remove("swept/x.1").await.unwrap();
        blobs.remove("swept/x.1").await.unwrap();
        blobs.remove_all("u/").await.unwrap();
        assert_eq!(names(blobs.list("").await.unwrap()), Vec::<String>::new());
        assert!(blobs.open("../etc").await.is_err());
    }
}
