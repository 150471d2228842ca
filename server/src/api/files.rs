//! Uploads and downloads of files for messages (`/api/files`); the storage
//! side lives in `crate::files`.

use axum::{
    body::Body,
    extract::{rejection::QueryRejection, Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::Response,
    Json,
};
use serde::Deserialize;
use wire::{
    api::{attachment_fits, check_file_name, FileInfo, InstantChallenge, InstantClaim, InstantProof},
    model::{FileId, MessageKind, UserId},
    protocol::{ApiError, ErrorCode},
};

use super::json::ApiJson;
use crate::{
    clock::now_millis,
    auth::AuthUser,
    error::HttpError,
    files::{
        self, image_parts,
        instant::Challenge,
        quota::{Quota, Usage},
        serve, sniff, NoParts, ReceiveError,
    },
    ratelimit::{budgets::Action, slots::UploadSlot},
    store::{
        files::{BlobRecord, FileRecord},
        new_id,
    },
    state::AppState,
};

/// Header carrying the client's hex SHA-256 of an upload, checked against the bytes.
pub const CONTENT_SHA256: &str = "x-content-sha256";

#[derive(Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
    /// The message kind the file is meant for: a file that cannot be one is refused.
    #[serde(default)]
    kind: Option<MessageKind>,
}

/// `POST /api/files?name=…&kind=…`: the raw bytes as the body.
pub async fn upload(
    State(state): State<AppState>,
    me: AuthUser,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileInfo>), HttpError> {
    let Query(query) = query.map_err(|e| HttpError::new(ErrorCode::BadRequest, e.body_text()))?;
    let name = state.text.check_name(check_file_name(query.name.as_deref().unwrap_or_default())?, "name")?;
    let kind = query.kind.unwrap_or(MessageKind::File);
    let claimed_sha256 = match headers.get(CONTENT_SHA256) {
        Some(v) => Some(sha256_param(v.to_str().unwrap_or_default())?),
        None => None,
    };
    let _slot = start_upload(&state, &me.user_id).await?;
    let max = state.config.max_upload_bytes;
    let usage = quota_usage(&state, &me.user_id, true).await?;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large(max).closing());
    }
    if let Some(n) = declared {
        usage.admit(n).map_err(|e| HttpError::from(e).closing())?;
    }
    // A body without a length stops at what the quota leaves, if less than the size limit.
    let cap = max.min(usage.room());
    let uploads = &state.uploads;
    let mut body = body.into_data_stream();
    let received = uploads.receive(&mut body, cap).await;
    if matches!(received, Err(ReceiveError::TooLarge)) {
        files::drain(&mut body).await;
    }
    let received = received.map_err(|e| match e {
        ReceiveError::TooLarge if cap < max => usage.refuse(None).into(),
        ReceiveError::TooLarge => too_large(max),
        ReceiveError::Empty => ApiError::invalid("body", "the file is empty").into(),
        ReceiveError::Body(why) => HttpError::new(ErrorCode::BadRequest, format!("the upload broke off: {why}")),
        ReceiveError::Io(e) => io_failure(e),
    })?;
    // Again, now that the size is known: the user's other uploads may have ended meanwhile.
    quota_usage(&state, &me.user_id, true).await?.admit(received.size)?;
    if claimed_sha256.as_ref().is_some_and(|claimed| *claimed != received.sha256) {
        return Err(ApiError::invalid("sha256", "the bytes received do not match X-Content-Sha256; nothing was stored").into());
    }
    let mime = sniff::mime_of(&received.head);
    let claimed_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if sniff::claim_contradicts(claimed_type, &mime) {
        return Err(HttpError::new(
            ErrorCode::UnsupportedMediaType,
            format!("the content is {mime}, not {claimed_type}; nothing was stored"),
        ));
    }
    let image = match mime.starts_with("image/") {
        true => {
            // The bytes are read only once a decode slot is held: waiting
            // uploads hold nothing but their temporary file.
            let slot = decode_slot(&state).await?;
            let bytes = uploads.read_received(&received).await.map_err(io_failure)?;
            let (sniffed, max_pixels) = (mime.clone(), state.config.images.max_pixels);
            let parts = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                image_parts(&bytes, &sniffed, max_pixels)
            })
            .await
            .map_err(|e| HttpError::new(ErrorCode::Internal, format!("image task failed: {e}")))?;
            match parts {
                Ok(parts) => Some(parts),
                Err(NoParts::TooManyPixels) if kind == MessageKind::Image => {
                    return Err(HttpError::new(
                        ErrorCode::UnsupportedMediaType,
                        format!(
                            "an image message may have at most {} megapixels; send this one as a file; nothing was stored",
                            max_pixels / 1_000_000
                        ),
                    ))
                }
                Err(_) => None,
            }
        }
        false => None,
    };
    fits(kind, &mime, image.is_some())?;
    let blob = BlobRecord {
        sha256: received.sha256.clone(),
        size: received.size,
        mime,
        width: image.as_ref().map(|i| i.width),
        height: image.as_ref().map(|i| i.height),
        thumbnail: image.is_some(),
        created_ms: now_millis(),
    };
    // Identical content uploaded before keeps its first record (its facts are the same).
    let blob = state.store.blob(&blob.sha256).await?.unwrap_or(blob);
    // The file is recorded before its bytes are put in place, which keeps a
    // sweep from removing them under it (see `files::sweep`).
    let file = record_file(&state, &me.user_id, blob, name).await?;
    if let Err(e) = uploads.keep(received, image.as_ref()).await {
        let _ = state.store.delete_unposted_files(&[file.id.clone()]).await;
        return Err(io_failure(e));
    }
    Ok((StatusCode::CREATED, Json(file.info())))
}

/// `POST /api/files/instant`: a challenge when the server holds the content, else 404.
pub async fn claim(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(req): ApiJson<InstantClaim>,
) -> Result<Json<InstantChallenge>, HttpError> {
    let sha256 = sha256_param(&req.sha256)?;
    let name = state.text.check_name(check_file_name(&req.name)?, "name")?;
    let not_held = || HttpError::new(ErrorCode::NotFound, "the server does not hold this content: upload it");
    let blob = state.store.blob(&sha256).await?.filter(|b| b.size == req.size).ok_or_else(not_held)?;
    // Only content the claimer may read already: otherwise the answer would
    // tell anyone whether someone's file is on the server.
    if !may_read_content(&state, &me.user_id, &sha256).await? {
        return Err(not_held());
    }
    if !state.uploads.holds(&sha256).await.map_err(io_failure)? {
        return Err(not_held());
    }
    fits(req.kind, &blob.mime, blob.thumbnail)?;
    state
        .challenges
        .issue(me.user_id.clone(), blob, name, req.kind)
        .await
        .map_err(challenges_unavailable)?
        .map(Json)
        .ok_or_else(|| HttpError::new(ErrorCode::RateLimited, "too many instant uploads at once; upload the file"))
}

/// Uploads of one content looked at to decide whether a user may read it.
const READABLE_LOOKUPS: u32 = 50;

/// Whether `user` may read some upload of the content `sha256` (their own,
/// or one posted where they are a member), among the first [`READABLE_LOOKUPS`].
async fn may_read_content(state: &AppState, user: &UserId, sha256: &str) -> Result<bool, HttpError> {
    for file in state.store.files_of_blob(sha256, READABLE_LOOKUPS).await? {
        if state.chat.may_read_file(user, &file).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `POST /api/files/instant/{challenge_id}`: the proof; 201 with the new file.
pub async fn prove(
    State(state): State<AppState>,
    me: AuthUser,
    Path(challenge_id): Path<String>,
    ApiJson(req): ApiJson<InstantProof>,
) -> Result<(StatusCode, Json<FileInfo>), HttpError> {
    let challenge: Challenge = state
        .challenges
        .take(&challenge_id, &me.user_id)
        .await
        .map_err(challenges_unavailable)?
        .ok_or_else(|| HttpError::new(ErrorCode::NotFound, "no such challenge, or it expired: claim again"))?;
    let gone = || HttpError::new(ErrorCode::NotFound, "the server no longer holds this content: upload it");
    let content = state.uploads.open(&challenge.blob.sha256).await.map_err(io_failure)?.ok_or_else(gone)?;
    if !challenge.verify(&*content, &req.proof).await.map_err(io_failure)? {
        return Err(HttpError::new(ErrorCode::Forbidden, "the proof does not match the content; nothing was stored"));
    }
    quota_usage(&state, &me.user_id, true).await?.admit(challenge.blob.size)?;
    let file = record_file(&state, &me.user_id, challenge.blob, challenge.name).await?;
    // A sweep may have taken the content between the proof and the record.
    if !state.uploads.holds(&file.blob.sha256).await.unwrap_or(false) {
        let _ = state.store.delete_unposted_files(&[file.id.clone()]).await;
        return Err(gone());
    }
    Ok((StatusCode::CREATED, Json(file.info())))
}

/// `GET /api/files/{id}`: the content (images without their metadata).
pub async fn download(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let file = readable_file(&state, &me.user_id, id).await?;
    let blob = &file.blob;
    let inline = blob.thumbnail || blob.mime.starts_with("audio/") || blob.mime.starts_with("video/");
    let content = state.uploads.open_served(blob).await;
    let download = serve::Download { content, mime: &blob.mime, name: &file.name, inline, etag: blob.sha256.clone() };
    Ok(serve::send(download, &headers).await)
}

/// `GET /api/files/{id}/thumbnail`: a WebP at most 320 pixels on a side.
pub async fn thumbnail(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let file = readable_file(&state, &me.user_id, id).await?;
    if !file.blob.thumbnail {
        return Err(HttpError::new(ErrorCode::NotFound, "this file has no thumbnail"));
    }
    let content = state.uploads.open_thumbnail(&file.blob.sha256).await;
    let name = format!("{}.webp", file.name);
    let etag = format!("{}-thumb", file.blob.sha256);
    let download = serve::Download { content, mime: "image/webp", name: &name, inline: true, etag };
    Ok(serve::send(download, &headers).await)
}

async fn readable_file(state: &AppState, user: &UserId, id: String) -> Result<FileRecord, HttpError> {
    let file = state
        .store
        .file(&FileId(id))
        .await?
        .ok_or_else(|| HttpError::new(ErrorCode::NotFound, "no such file"))?;
    if !state.chat.may_read_file(user, &file).await? {
        return Err(HttpError::new(ErrorCode::Forbidden, "this file was not posted in a conversation of yours"));
    }
    Ok(file)
}

async fn record_file(state: &AppState, owner: &UserId, blob: BlobRecord, name: String) -> Result<FileRecord, HttpError> {
    let file = FileRecord { id: FileId(new_id()), owner: owner.clone(), name, blob, created_ms: now_millis() };
    state.store.insert_file(&file).await?;
    Ok(file)
}

fn fits(kind: MessageKind, mime: &str, thumbnail: bool) -> Result<(), HttpError> {
    attachment_fits(kind, mime, thumbnail).map_err(|why| {
        HttpError::new(ErrorCode::UnsupportedMediaType, format!("{why} (this is {mime}); nothing was stored"))
    })
}

/// Starts one of the user's uploads (files and avatars), before the body is
/// read: takes one of the slots they may hold at once (given back when the
/// guard drops, however the request ends) and one of their upload budget.
/// Else 429 `rate_limited` (the body stays unread, so the connection closes).
pub(super) async fn start_upload(state: &AppState, user: &UserId) -> Result<UploadSlot, HttpError> {
    let slot = state.upload_slots.enter(&user.0).ok_or_else(|| {
        HttpError::rate_limited_for("too many uploads at once; wait for one to finish", SLOT_RETRY).closing()
    })?;
    state.budgets.spend(Action::Upload, user).await.map_err(|wait| {
        HttpError::rate_limited_for("too many uploads; try again later", wait).closing()
    })?;
    Ok(slot)
}

/// Retry-After of an upload turned away because the user's slots are all taken.
const SLOT_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// What the user's uploads take now, against their quota; `with_avatar`:
/// their avatar counted too (not when it is being replaced).
pub(super) async fn quota_usage(state: &AppState, user: &UserId, with_avatar: bool) -> Result<Usage, HttpError> {
    let quota = Quota { limit: state.config.upload_quota_bytes };
    Ok(quota.usage(&state.store, &*state.avatars, user, with_avatar).await?)
}

/// A slot to decode an image in: held until dropped (move it into the
/// blocking task). When the slots and their queue are taken, 429
/// `rate_limited`: the client tries again, rather than its image silently
/// arriving as a plain file.
pub(super) async fn decode_slot(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, HttpError> {
    state.decodes.enter().await.map_err(|_| {
        HttpError::rate_limited_for("the server is busy decoding images; try again shortly", DECODE_RETRY)
    })
}

/// Retry-After of an upload turned away because decodes are all taken.
const DECODE_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// A hex SHA-256 from the client, lower-cased.
fn sha256_param(s: &str) -> Result<String, HttpError> {
    let s = s.trim().to_ascii_lowercase();
    if files::is_sha256(&s) {
        Ok(s)
    } else {
        Err(ApiError::invalid("sha256", "a SHA-256 is 64 hex digits").into())
    }
}

fn too_large(max: u64) -> HttpError {
    HttpError::new(ErrorCode::PayloadTooLarge, format!("a file may be at most {} MiB; nothing was stored", max >> 20))
}

/// Redis, holding a cluster's challenges, does not answer: the client uploads the file instead.
fn challenges_unavailable(e: crate::redis_conn::Unavailable) -> HttpError {
    tracing::warn!(error = %e, "instant-upload challenges unavailable");
    HttpError::new(ErrorCode::StoreUnavailable, "instant upload is unavailable now; upload the file")
}

fn io_failure(e: std::io::Error) -> HttpError {
    tracing::error!(error = %e, "cannot store or read an uploaded file");
    HttpError::new(ErrorCode::Internal, "cannot store the file")
}
