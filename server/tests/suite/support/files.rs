//! The arithmetic of files as a client does it: content hashes and the
//! proof that answers an instant upload's challenge.

use sha2::{Digest, Sha256};
use wire::api::InstantChallenge;

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex SHA-256 of `bytes`, as file records name their content.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The proof of holding `bytes`: SHA-256 of the nonce, then of each range asked.
pub fn instant_proof(challenge: &InstantChallenge, bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(challenge.nonce.as_bytes());
    for &(start, end) in &challenge.ranges {
        hasher.update(&bytes[start as usize..end as usize]);
    }
    hex(&hasher.finalize())
}
