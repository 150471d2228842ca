use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};
use wire::model::UserId;

use super::{FriendLink, FriendRepo, LinkState};
use crate::store::{
    embedded::{internal, query_all, Cached, EmbeddedStore},
    StoreError,
};

const COLUMNS: &str = "owner, other, state, since_ms";

fn from_row(row: &Row<'_>) -> rusqlite::Result<FriendLink> {
    let state: i32 = row.get(2)?;
    Ok(FriendLink {
        owner: UserId(row.get(0)?),
        other: UserId(row.get(1)?),
        state: LinkState::from_code(state).ok_or(rusqlite::Error::IntegralValueOutOfRange(2, state.into()))?,
        since_ms: row.get(3)?,
    })
}

#[async_trait]
impl FriendRepo for EmbeddedStore {
    async fn put_link(&self, link: &FriendLink) -> Result<(), StoreError> {
        let l = link.clone();
        self.call(move |c| {
            c.cached_execute(
                &format!("INSERT OR REPLACE INTO friend_links ({COLUMNS}) VALUES (?1, ?2, ?3, ?4)"),
                params![l.owner.0, l.other.0, l.state.code(), l.since_ms],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn link(&self, owner: &UserId, other: &UserId) -> Result<Option<FriendLink>, StoreError> {
        let (owner, other) = (owner.0.clone(), other.0.clone());
        self.call(move |c| {
            c.cached_row(
                &format!("SELECT {COLUMNS} FROM friend_links WHERE owner = ?1 AND other = ?2"),
                params![owner, other],
                from_row,
            )
            .optional()
            .map_err(internal)
        })
        .await
    }

    async fn links_of(&self, owner: &UserId) -> Result<Vec<FriendLink>, StoreError> {
        let owner = owner.0.clone();
        self.call(move |c| {
            query_all(
                c,
                &format!("SELECT {COLUMNS} FROM friend_links WHERE owner = ?1 ORDER BY since_ms, other"),
                [owner],
                from_row,
            )
        })
        .await
    }

    async fn remove_link(&self, owner: &UserId, other: &UserId) -> Result<(), StoreError> {
        let (owner, other) = (owner.0.clone(), other.0.clone());
        self.call(move |c| {
            c.cached_execute(
                "DELETE FROM friend_links WHERE owner = ?1 AND other = ?2",
                params![owner, other],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }
}
