//! Instant upload: posting content the server already holds without sending
//! it again. Naming a hash is not enough to get a file, since hashes leak
//! (logs, shared links); the client proves it holds the bytes by hashing a
//! fresh nonce with byte ranges the server picks at random. Challenges live
//! for [`CHALLENGE_TTL`] and answer one attempt: in one node's memory
//! ([`LocalChallenges`]), or in a cluster in Redis ([`redis::RedisChallenges`]),
//! so the proof may reach another node than the claim.

pub mod redis;

use std::{collections::HashMap, sync::Mutex, time::Duration};

use async_trait::async_trait;
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wire::{
    api::InstantChallenge,
    model::{MessageKind, UserId},
};

use super::hex;
use crate::{blobs::Stored, clock::now_millis, redis_conn::Unavailable, store::files::BlobRecord};

pub const CHALLENGE_TTL: Duration = Duration::from_secs(120);
/// Open challenges one node keeps at most in memory, for all users: a
/// backstop, since [`MAX_OPEN_PER_USER`] bounds each user.
const MAX_OPEN: usize = 10_000;
/// Open challenges one user holds at most; a new claim beyond retires that
/// user's oldest, so a user re-claiming (their own files, in a loop) only
/// ever holds this many and never fills the table for the others.
pub const MAX_OPEN_PER_USER: usize = 20;
/// Ranges per challenge, and the longest one.
const RANGES: usize = 3;
const RANGE_BYTES: u64 = 4096;

/// A claim waiting for its proof.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Challenge {
    pub user: UserId,
    pub blob: BlobRecord,
    pub name: String,
    pub kind: MessageKind,
    nonce: String,
    ranges: Vec<(u64, u64)>,
    expires_ms: i64,
}

/// Where open challenges are kept.
#[async_trait]
pub trait Challenges: Send + Sync {
    /// Opens a challenge for `user`'s claim to hold `blob`, retiring that
    /// user's oldest beyond [`MAX_OPEN_PER_USER`]; `None` when no more may be kept.
    async fn issue(
        &self,
        user: UserId,
        blob: BlobRecord,
        name: String,
        kind: MessageKind,
    ) -> Result<Option<InstantChallenge>, Unavailable>;

    /// Takes `user`'s open challenge `id`: each answers one attempt.
    async fn take(&self, id: &str, user: &UserId) -> Result<Option<Challenge>, Unavailable>;
}

impl Challenge {
    /// A fresh challenge, and its id.
    fn new(user: UserId, blob: BlobRecord, name: String, kind: MessageKind) -> (String, Challenge) {
        let ranges = pick_ranges(blob.size);
        let expires_ms = now_millis() + CHALLENGE_TTL.as_millis() as i64;
        (random_hex(), Challenge { user, blob, name, kind, nonce: random_hex(), ranges, expires_ms })
    }

    /// What the client is sent.
    fn asked(&self, id: &str) -> InstantChallenge {
        InstantChallenge {
            challenge_id: id.to_owned(),
            nonce: self.nonce.clone(),
            ranges: self.ranges.clone(),
            expires_ms: self.expires_ms,
        }
    }
}

/// The challenges of one node, in memory.
#[derive(Default)]
pub struct LocalChallenges {
    open: Mutex<HashMap<String, Challenge>>,
}

#[async_trait]
impl Challenges for LocalChallenges {
    async fn issue(
        &self,
        user: UserId,
        blob: BlobRecord,
        name: String,
        kind: MessageKind,
    ) -> Result<Option<InstantChallenge>, Unavailable> {
        let now = now_millis();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, c| c.expires_ms > now);
        let mut own: Vec<(i64, String)> =
            open.iter().filter(|(_, c)| c.user == user).map(|(id, c)| (c.expires_ms, id.clone())).collect();
        if own.len() >= MAX_OPEN_PER_USER {
            own.sort_unstable();
            for (_, id) in &own[..=own.len() - MAX_OPEN_PER_USER] {
                open.remove(id);
            }
        }
        if open.len() >= MAX_OPEN {
            return Ok(None);
        }
        let (id, challenge) = Challenge::new(user, blob, name, kind);
        let asked = challenge.asked(&id);
        open.insert(id, challenge);
        Ok(Some(asked))
    }

    async fn take(&self, id: &str, user: &UserId) -> Result<Option<Challenge>, Unavailable> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match open.get(id) {
            Some(c) if c.user == *user => open.remove(id).filter(|c| c.expires_ms > now_millis()),
            _ => None,
        })
    }
}

impl Challenge {
    /// Whether `proof` is the hash of the nonce and the ranges of `content`.
    pub async fn verify(&self, content: &dyn Stored, proof: &str) -> std::io::Result<bool> {
        Ok(expected_proof(content, &self.nonce, &self.ranges).await? == proof.to_ascii_lowercase())
    }
}

/// Hex SHA-256 of `nonce` (its text) followed by each range of `content`.
async fn expected_proof(content: &dyn Stored, nonce: &str, ranges: &[(u64, u64)]) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(nonce.as_bytes());
    for &(start, end) in ranges {
        if end > content.len() {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "a range past the content's end"));
        }
        let mut chunks = content.read(start, end);
        while let Some(chunk) = chunks.try_next().await? {
            hasher.update(&chunk);
        }
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

    #[tokio::test]
    async fn a_challenge_answers_its_user_once() {
        let challenges = LocalChallenges::default();
        let (ann, bob) = (UserId::from("ann"), UserId::from("bob"));
        let c = challenges.issue(ann.clone(), blob(5), "a.txt".into(), MessageKind::File).await.unwrap().unwrap();
        assert!(challenges.take(&c.challenge_id, &bob).await.unwrap().is_none(), "not bob's");
        assert!(challenges.take(&c.challenge_id, &ann).await.unwrap().is_some());
        assert!(challenges.take(&c.challenge_id, &ann).await.unwrap().is_none(), "used up");
    }

    #[tokio::test]
    async fn a_user_holds_at_most_their_share_and_loses_their_oldest_first() {
        let challenges = LocalChallenges::default();
        let (ann, bob) = (UserId::from("ann"), UserId::from("bob"));
        let claim = |who: &UserId| {
            let who = who.clone();
            let challenges = &challenges;
            async move { challenges.issue(who, blob(5), "a.txt".into(), MessageKind::File).await.unwrap().unwrap() }
        };
        let first = claim(&ann).await;
        // The oldest goes first: a later claim expires later (or at the same millisecond).
        tokio::time::sleep(Duration::from_millis(2)).await;
        let mut ids = Vec::new();
        for _ in 0..MAX_OPEN * 2 {
            ids.push(claim(&ann).await.challenge_id);
        }
        let theirs = challenges.open.lock().unwrap().values().filter(|c| c.user == ann).count();
        assert_eq!(theirs, MAX_OPEN_PER_USER);
        assert!(challenges.take(&first.challenge_id, &ann).await.unwrap().is_none(), "the oldest went first");
        assert!(challenges.take(ids.last().unwrap(), &ann).await.unwrap().is_some(), "the newest is kept");
        let c = claim(&bob).await;
        assert!(challenges.take(&c.challenge_id, &bob).await.unwrap().is_some(), "others are still served");
    }

    #[tokio::test]
    async fn the_proof_hashes_the_nonce_and_the_ranges() {
        use crate::blobs::{dir::DirBlobs, Blobs};
        let dir = tempfile::tempdir().unwrap();
        let blobs = DirBlobs::new(dir.path().to_owned());
        blobs.put("blob", b"0123456789").await.unwrap();
        let content = blobs.open("blob").await.unwrap().unwrap();
        let expected = hex(&Sha256::digest(b"n1234789"));
        assert_eq!(expected_proof(&*content, "n", &[(1, 5), (7, 10)]).await.unwrap(), expected);
    }
}
