//! Friends: a request, its acceptance (or refusal), and removal. Each side
//! keeps its own link; the other side's is written first, so an interrupted
//! change leaves at worst a request the asker can see and retry.

use std::collections::HashMap;

use axum::{
    extract::{Path, State},
    Json,
};
use wire::{
    api::Friends,
    model::{Conversation, ConversationId, UserId},
    protocol::{ApiError, ErrorCode},
};

use super::users::no_such_user;
use crate::{
    clock::now_millis,
    auth::AuthUser,
    chat::ChatError,
    error::HttpError,
    store::{
        friends::{FriendLink, LinkState},
    },
    state::AppState,
};

pub async fn list(State(state): State<AppState>, me: AuthUser) -> Result<Json<Friends>, HttpError> {
    Ok(Json(friends_of(&state, &me.user_id).await?))
}

async fn friends_of(state: &AppState, user: &UserId) -> Result<Friends, HttpError> {
    let links = state.store.links_of(user).await?;
    let ids: Vec<UserId> = links.iter().map(|l| l.other.clone()).collect();
    let users: HashMap<UserId, _> = state.store.users_by_ids(&ids).await?.into_iter().map(|u| (u.id.clone(), u)).collect();
    let mut friends = Friends::default();
    for link in links {
        let Some(other) = users.get(&link.other) else { continue };
        let list = match link.state {
            LinkState::Friends => &mut friends.friends,
            LinkState::Incoming => &mut friends.incoming,
            LinkState::Outgoing => &mut friends.outgoing,
            LinkState::Blocked | LinkState::BlockedBy => continue, // see `/api/blocks`
        };
        list.push(other.public());
    }
    let pairs: Vec<(ConversationId, UserId)> =
        friends.friends.iter().map(|f| (Conversation::private_id(user, &f.id), f.id.clone())).collect();
    friends.presence = state.presence.shown(&pairs).await?.into_iter().map(|((_, id), p)| (id, p)).collect();
    Ok(friends)
}

/// Sends a friend request, or accepts the one the other user sent.
pub async fn add(
    State(state): State<AppState>,
    me: AuthUser,
    Path(other): Path<String>,
) -> Result<Json<Friends>, HttpError> {
    let other = UserId(other);
    if other == me.user_id {
        return Err(HttpError::from(ApiError::invalid("user_id", "you cannot befriend yourself")));
    }
    state.store.user_by_id(&other).await?.ok_or_else(no_such_user)?;
    let now = now_millis();
    let link = |owner: &UserId, other: &UserId, state| FriendLink {
        owner: owner.clone(),
        other: other.clone(),
        state,
        since_ms: now,
    };
    match state.store.link(&me.user_id, &other).await?.map(|l| l.state) {
        Some(LinkState::Incoming) => {
            state.store.put_link(&link(&other, &me.user_id, LinkState::Friends)).await?;
            state.store.put_link(&link(&me.user_id, &other, LinkState::Friends)).await?;
        }
        None => {
            state.store.put_link(&link(&other, &me.user_id, LinkState::Incoming)).await?;
            state.store.put_link(&link(&me.user_id, &other, LinkState::Outgoing)).await?;
        }
        Some(LinkState::Outgoing | LinkState::Friends) => {} // asked already, or friends already
        Some(LinkState::Blocked | LinkState::BlockedBy) => return Err(ChatError::NotAccepting.into()),
    }
    Ok(Json(friends_of(&state, &me.user_id).await?))
}

/// Removes a friend, withdraws a request, or declines one.
pub async fn remove(
    State(state): State<AppState>,
    me: AuthUser,
    Path(other): Path<String>,
) -> Result<Json<Friends>, HttpError> {
    let other = UserId(other);
    if state.store.link(&me.user_id, &other).await?.is_none_or(|l| l.state.is_block()) {
        return Err(HttpError::new(ErrorCode::NotFound, "no friendship or request with this user"));
    }
    state.store.remove_link(&other, &me.user_id).await?;
    state.store.remove_link(&me.user_id, &other).await?;
    Ok(Json(friends_of(&state, &me.user_id).await?))
}
