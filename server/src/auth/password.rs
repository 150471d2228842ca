//! Password hashing with argon2id (the seed used SHA-1). Hashing is slow and
//! takes 19 MiB on purpose, so it runs on the blocking pool, never on the
//! async workers, and only so many at once: a [`Hasher`] has a permit per
//! core and a short queue; a request beyond them, or one that waited too
//! long, is answered 429 with `Retry-After` instead of growing the memory.

use std::{sync::OnceLock, time::Duration};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use tokio::sync::OwnedSemaphorePermit;

use crate::{error::HttpError, gate::Gate, store::StoreError};

/// How many hashes run at once, how many more may wait, and how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    pub concurrent: usize,
    pub queue: usize,
    pub max_wait: Duration,
}

/// The bounded hasher every handler shares.
pub struct Hasher {
    gate: Gate,
    limits: HashLimits,
}

impl Hasher {
    pub fn new(limits: HashLimits) -> Hasher {
        Hasher { gate: Gate::new(limits.concurrent, limits.queue), limits }
    }

    /// A permit to hash, or 429 when the queue is full or the wait too long.
    async fn permit(&self) -> Result<OwnedSemaphorePermit, HttpError> {
        match tokio::time::timeout(self.limits.max_wait, self.gate.enter()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                metrics::counter!("natter_password_hashes_refused_total").increment(1);
                Err(HttpError::rate_limited(self.limits.max_wait))
            }
        }
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String) -> Result<String, HttpError> {
        let permit = self.permit().await?;
        // The permit goes with the work: a client that hangs up does not free it early.
        let hashed = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash_now(&password)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("hashing task failed: {e}")))?;
        Ok(hashed?)
    }

    /// Checks `password` against a stored hash. With no hash (unknown user) it
    /// checks against a fixed dummy, so a wrong e-mail costs as long as a wrong
    /// password and timing does not tell which accounts exist.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, HttpError> {
        let permit = self.permit().await?;
        let matches = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let hash = stored.as_deref().unwrap_or_else(|| dummy_hash());
            let matches = PasswordHash::new(hash)
                .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
                .unwrap_or(false);
            matches && stored.is_some()
        })
        .await
        .unwrap_or(false);
        Ok(matches)
    }
}

fn hash_now(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(format!("cannot hash a password: {e}")))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("not the password of anyone").expect("hashing works"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn hasher(concurrent: usize, queue: usize, max_wait_ms: u64) -> Arc<Hasher> {
        Arc::new(Hasher::new(HashLimits { concurrent, queue, max_wait: Duration::from_millis(max_wait_ms) }))
    }

    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let h = hasher(2, 4, 2000);
        let a = h.hash("correct horse".into()).await.unwrap();
        let b = h.hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(h.verify("correct horse".into(), Some(a.clone())).await.unwrap());
        assert!(!h.verify("wrong horse".into(), Some(a)).await.unwrap());
        assert!(!h.verify("not the password of anyone".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn beyond_the_permits_and_the_queue_it_answers_busy() {
        let h = hasher(1, 1, 5_000);
        let held = h.gate.enter().await.unwrap();
        let waiter = tokio::spawn({
            let h = h.clone();
            async move { h.verify("x".into(), None).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let refused = h.verify("x".into(), None).await.unwrap_err();
        assert_eq!(refused.body.code, wire::protocol::ErrorCode::RateLimited);
        drop(held);
        assert!(!waiter.await.unwrap().unwrap(), "the one in the queue gets its turn");
    }

    #[tokio::test]
    async fn a_waiter_gives_up_after_the_longest_wait() {
        let h = hasher(1, 1, 300);
        let held = h.gate.enter().await.unwrap();
        let refused = h.hash("x".into()).await.unwrap_err();
        assert_eq!(refused.body.code, wire::protocol::ErrorCode::RateLimited);
        // Its place in the queue was given back: the next one may wait again.
        let waiter = tokio::spawn({
            let h = h.clone();
            async move { h.verify("x".into(), None).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
    }
}
