//! Data at rest is the server's own: every directory it creates under the
//! data dir is `0700` and every file `0600`, whatever the process umask.
//! The modes are set where things are created rather than through the
//! umask, because a server embedded in another process (the tests) must
//! not change that process's umask. SQLite gives its `-wal` and `-shm` files
//! the mode of the database file, so creating that file `0600` is enough.

use std::{io, path::Path};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// `create_dir_all`, with each directory it creates `0700`.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(path)
}

/// [`create_dir_all`] off the async runtime's threads.
pub async fn create_dir_all_async(path: &Path) -> io::Result<()> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || create_dir_all(&path)).await.map_err(io::Error::other)?
}

/// Creates (or truncates) a file for writing, `0600` when it is new.
pub async fn create_file(path: &Path) -> io::Result<tokio::fs::File> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options.open(path).await
}

/// Writes a new file `0600` (generated keys); fails if `path` exists.
pub fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options.open(path)?.write_all(contents)
}

/// Creates `path` empty and `0600` unless it exists, so that a library
/// opening it afterwards (SQLite) keeps that mode.
pub fn touch(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options.open(path).map(drop)
}

/// Makes a file another library created (with the umask's mode) `0600`.
pub fn restrict_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(())
}

/// Takes group and other permissions off an existing directory; returns
/// whether it had any. Only the directory itself changes: without access
/// to it nobody else reaches what lies below, and walking a large upload
/// store at every start would be slow.
pub fn tighten_dir(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o077))?;
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn creates_private_dirs_and_files() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b");
        create_dir_all_async(&deep).await.unwrap();
        assert_eq!((mode(&root.path().join("a")), mode(&deep)), (0o700, 0o700));
        create_file(&deep.join("f")).await.unwrap();
        touch(&deep.join("db")).unwrap();
        assert_eq!((mode(&deep.join("f")), mode(&deep.join("db"))), (0o600, 0o600));
    }

    #[test]
    fn tightens_an_open_dir() {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(tighten_dir(root.path()).unwrap());
        assert_eq!(mode(root.path()), 0o700);
        assert!(!tighten_dir(root.path()).unwrap());
    }
}
