//! Sign-ups: the invitation links administrators make, and the uses taken
//! of them. A use is a numbered slot, `(invitation, n)` for n in
//! 1..=max_uses, taken by inserting it: the unique key decides who gets the
//! last one, on SQLite and on MongoDB alike (FerretDB loses racing `$inc`s,
//! so no counter is trusted).

mod embedded;
mod mongodb;

use async_trait::async_trait;
use wire::model::{Millis, UserId};

use super::StoreError;

/// A stored invitation link. The token is never stored: its id is the
/// SHA-256 of the token, in hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteRecord {
    pub id: String,
    pub created_by: UserId,
    pub created_ms: Millis,
    pub expires_ms: Millis,
    pub max_uses: u32,
}

#[async_trait]
pub trait SignupRepo {
    async fn insert_invite(&self, invite: &InviteRecord) -> Result<(), StoreError>;

    async fn invite(&self, id: &str) -> Result<Option<InviteRecord>, StoreError>;

    /// Every invitation with the uses taken of it, newest first.
    async fn invites(&self) -> Result<Vec<(InviteRecord, u32)>, StoreError>;

    /// Removes an invitation and its uses; `false` if there was none.
    async fn remove_invite(&self, id: &str) -> Result<bool, StoreError>;

    /// Uses taken of an invitation (or of any other key slots are taken under).
    async fn uses(&self, id: &str) -> Result<u32, StoreError>;

    /// Takes slot `n` of `id`; `false` if someone has it already.
    async fn claim_use(&self, id: &str, n: u32, at: Millis) -> Result<bool, StoreError>;

    /// Gives a slot back (the sign-up that took it failed).
    async fn release_use(&self, id: &str, n: u32) -> Result<(), StoreError>;
}
