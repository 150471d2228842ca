//! Password hashing with argon2id (the seed used SHA-1). Hashing is slow on
//! purpose, so it runs on the blocking pool, never on the async workers.

use std::sync::OnceLock;

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use crate::store::StoreError;

pub async fn hash(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| StoreError::Internal(format!("hashing task failed: {e}")))?
}

fn hash_now(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(format!("cannot hash a password: {e}")))
}

/// Checks `password` against a stored hash. With no hash (unknown user) it
/// checks against a fixed dummy, so a wrong e-mail costs as long as a wrong
/// password and timing does not tell which accounts exist.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let hash = stored.as_deref().unwrap_or_else(|| dummy_hash());
        let matches = PasswordHash::new(hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        matches && stored.is_some()
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("not the password of anyone").expect("hashing works"))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let a = super::hash("correct horse".into()).await.unwrap();
        let b = super::hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(super::verify("correct horse".into(), Some(a.clone())).await);
        assert!(!super::verify("wrong horse".into(), Some(a)).await);
        assert!(!super::verify("not the password of anyone".into(), None).await);
    }
}
