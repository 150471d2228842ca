//! `ApiJson<T>`: axum's JSON extractor, with its rejections turned into the
//! protocol's JSON errors instead of plain text.

use axum::{
    extract::{rejection::JsonRejection, FromRequest, Request},
    Json,
};
use serde::de::DeserializeOwned;
use wire::protocol::ErrorCode;

use crate::error::HttpError;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, HttpError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => {
                    HttpError::new(ErrorCode::UnsupportedMediaType, "send JSON with Content-Type: application/json")
                }
                JsonRejection::BytesRejection(_) => HttpError::new(ErrorCode::PayloadTooLarge, "the request body is too large"),
                other => HttpError::new(ErrorCode::BadRequest, other.body_text()),
            }),
        }
    }
}
