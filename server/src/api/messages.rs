//! Sending and changing messages over HTTP, for bots: the same [`Chat`]
//! calls as the websocket's `send` frame, so the same rules, budgets and
//! fan-out. Each answers the stored entry: 201 when new, 200 when it was
//! already so (a resent client id, a reaction given again). Also one
//! message as members see it, for quoting one not loaded.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use wire::{
    api::{EditMessage, SendMessage},
    fold::Shown,
    model::{ConversationId, Message, MessageKind, UserId},
    protocol::ApiError,
};

use super::json::ApiJson;
use crate::{
    auth::AuthUser,
    chat::{Outgoing, Sent},
    clock,
    error::HttpError,
    hub::Pressure,
    ratelimit::budgets::Action,
    state::AppState,
    store::new_id,
};

type Answer = Result<(StatusCode, Json<Message>), HttpError>;

fn answer(sent: Sent) -> (StatusCode, Json<Message>) {
    let status = if sent.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    (status, Json(sent.message))
}

/// `POST …/messages`: a message, as the websocket's `send` frame.
pub async fn send(State(state): State<AppState>, me: AuthUser, Path(id): Path<String>, ApiJson(req): ApiJson<SendMessage>) -> Answer {
    let SendMessage { client_id, kind, content, attachment, reply_to, mentions } = req;
    if kind.is_change() {
        return Err(ApiError::invalid("kind", "changes have endpoints of their own").into());
    }
    let message =
        Outgoing { conversation_id: ConversationId(id), client_id, kind, content, attachment, target: None, reply_to, mentions };
    send_in_turn(&state, &me, message).await
}

/// Stores `outgoing` in its turn: while this node's readers are behind, a
/// send over HTTP waits as a websocket's does (`hub::Pressure`), and past
/// the same bound is refused with `rate_limited` and a time to wait. Before
/// waiting, a request spends one of a budget of its own
/// (`Action::HeldSend`): many at once from one user are refused at once,
/// not held, so a user has a few seconds' worth of sends waiting however
/// many requests they make.
async fn send_in_turn(state: &AppState, me: &AuthUser, outgoing: Outgoing) -> Answer {
    let pressure = state.hub.pressure();
    if pressure.must_wait() {
        let spent = state.budgets.spend(Action::HeldSend, &me.user_id).await;
        spent.map_err(|wait| HttpError::rate_limited_for("the readers here are behind: send less at once", wait))?;
        metrics::counter!("natter_http_sends_held_total").increment(1);
        if !pressure.wait_turn().await {
            let wait = Pressure::retry_after(clock::now_millis().unsigned_abs());
            return Err(HttpError::rate_limited_for("the readers here are behind: send again shortly", wait));
        }
    }
    Ok(answer(state.chat.send(&me.user_id, outgoing).await?))
}

/// `GET …/messages/{seq}`: the message with its changes folded in.
pub async fn one(State(state): State<AppState>, me: AuthUser, Path((id, seq)): Path<(String, u64)>) -> Result<Json<Shown>, HttpError> {
    Ok(Json(state.chat.message(&ConversationId(id), &me.user_id, seq).await?))
}

/// `GET …/pins`: the messages pinned now, the latest pinned first.
pub async fn pinned(State(state): State<AppState>, me: AuthUser, Path(id): Path<String>) -> Result<Json<Vec<Shown>>, HttpError> {
    Ok(Json(state.chat.pinned(&ConversationId(id), &me.user_id).await?))
}

/// A change to the message at `seq`, under a client id of its own.
async fn change(state: &AppState, me: &AuthUser, id: String, seq: u64, kind: MessageKind, content: String) -> Answer {
    mentioning_change(state, me, id, seq, kind, content, Vec::new()).await
}

/// A change whose text mentions members (an edit).
async fn mentioning_change(
    state: &AppState,
    me: &AuthUser,
    id: String,
    seq: u64,
    kind: MessageKind,
    content: String,
    mentions: Vec<UserId>,
) -> Answer {
    let change = Outgoing {
        conversation_id: ConversationId(id),
        client_id: format!("http-{}", new_id()),
        kind,
        content,
        attachment: None,
        target: Some(seq),
        reply_to: None,
        mentions,
    };
    send_in_turn(state, me, change).await
}

/// `PATCH …/messages/{seq}`: new text for one's own message.
pub async fn edit(
    State(state): State<AppState>,
    me: AuthUser,
    Path((id, seq)): Path<(String, u64)>,
    ApiJson(req): ApiJson<EditMessage>,
) -> Answer {
    mentioning_change(&state, &me, id, seq, MessageKind::Edit, req.content, req.mentions).await
}

/// `DELETE …/messages/{seq}`.
pub async fn delete(State(state): State<AppState>, me: AuthUser, Path((id, seq)): Path<(String, u64)>) -> Answer {
    change(&state, &me, id, seq, MessageKind::Delete, String::new()).await
}

/// `PUT …/reactions/{emoji}`.
pub async fn react(State(state): State<AppState>, me: AuthUser, Path((id, seq, emoji)): Path<(String, u64, String)>) -> Answer {
    change(&state, &me, id, seq, MessageKind::React, emoji).await
}

/// `DELETE …/reactions/{emoji}`.
pub async fn unreact(
    State(state): State<AppState>,
    me: AuthUser,
    Path((id, seq, emoji)): Path<(String, u64, String)>,
) -> Answer {
    change(&state, &me, id, seq, MessageKind::Unreact, emoji).await
}

/// `PUT …/pin`.
pub async fn pin(State(state): State<AppState>, me: AuthUser, Path((id, seq)): Path<(String, u64)>) -> Answer {
    change(&state, &me, id, seq, MessageKind::Pin, String::new()).await
}

/// `DELETE …/pin`.
pub async fn unpin(State(state): State<AppState>, me: AuthUser, Path((id, seq)): Path<(String, u64)>) -> Answer {
    change(&state, &me, id, seq, MessageKind::Unpin, String::new()).await
}
