//! Conversations over HTTP: the seed's listPublicSessions, listJoinedSessions,
//! createPrivateSession, createGroupSession, joinSession, invite,
//! leaveSession, updateSessionInfo, getSessionInfo, listHistoryMessages and
//! mark read. Thin callers of [`crate::chat::Chat`]; what is here builds the
//! answers (summaries with unread counts and presence).

use std::collections::HashMap;

use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use wire::{
    api::{
        ConversationDetails, ConversationSummary, CreateGroup, DirectoryEntry, DirectoryParams, MarkRead, MemberInfo,
        Receipts, UpdateConversation, UserRef,
    },
    model::{Conversation, ConversationId, ConversationKind, Message, Presence, UserId, Visibility},
    protocol::ErrorCode,
    push::NotifyLevel,
};

use super::json::ApiJson;
use crate::{
    auth::AuthUser,
    chat::ChatError,
    error::HttpError,
    ratelimit::budgets::Action,
    state::AppState,
    store::conversations::Membership,
    text::search_fold::KeyQuery,
};

async fn summary(state: &AppState, c: Conversation, m: &Membership) -> Result<ConversationSummary, HttpError> {
    let mut summary = [bare_summary(state, c, m).await?];
    with_peer_presence(state, &mut summary).await?;
    let [summary] = summary;
    Ok(summary)
}

/// Fills in how each private chat's peer shows in it, in one look-up.
async fn with_peer_presence(state: &AppState, summaries: &mut [ConversationSummary]) -> Result<(), HttpError> {
    let pairs: Vec<(ConversationId, UserId)> = summaries
        .iter()
        .filter_map(|s| s.peer.as_ref().map(|p| (s.conversation.id.clone(), p.id.clone())))
        .collect();
    let mut shown = state.presence.shown(&pairs).await?;
    for s in summaries.iter_mut() {
        if let Some(peer) = &s.peer {
            s.peer_presence = shown.remove(&(s.conversation.id.clone(), peer.id.clone())).unwrap_or_default();
        }
    }
    Ok(())
}

async fn bare_summary(state: &AppState, c: Conversation, m: &Membership) -> Result<ConversationSummary, HttpError> {
    let group_size = state.config.push.group_size;
    let (peer, members) = match c.kind {
        ConversationKind::Private => {
            let peer_id = if c.creator_id == m.user_id { c.peer_id.clone() } else { Some(c.creator_id.clone()) };
            let peer = match peer_id {
                Some(id) => state.store.user_by_id(&id).await?.map(|u| u.public()),
                None => None,
            };
            (peer, 2)
        }
        // Counted only as far as the size that changes the default.
        ConversationKind::Group => {
            let limit = u32::try_from(group_size.saturating_add(1)).unwrap_or(u32::MAX);
            (None, state.store.first_members(&c.id, limit).await?.len())
        }
    };
    let notify_default = NotifyLevel::default_for(c.kind, members, group_size);
    Ok(ConversationSummary {
        unread: c.last_message.as_ref().map_or(0, |p| p.shown).saturating_sub(m.read_shown),
        read_seq: m.read_seq,
        read_shown: m.read_shown,
        mention_seq: m.mention_seq,
        role: m.role,
        conversation: c,
        notify_default,
        peer,
        peer_presence: Presence::Offline,
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    kind: Option<ConversationKind>,
}

/// listJoinedSessions: newest activity first, with unread counts.
pub async fn list(
    State(state): State<AppState>,
    me: AuthUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<ConversationSummary>>, HttpError> {
    let memberships = state.store.memberships_of(&me.user_id).await?;
    let ids: Vec<ConversationId> = memberships.iter().map(|m| m.conversation_id.clone()).collect();
    let mut conversations: HashMap<ConversationId, Conversation> =
        state.store.conversations_by_ids(&ids).await?.into_iter().map(|c| (c.id.clone(), c)).collect();
    let mut out = Vec::new();
    for m in &memberships {
        let Some(c) = conversations.remove(&m.conversation_id) else { continue };
        if query.kind.is_none_or(|k| k == c.kind) {
            out.push(bare_summary(&state, c, m).await?);
        }
    }
    with_peer_presence(&state, &mut out).await?;
    out.sort_by_key(|s| std::cmp::Reverse(s.conversation.last_activity_ms));
    Ok(Json(out))
}

fn default_page() -> u32 {
    50
}

/// listPublicSessions, or the public groups whose name or description holds
/// `q` (folded as message search folds), best match first.
pub async fn directory(
    State(state): State<AppState>,
    me: AuthUser,
    params: Result<Query<DirectoryParams>, QueryRejection>,
) -> Result<Json<Vec<DirectoryEntry>>, HttpError> {
    let Query(params) = params.map_err(|r| HttpError::new(ErrorCode::BadRequest, r.body_text()))?;
    let (q, limit) = params.check()?;
    let spent = state.budgets.spend(Action::Directory, &me.user_id).await;
    spent.map_err(|wait| HttpError::rate_limited_for("searching too often; slow down", wait))?;
    // A query of control characters alone folds to nothing, and finds nothing.
    let groups = match q.map(KeyQuery::new) {
        Some(None) => Vec::new(),
        key => state.store.public_conversations(key.flatten().as_ref(), params.skip, limit).await?,
    };
    let mut out = Vec::with_capacity(groups.len());
    for conversation in groups {
        let members = state.store.members_of(&conversation.id).await?;
        let joined = members.iter().any(|m| m.user_id == me.user_id);
        let conversation = if joined { conversation } else { conversation.for_outsiders() };
        out.push(DirectoryEntry { joined, members: members.len() as u64, conversation });
    }
    Ok(Json(out))
}

/// createGroupSession: the creator becomes its owner.
pub async fn create_group(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(req): ApiJson<CreateGroup>,
) -> Result<(StatusCode, Json<ConversationSummary>), HttpError> {
    let (conversation, owner) = state.chat.create_group(&me.user_id, req).await?;
    Ok((StatusCode::CREATED, Json(summary(&state, conversation, &owner).await?)))
}

/// createPrivateSession: one per pair; asking again returns the same one.
pub async fn start_private(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(req): ApiJson<UserRef>,
) -> Result<(StatusCode, Json<ConversationSummary>), HttpError> {
    let (created, conversation, mine) = state.chat.start_private(&me.user_id, &req.user_id).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(summary(&state, conversation, &mine).await?)))
}

/// getSessionInfo: members see every conversation of theirs; others see public groups.
pub async fn details(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetails>, HttpError> {
    let id = ConversationId(id);
    let conversation = state.chat.conversation(&id).await?;
    let members = state.store.members_of(&id).await?;
    let my_role = members.iter().find(|m| m.user_id == me.user_id).map(|m| m.role);
    let conversation = match my_role {
        Some(_) => conversation,
        None if conversation.visibility == Visibility::Public => conversation.for_outsiders(),
        None => return Err(ChatError::NotMember.into()),
    };
    let ids: Vec<UserId> = members.iter().map(|m| m.user_id.clone()).collect();
    let users: HashMap<UserId, _> = state.store.users_by_ids(&ids).await?.into_iter().map(|u| (u.id.clone(), u)).collect();
    let mut presence = state.presence.shown_in(&id, &ids).await?;
    // A block keeps each out of the other's sight.
    for user in state.chat.kept_apart(&me.user_id).await? {
        presence.remove(&user);
    }
    let members = members
        .iter()
        .filter_map(|m| {
            users.get(&m.user_id).map(|u| MemberInfo {
                profile: u.public(),
                role: m.role,
                presence: presence.remove(&m.user_id).unwrap_or_default(),
            })
        })
        .collect();
    Ok(Json(ConversationDetails { conversation, members, my_role }))
}

/// updateSessionInfo: owners and admins of a group.
pub async fn update(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateConversation>,
) -> Result<Json<Conversation>, HttpError> {
    Ok(Json(state.chat.update(&me.user_id, &ConversationId(id), req).await?))
}

/// joinSession: open groups, or invite-only ones the user was invited to.
pub async fn join(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ConversationSummary>, HttpError> {
    let (conversation, member) = state.chat.join(&me.user_id, &ConversationId(id)).await?;
    Ok(Json(summary(&state, conversation, &member).await?))
}

/// invite: any member of a group may invite someone, who may then join.
pub async fn invite(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UserRef>,
) -> Result<StatusCode, HttpError> {
    state.chat.invite(&me.user_id, &ConversationId(id), &req.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Declines an invitation.
pub async fn decline(State(state): State<AppState>, me: AuthUser, Path(id): Path<String>) -> Result<StatusCode, HttpError> {
    state.chat.decline(&me.user_id, &ConversationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The groups the user is invited to and may join.
pub async fn invitations(State(state): State<AppState>, me: AuthUser) -> Result<Json<Vec<Conversation>>, HttpError> {
    Ok(Json(state.chat.invitations(&me.user_id).await?))
}

/// leaveSession. An owner who leaves hands the group to the longest-standing member.
pub async fn leave(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    state.chat.leave(&me.user_id, &ConversationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    before: Option<u64>,
    #[serde(default = "default_page")]
    limit: u32,
}

/// listHistoryMessages: newest first, `before` a sequence number, at most 100.
pub async fn history(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Vec<Message>>, HttpError> {
    let page = state.chat.history(&ConversationId(id), &me.user_id, query.before, query.limit).await?;
    Ok(Json(page))
}

/// Mark read: moves the read position forward (never past the last message)
/// and tells the user's other devices.
pub async fn mark_read(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MarkRead>,
) -> Result<StatusCode, HttpError> {
    let conversation = ConversationId(id);
    let seq = state.chat.mark_read(&conversation, &me.user_id, req.seq).await?;
    state.pushes.read(me.user_id, conversation, seq);
    Ok(StatusCode::NO_CONTENT)
}

/// How far the other members have received and read: private chats and
/// groups within the receipt limit, for a member who sends receipts.
pub async fn receipts(State(state): State<AppState>, me: AuthUser, Path(id): Path<String>) -> Result<Json<Receipts>, HttpError> {
    Ok(Json(state.chat.receipts(&ConversationId(id), &me.user_id).await?))
}
