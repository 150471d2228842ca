//! Conversations over HTTP: the seed's listPublicSessions, listJoinedSessions,
//! createPrivateSession, createGroupSession, joinSession, invite,
//! leaveSession, updateSessionInfo, getSessionInfo, listHistoryMessages and
//! mark read. Changes of membership are published to the hubs, so open
//! websockets start or stop receiving the conversation at once.

use std::collections::HashMap;

use wire::{
    api::{
        check_description, check_group_name, ConversationDetails, ConversationSummary, CreateGroup, DirectoryEntry,
        MarkRead, MemberInfo, UpdateConversation, UserRef,
    },
    model::{Conversation, ConversationId, ConversationKind, JoinPolicy, Message, Presence, Role, UserId, Visibility},
    protocol::{ApiError, ErrorCode},
};
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;

use super::{json::ApiJson, users::public};
use crate::{
    auth::AuthUser,
    error::HttpError,
    hub::HubEvent,
    store::{
        conversations::{ConversationPatch, Membership, MAX_DIRECTORY_PAGE},
        messages::MAX_PAGE,
        new_id, now_millis, StoreError,
    },
    AppState,
};

/// Most members a group may be created with.
const MAX_INITIAL_MEMBERS: usize = 200;

fn not_found() -> HttpError {
    HttpError::new(ErrorCode::NotFound, "no such conversation")
}

fn forbidden(message: &str) -> HttpError {
    HttpError::new(ErrorCode::Forbidden, message)
}

async fn find_conversation(state: &AppState, id: &ConversationId) -> Result<Conversation, HttpError> {
    state.store.conversation(id).await?.ok_or_else(not_found)
}

/// The asker's membership; a conversation one does not belong to looks absent.
async fn membership(state: &AppState, id: &ConversationId, user: &UserId) -> Result<Membership, HttpError> {
    state.store.member(id, user).await?.ok_or_else(not_found)
}

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
    let peer = match c.kind {
        ConversationKind::Private => {
            let peer_id = if c.creator_id == m.user_id { c.peer_id.clone() } else { Some(c.creator_id.clone()) };
            match peer_id {
                Some(id) => state.store.user_by_id(&id).await?.as_ref().map(public),
                None => None,
            }
        }
        ConversationKind::Group => None,
    };
    Ok(ConversationSummary {
        unread: c.last_seq.saturating_sub(m.read_seq),
        read_seq: m.read_seq,
        role: m.role,
        conversation: c,
        peer,
        peer_presence: Presence::Offline,
    })
}

async fn add_member(state: &AppState, id: &ConversationId, user: &UserId, role: Role) -> Result<Membership, HttpError> {
    let member = Membership { conversation_id: id.clone(), user_id: user.clone(), role, read_seq: 0, joined_ms: now_millis() };
    state.store.put_member(&member).await?;
    state.fanout.publish(HubEvent::Joined { conversation_id: id.clone(), user_id: user.clone() }).await;
    Ok(member)
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

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    skip: u32,
    #[serde(default = "default_page")]
    limit: u32,
}

fn default_page() -> u32 {
    50
}

/// listPublicSessions.
pub async fn directory(
    State(state): State<AppState>,
    me: AuthUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Vec<DirectoryEntry>>, HttpError> {
    let groups = state.store.public_conversations(page.skip, page.limit.min(MAX_DIRECTORY_PAGE)).await?;
    let mut out = Vec::with_capacity(groups.len());
    for conversation in groups {
        let members = state.store.members_of(&conversation.id).await?;
        out.push(DirectoryEntry {
            joined: members.iter().any(|m| m.user_id == me.user_id),
            members: members.len() as u64,
            conversation,
        });
    }
    Ok(Json(out))
}

/// createGroupSession: the creator becomes its owner.
pub async fn create_group(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(req): ApiJson<CreateGroup>,
) -> Result<(StatusCode, Json<ConversationSummary>), HttpError> {
    let name = check_group_name(&req.name)?;
    let description = check_description(&req.description)?;
    if req.members.len() > MAX_INITIAL_MEMBERS {
        return Err(ApiError::invalid("members", format!("at most {MAX_INITIAL_MEMBERS} members at first")).into());
    }
    let known = state.store.users_by_ids(&req.members).await?;
    if let Some(missing) = req.members.iter().find(|id| !known.iter().any(|u| &u.id == *id)) {
        return Err(ApiError::invalid("members", format!("no such user: {missing}")).into());
    }
    let now = now_millis();
    let conversation = Conversation {
        id: ConversationId(new_id()),
        kind: ConversationKind::Group,
        visibility: req.visibility,
        join_policy: req.join_policy,
        name,
        description,
        creator_id: me.user_id.clone(),
        peer_id: None,
        created_ms: now,
        last_seq: 0,
        last_message: None,
        last_activity_ms: now,
    };
    state.store.insert_conversation(&conversation).await?;
    let owner = add_member(&state, &conversation.id, &me.user_id, Role::Owner).await?;
    for user in known.iter().filter(|u| u.id != me.user_id) {
        add_member(&state, &conversation.id, &user.id, Role::Member).await?;
    }
    Ok((StatusCode::CREATED, Json(summary(&state, conversation, &owner).await?)))
}

/// createPrivateSession: one per pair; asking again returns the same one.
pub async fn start_private(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(req): ApiJson<UserRef>,
) -> Result<(StatusCode, Json<ConversationSummary>), HttpError> {
    if req.user_id == me.user_id {
        return Err(ApiError::invalid("user_id", "a private chat needs someone else").into());
    }
    state.store.user_by_id(&req.user_id).await?.ok_or_else(super::users::no_such_user)?;
    let id = Conversation::private_id(&me.user_id, &req.user_id);
    let now = now_millis();
    let conversation = Conversation {
        id: id.clone(),
        kind: ConversationKind::Private,
        visibility: Visibility::Hidden,
        join_policy: JoinPolicy::InviteOnly,
        name: String::new(),
        description: String::new(),
        creator_id: me.user_id.clone(),
        peer_id: Some(req.user_id.clone()),
        created_ms: now,
        last_seq: 0,
        last_message: None,
        last_activity_ms: now,
    };
    let status = match state.store.insert_conversation(&conversation).await {
        Ok(()) => StatusCode::CREATED,
        Err(StoreError::Conflict(_)) => StatusCode::OK,
        Err(e) => return Err(e.into()),
    };
    // Both belong to it, also when an earlier attempt stopped half-way.
    for user in [&me.user_id, &req.user_id] {
        if state.store.member(&id, user).await?.is_none() {
            add_member(&state, &id, user, Role::Member).await?;
        }
    }
    let stored = find_conversation(&state, &id).await?;
    let mine = membership(&state, &id, &me.user_id).await?;
    Ok((status, Json(summary(&state, stored, &mine).await?)))
}

/// getSessionInfo: members see every conversation of theirs; others see public groups.
pub async fn details(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetails>, HttpError> {
    let id = ConversationId(id);
    let conversation = find_conversation(&state, &id).await?;
    let members = state.store.members_of(&id).await?;
    let my_role = members.iter().find(|m| m.user_id == me.user_id).map(|m| m.role);
    if my_role.is_none() && conversation.visibility != Visibility::Public {
        return Err(not_found());
    }
    let ids: Vec<UserId> = members.iter().map(|m| m.user_id.clone()).collect();
    let users: HashMap<UserId, _> = state.store.users_by_ids(&ids).await?.into_iter().map(|u| (u.id.clone(), u)).collect();
    let mut presence = state.presence.shown_in(&id, &ids).await?;
    let members = members
        .iter()
        .filter_map(|m| {
            users.get(&m.user_id).map(|u| MemberInfo {
                profile: public(u),
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
    let id = ConversationId(id);
    let mine = membership(&state, &id, &me.user_id).await?;
    if find_conversation(&state, &id).await?.kind != ConversationKind::Group {
        return Err(forbidden("private chats have no settings"));
    }
    if mine.role < Role::Admin {
        return Err(forbidden("only the owner and admins may change the group"));
    }
    let patch = ConversationPatch {
        name: req.name.as_deref().map(check_group_name).transpose()?,
        description: req.description.as_deref().map(check_description).transpose()?,
        visibility: req.visibility,
        join_policy: req.join_policy,
    };
    let updated = state.store.update_conversation(&id, &patch).await?.ok_or_else(not_found)?;
    state.fanout.publish(HubEvent::Updated { conversation_id: id, user_id: me.user_id }).await;
    Ok(Json(updated))
}

/// joinSession: open groups, or invite-only ones the user was invited to.
pub async fn join(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ConversationSummary>, HttpError> {
    let id = ConversationId(id);
    let conversation = find_conversation(&state, &id).await?;
    if let Some(existing) = state.store.member(&id, &me.user_id).await? {
        return Ok(Json(summary(&state, conversation, &existing).await?));
    }
    let invited = state.store.is_invited(&id, &me.user_id).await?;
    let open = conversation.kind == ConversationKind::Group && conversation.join_policy == JoinPolicy::Open;
    if !open && !invited {
        if conversation.kind == ConversationKind::Private || conversation.visibility != Visibility::Public {
            return Err(not_found());
        }
        return Err(forbidden("this group is invite-only: ask a member to invite you"));
    }
    let member = add_member(&state, &id, &me.user_id, Role::Member).await?;
    state.store.remove_invitation(&id, &me.user_id).await?;
    Ok(Json(summary(&state, conversation, &member).await?))
}

/// invite: any member of a group may invite someone, who may then join.
pub async fn invite(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UserRef>,
) -> Result<StatusCode, HttpError> {
    let id = ConversationId(id);
    membership(&state, &id, &me.user_id).await?;
    if find_conversation(&state, &id).await?.kind != ConversationKind::Group {
        return Err(forbidden("nobody can be added to a private chat"));
    }
    state.store.user_by_id(&req.user_id).await?.ok_or_else(super::users::no_such_user)?;
    if state.store.member(&id, &req.user_id).await?.is_some() {
        return Err(HttpError::new(ErrorCode::Conflict, "this user is a member already"));
    }
    state.store.put_invitation(&id, &req.user_id, now_millis()).await?;
    state.fanout.publish(HubEvent::Invited { conversation_id: id, user_id: req.user_id }).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The groups the user is invited to and may join.
pub async fn invitations(State(state): State<AppState>, me: AuthUser) -> Result<Json<Vec<Conversation>>, HttpError> {
    let ids = state.store.invitations_of(&me.user_id).await?;
    let mut found = state.store.conversations_by_ids(&ids).await?;
    found.sort_by_key(|c| ids.iter().position(|id| *id == c.id));
    Ok(Json(found))
}

/// leaveSession. An owner who leaves hands the group to the longest-standing member.
pub async fn leave(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    let id = ConversationId(id);
    let mine = membership(&state, &id, &me.user_id).await?;
    if find_conversation(&state, &id).await?.kind == ConversationKind::Private {
        return Err(forbidden("a private chat cannot be left"));
    }
    state.store.remove_member(&id, &me.user_id).await?;
    if mine.role == Role::Owner {
        let rest = state.store.members_of(&id).await?;
        if !rest.iter().any(|m| m.role == Role::Owner) {
            if let Some(heir) = rest.iter().max_by_key(|m| (m.role, std::cmp::Reverse(m.joined_ms))) {
                state.store.put_member(&Membership { role: Role::Owner, ..heir.clone() }).await?;
            }
        }
    }
    state.fanout.publish(HubEvent::Left { conversation_id: id, user_id: me.user_id }).await;
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
    let id = ConversationId(id);
    membership(&state, &id, &me.user_id).await?;
    if query.limit == 0 || query.limit > MAX_PAGE {
        return Err(ApiError::invalid("limit", format!("1 to {MAX_PAGE} messages a page")).into());
    }
    Ok(Json(state.store.messages_before(&id, query.before, query.limit).await?))
}

/// Mark read: moves the read position forward and tells the user's other devices.
pub async fn mark_read(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MarkRead>,
) -> Result<StatusCode, HttpError> {
    let id = ConversationId(id);
    membership(&state, &id, &me.user_id).await?;
    state.store.mark_read(&id, &me.user_id, req.seq).await?;
    state.fanout.publish(HubEvent::Read { conversation_id: id, user_id: me.user_id, seq: req.seq }).await;
    Ok(StatusCode::NO_CONTENT)
}
