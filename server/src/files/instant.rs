//! Instant upload: posting content the server already holds without sending
//! it again. Naming a hash is not enough to get a file, since hashes leak
//! (logs, shared links); the client proves it holds the bytes by hashing a
//! fresh nonce with byte ranges the server picks at random. Challenges live
//! in this node's memory for [`CHALLENGE_TTL`] and answer one attempt; in a
//! cluster a proof sent to another node finds no challenge (404) and the
//! client falls back to a normal upload.

use std::{
    collections::HashMap,
    io::SeekFrom,
    path::Path,
    sync::Mutex,
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use wire::{
    api::InstantChallenge,
    model::{MessageKind, UserId},
};

use super::hex;
use crate::{clock::now_millis, store::files::BlobRecord};

pub const CHALLENGE_TTL: Duration = Duration::from_secs(120);
/// Open challenges one node keeps at most, for all users: a backstop, since
/// [`MAX_OPEN_PER_USER`] bounds each user.
const MAX_OPEN: usize = 10_000;
/// Open challenges one user holds at most; a new claim beyond retires that
/// user's oldest, so a user re-claiming (their own files, in a loop) only
/// ever holds this many and never fills the table for the others.
pub const MAX_OPEN_PER_USER: usize = 20;
/// Ranges per challenge, and the longest one.
const RANGES: usize = 3;
const RANGE_BYTES: u64 = 4096;

/// A claim waiting for its proof.
#[derive(Clone, Debug)]
pub struct Challenge {
    pub user: UserId,
    pub blob: BlobRecord,
    pub name: String,
    pub kind: MessageKind,
    nonce: String,
    ranges: Vec<(u64, u64)>,
    expires: Instant,
}

#[derive(Default)]
pub struct Challenges {
    open: Mutex<HashMap<String, Challenge>>,
}

impl Challenges {
    /// Opens a challenge for `user`'s claim to hold `blob`, retiring that
    /// user's oldest beyond [`MAX_OPEN_PER_USER`]; `None` when the node holds
    /// [`MAX_OPEN`] challenges.
    pub fn issue(&self, user: UserId, blob: BlobRecord, name: String, kind: MessageKind) -> Option<InstantChallenge> {
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, c| c.expires > now);
        let mut own: Vec<(Instant, String)> =
            open.iter().filter(|(_, c)| c.user == user).map(|(id, c)| (c.expires, id.clone())).collect();
        if own.len() >= MAX_OPEN_PER_USER {
            own.sort_unstable();
            for (_, id) in &own[..=own.len() - MAX_OPEN_PER_USER] {
                open.remove(id);
            }
        }
        if open.len() >= MAX_OPEN {
            return None;
        }
        let ranges = pick_ranges(blob.size);
        let challenge = Challenge { user, blob, name, kind, nonce: random_hex(), ranges, expires: now + CHALLENGE_TTL };
        let id = random_hex();
        let answer = InstantChallenge {
            challenge_id: id.clone(),
            nonce: challenge.nonce.clone(),
            ranges: challenge.ranges.clone(),
            expires_ms: now_millis() + CHALLENGE_TTL.as_millis() as i64,
        };
        open.insert(id, challenge);
        Some(answer)
    }

    /// Takes `user`'s open challenge `id`: each answers one attempt.
    pub fn take(&self, id: &str, user: &UserId) -> Option<Challenge> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match open.get(id) {
            Some(c) if c.user == *user => open.remove(id).filter(|c| c.expires > Instant::now()),
            _ => None,
        }
    }
}

impl Challenge {
    /// Whether `proof` is the hash of the nonce and the ranges of the content at `path`.
    pub async fn verify(&self, path: &Path, proof: &str) -> std::io::Result<bool> {
        Ok(expected_proof(path, &self.nonce, &self.ranges).await? == proof.to_ascii_lowercase())
    }
}

/// Hex SHA-256 of `nonce` (its text) followed by each range of the file at `path`.
async fn expected_proof(path: &Path, nonce: &str, ranges: &[(u64, u64)]) -> std::io::Result<String> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    hasher.update(nonce.as_bytes());
    for &(start, end) in ranges {
        let mut buf = vec![0; (end - start) as usize];
        file.seek(SeekFrom::Start(start)).await?;
        file.read_exact(&mut buf).await?;
        hasher.update(&buf);
    }
    Ok(hex(&hasher.finalize()))
}

/// [`RANGES`] random ranges of up to [`RANGE_BYTES`]; small content is hashed whole.
fn pick_ranges(size: u64) -> Vec<(u64, u64)> {
    if size <= RANGE_BYTES * RANGES as u64 {
        return vec![(0, size)];
    }
    (0..RANGES)
        .map(|_| {
            let start = random_u64() % (size - RANGE_BYTES + 1);
            (start, start + RANGE_BYTES)
        })
        .collect()
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the system has a random source");
    u64::from_le_bytes(bytes)
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system has a random source");
    hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_lie_inside_the_content() {
        assert_eq!(pick_ranges(10), [(0, 10)]);
        for size in [RANGE_BYTES * 3 + 1, 1 << 20, 50 << 20] {
            let ranges = pick_ranges(size);
            assert_eq!(ranges.len(), RANGES);
            assert!(ranges.iter().all(|&(s, e)| s < e && e <= size && e - s == RANGE_BYTES), "{ranges:?}");
        }
    }

    fn blob(size: u64) -> BlobRecord {
        BlobRecord {
            sha256: "0".repeat(64),
            size,
            mime: "text/plain".into(),
            width: None,
            height: None,
            thumbnail: false,
            created_ms: 0,
        }
    }

    #[test]
    fn a_challenge_answers_its_user_once() {
        let challenges = Challenges::default();
        let (ann, bob) = (UserId::from("ann"), UserId::from("bob"));
        let c = challenges.issue(ann.clone(), blob(5), "a.txt".into(), MessageKind::File).unwrap();
        assert!(challenges.take(&c.challenge_id, &bob).is_none(), "not bob's");
        assert!(challenges.take(&c.challenge_id, &ann).is_some());
        assert!(challenges.take(&c.challenge_id, &ann).is_none(), "used up");
    }

    #[test]
    fn a_user_holds_at_most_their_share_and_loses_their_oldest_first() {
        let challenges = Challenges::default();
        let (ann, bob) = (UserId::from("ann"), UserId::from("bob"));
        let claim = |who: &UserId| challenges.issue(who.clone(), blob(5), "a.txt".into(), MessageKind::File).unwrap();
        let first = claim(&ann);
        let ids: Vec<_> = (0..MAX_OPEN * 2).map(|_| claim(&ann).challenge_id).collect();
        let theirs = challenges.open.lock().unwrap().values().filter(|c| c.user == ann).count();
        assert_eq!(theirs, MAX_OPEN_PER_USER);
        assert!(challenges.take(&first.challenge_id, &ann).is_none(), "the oldest went first");
        assert!(challenges.take(ids.last().unwrap(), &ann).is_some(), "the newest is kept");
        let c = claim(&bob);
        assert!(challenges.take(&c.challenge_id, &bob).is_some(), "others are still served");
    }

    #[tokio::test]
    async fn the_proof_hashes_the_nonce_and_the_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"0123456789").unwrap();
        let expected = hex(&Sha256::digest(b"n1234789"));
        assert_eq!(expected_proof(&path, "n", &[(1, 5), (7, 10)]).await.unwrap(), expected);
    }
}
