//! The browser's side of the JSON API in [`wire::api`], and the few other
//! browser facilities the pages need (device id, random ids, the clock, file
//! picking, page visibility, full reloads).
//!
//! The session token lives in the HttpOnly `natter_token` cookie: requests go
//! to the same origin, the browser attaches the cookie, and no code here ever
//! sees the token.
//!
//! Everything that touches browser APIs sits in the `browser` module, built
//! with the `hydrate` feature. The server build links `inert` instead: it
//! renders pages but never runs their event handlers or effects, which are
//! the only callers, so the pages need no `cfg` of their own.

use serde::{de::DeserializeOwned, Serialize};
use wire::{
    api::{FileInfo, InstantChallenge, InstantClaim, InstantProof},
    endpoint,
    model::MessageKind,
    protocol::{ApiError, ErrorCode},
};

#[cfg(feature = "hydrate")]
use browser as platform;
#[cfg(not(feature = "hydrate"))]
use inert as platform;

pub use platform::{
    device_id, idle_after_ms, now_ms, page_origin, page_visible, picked_file, random_id, reload_at, upload_avatar,
    PickedFile,
};
pub use platform::{follow_visual_viewport, lower_case, recall, remember, upper_case, watch_size, SizeWatch};

/// Uploads a file for a `kind` message: instant upload first (the file's
/// SHA-256, then proof of holding the ranges the server asks for), else the
/// bytes themselves with `on_progress` getting the fraction sent. A file the
/// server refuses as that kind (an image it cannot decode) goes as a plain file.
pub async fn upload_file(
    file: &PickedFile,
    kind: MessageKind,
    on_progress: impl Fn(f64) + Clone + 'static,
) -> Result<(MessageKind, FileInfo), ApiError> {
    let bytes = file.bytes().await?;
    let sha256 = platform::sha256_hex(&[&bytes]).await?;
    for kind in [kind, MessageKind::File] {
        let claim = InstantClaim { sha256: sha256.clone(), size: bytes.len() as u64, name: file.name(), kind };
        if let Ok(info) = instant_upload(&claim, &bytes).await {
            return Ok((kind, info));
        }
        let path = format!("{}?name={}&kind={}", endpoint::FILES, escape(&file.name()), kind.name());
        match platform::upload(&path, file, Some(&sha256), on_progress.clone()).await {
            Err(e) if e.code == ErrorCode::UnsupportedMediaType && kind != MessageKind::File => continue,
            answer => return answer.map(|info| (kind, info)),
        }
    }
    unreachable!("the loop returns on its second round")
}

/// The claim, then the proof; any refusal means "upload the bytes".
async fn instant_upload(claim: &InstantClaim, bytes: &[u8]) -> Result<FileInfo, ApiError> {
    let challenge: InstantChallenge = send(Method::Post, endpoint::FILES_INSTANT, claim).await?;
    let mut parts: Vec<&[u8]> = vec![challenge.nonce.as_bytes()];
    for &(start, end) in &challenge.ranges {
        let range = bytes.get(start as usize..end as usize).ok_or_else(|| internal("a range past the file".into()))?;
        parts.push(range);
    }
    let proof = InstantProof { proof: platform::sha256_hex(&parts).await? };
    send(Method::Post, &endpoint::files_instant_proof(&challenge.challenge_id), &proof).await
}

/// localStorage key of this browser's device id.
pub const DEVICE_ID_KEY: &str = "natter_device_id";
/// localStorage key that shortens the time before the person counts as away.
pub const IDLE_MS_KEY: &str = "natter.idle_ms";
const IDLE_AFTER_MS: f64 = 5.0 * 60.0 * 1000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

/// `GET path`, decoded as `T`.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    call(Method::Get, path).await
}

/// A request with `body` as JSON.
pub async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
    method: Method,
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    let json = serde_json::to_string(body).map_err(|e| internal(format!("cannot encode the request: {e}")))?;
    let (status, text) = platform::fetch(method, path, Some(json)).await?;
    decode(status, &text)
}

/// A request without a body, such as `POST /api/auth/logout` or `DELETE /api/devices/{id}`.
/// Use `T = ()` for answers without content.
pub async fn call<T: DeserializeOwned>(method: Method, path: &str) -> Result<T, ApiError> {
    let (status, text) = platform::fetch(method, path, None).await?;
    decode(status, &text)
}

/// Percent-encodes a query value. `/` may stay as it is in a query, which
/// keeps `?next=/profile` readable.
pub fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Reads JSON through `serde_json::Value`: one instance of serde_json's
/// parser for every type read, rather than one per type (2.4 KiB less wasm).
fn from_json<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_str::<serde_json::Value>(text).and_then(serde_json::from_value)
}

/// Reads an answer: a 2xx body as `T` (an empty one as JSON `null`, which is
/// what `()` expects), anything else as the [`ApiError`] it carries.
fn decode<T: DeserializeOwned>(status: u16, body: &str) -> Result<T, ApiError> {
    if (200..300).contains(&status) {
        let body = if body.trim().is_empty() { "null" } else { body };
        return from_json(body).map_err(|e| internal(format!("unexpected answer from the server: {e}")));
    }
    // A proxy or a framework layer may answer without our JSON body.
    Err(from_json::<ApiError>(body)
        .unwrap_or_else(|_| ApiError::new(code_for_status(status), format!("the server answered HTTP {status}"))))
}

/// The error code that goes with an HTTP status, for answers without a body.
fn code_for_status(status: u16) -> ErrorCode {
    use ErrorCode::*;
    [
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited,
        StoreUnavailable,
    ]
    .into_iter()
    .find(|c| c.http_status() == status)
    .unwrap_or(Internal)
}

/// The error the UI shows when the server could not be reached or answered nonsense.
fn internal(message: String) -> ApiError {
    ApiError::new(ErrorCode::Internal, message)
}

#[cfg(feature = "hydrate")]
mod browser {
    use gloo_net::http::RequestBuilder;
    use wasm_bindgen::{closure::Closure, JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{HtmlInputElement, ProgressEvent, XmlHttpRequest};

    use super::{decode, internal, Method, DEVICE_ID_KEY, IDLE_AFTER_MS, IDLE_MS_KEY};
    use wire::{
        api::{check_device_id, Me},
        endpoint,
        model::Millis,
        protocol::ApiError,
    };

    /// Sends a request and returns the status and body of the answer.
    pub(super) async fn fetch(method: Method, path: &str, json: Option<String>) -> Result<(u16, String), ApiError> {
        let method = match method {
            Method::Get => gloo_net::http::Method::GET,
            Method::Post => gloo_net::http::Method::POST,
            Method::Patch => gloo_net::http::Method::PATCH,
            Method::Put => gloo_net::http::Method::PUT,
            Method::Delete => gloo_net::http::Method::DELETE,
        };
        let builder = RequestBuilder::new(path)
            .method(method)
            .header("Accept", "application/json");
        let request = match json {
            Some(json) => builder.header("Content-Type", "application/json").body(json),
            None => builder.build(),
        }
        .map_err(network)?;
        let response = request.send().await.map_err(network)?;
        let text = response.text().await.map_err(network)?;
        Ok((response.status(), text))
    }

    fn network(e: impl std::fmt::Display) -> ApiError {
        internal(format!("network error: {e}"))
    }

    fn js(e: JsValue) -> ApiError {
        internal(format!("browser error: {e:?}"))
    }

    /// This browser's id for the server's device list, made once and kept in
    /// localStorage: signing in again with it replaces this browser's old session.
    pub fn device_id() -> String {
        let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
        let kept = storage.as_ref().and_then(|s| s.get_item(DEVICE_ID_KEY).ok().flatten());
        if let Some(id) = kept.filter(|id| check_device_id(id).is_ok()) {
            return id;
        }
        let id = random_id();
        if let Some(storage) = storage {
            let _ = storage.set_item(DEVICE_ID_KEY, &id);
        }
        id
    }

    /// 32 random hex digits from `crypto.getRandomValues`, else `Math.random`.
    pub fn random_id() -> String {
        let mut bytes = [0u8; 16];
        let from_crypto = web_sys::window()
            .and_then(|w| w.crypto().ok())
            .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
        if !from_crypto {
            bytes
                .iter_mut()
                .for_each(|b| *b = (js_sys::Math::random() * 256.0) as u8);
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Unicode upper case by the browser's `toUpperCase`, as Rust's
    /// `to_uppercase` would give it: the wasm then carries no case tables.
    pub fn upper_case(s: &str) -> String {
        js_sys::JsString::from(s).to_upper_case().into()
    }

    /// Unicode lower case by the browser's `toLowerCase` (see [`upper_case`]).
    pub fn lower_case(s: &str) -> String {
        js_sys::JsString::from(s).to_lower_case().into()
    }

    /// A file the user chose in an `<input type="file">`, or recorded.
    pub struct PickedFile {
        blob: web_sys::Blob,
        name: String,
    }

    impl PickedFile {
        /// Recorded content, with the name it gets.
        pub fn new(blob: web_sys::Blob, name: String) -> PickedFile {
            PickedFile { blob, name }
        }

        /// A `blob:` URL showing the file, for a preview; give it back with
        /// [`PickedFile::release_url`] when the preview goes.
        pub fn object_url(&self) -> Option<String> {
            web_sys::Url::create_object_url_with_blob(&self.blob).ok()
        }

        pub fn release_url(url: &str) {
            let _ = web_sys::Url::revoke_object_url(url);
        }

        pub fn name(&self) -> String {
            self.name.clone()
        }

        /// The browser's guess from the name; a hint for the UI, never for the server.
        pub fn browser_type(&self) -> String {
            self.blob.type_()
        }

        pub async fn bytes(&self) -> Result<Vec<u8>, ApiError> {
            let buffer = JsFuture::from(self.blob.array_buffer()).await.map_err(js)?;
            Ok(js_sys::Uint8Array::new(&buffer).to_vec())
        }
    }

    /// The file just chosen in the file input that `ev` comes from. Empties
    /// the input, so that choosing the same file again is noticed too.
    pub fn picked_file(ev: &web_sys::Event) -> Option<PickedFile> {
        let input = ev.target()?.dyn_into::<HtmlInputElement>().ok()?;
        let file = input.files()?.get(0)?;
        input.set_value("");
        Some(PickedFile { name: file.name(), blob: file.into() })
    }

    /// Hex SHA-256 of the parts one after the other, by `crypto.subtle`.
    pub(super) async fn sha256_hex(parts: &[&[u8]]) -> Result<String, ApiError> {
        let subtle = web_sys::window().ok_or_else(|| internal("no window".into()))?.crypto().map_err(js)?.subtle();
        let data = js_sys::Uint8Array::from(parts.concat().as_slice());
        let digest = JsFuture::from(subtle.digest_with_str_and_buffer_source("SHA-256", &data).map_err(js)?)
            .await
            .map_err(js)?;
        Ok(js_sys::Uint8Array::new(&digest).to_vec().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// `POST /api/me/avatar` with the file as the body.
    pub async fn upload_avatar(file: &PickedFile, on_progress: impl Fn(f64) + 'static) -> Result<Me, ApiError> {
        upload(endpoint::ME_AVATAR, file, None, on_progress).await
    }

    /// `POST path` with the file as the body. Uses XMLHttpRequest rather than
    /// fetch, which cannot report upload progress; `on_progress` gets the
    /// fraction sent, from 0 to 1. `sha256` goes as `X-Content-Sha256`.
    pub(super) async fn upload<T: serde::de::DeserializeOwned>(
        path: &str,
        file: &PickedFile,
        sha256: Option<&str>,
        on_progress: impl Fn(f64) + 'static,
    ) -> Result<T, ApiError> {
        let xhr = XmlHttpRequest::new().map_err(js)?;
        xhr.open("POST", path).map_err(js)?;
        xhr.set_request_header("Accept", "application/json").map_err(js)?;
        // The server sniffs the type; the browser's guess from the name would only mislead.
        xhr.set_request_header("Content-Type", "application/octet-stream").map_err(js)?;
        if let Some(sha256) = sha256 {
            xhr.set_request_header("X-Content-Sha256", sha256).map_err(js)?;
        }
        let progress = wasm_bindgen::closure::Closure::<dyn Fn(ProgressEvent)>::new(move |ev: ProgressEvent| {
            if ev.length_computable() && ev.total() > 0.0 {
                on_progress(ev.loaded() / ev.total());
            }
        });
        xhr.upload()
            .map_err(js)?
            .set_onprogress(Some(progress.as_ref().unchecked_ref()));
        // `loadend` follows success, failure and abort alike.
        let finished = js_sys::Promise::new(&mut |resolve, _reject| xhr.set_onloadend(Some(&resolve)));
        xhr.send_with_opt_blob(Some(&file.blob)).map_err(js)?;
        JsFuture::from(finished).await.map_err(js)?;
        drop(progress); // kept alive until here: the browser calls it during the upload
        match xhr.status().map_err(js)? {
            0 => Err(internal("network error: the upload did not reach the server".into())),
            status => decode(status, &xhr.response_text().ok().flatten().unwrap_or_default()),
        }
    }

    /// Loads `path` as a new page, dropping all in-memory state.
    pub fn reload_at(path: &str) {
        if let Some(w) = web_sys::window() {
            let _ = w.location().assign(path);
        }
    }

    /// The page's `scheme://host[:port]`, for links to hand to others.
    pub fn page_origin() -> String {
        web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default()
    }

    pub fn now_ms() -> Millis {
        js_sys::Date::now() as Millis
    }

    /// After how long without input the person counts as away: five minutes,
    /// unless localStorage `natter.idle_ms` says otherwise (tests shorten it).
    pub fn idle_after_ms() -> f64 {
        web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item(IDLE_MS_KEY).ok().flatten())
            // Whole milliseconds: parsing as f64 would link the float parser and its 10 KB table.
            .and_then(|v| v.parse::<u32>().ok())
            .map_or(IDLE_AFTER_MS, f64::from)
    }

    /// Calls `on_resize` whenever one of `elements` changes size, until the
    /// watch is dropped.
    pub fn watch_size(elements: &[&web_sys::Element], on_resize: impl Fn() + 'static) -> Option<SizeWatch> {
        let callback = Closure::<dyn Fn()>::new(on_resize);
        let observer = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()).ok()?;
        for el in elements {
            observer.observe(el);
        }
        Some(SizeWatch { observer, _callback: callback })
    }

    /// Keeps `--app-height` on the page at the visual viewport's height: on a
    /// phone the on-screen keyboard shrinks it, and the open chat with it, so
    /// the composer stays right above the keyboard.
    pub fn follow_visual_viewport() {
        let Some(window) = web_sys::window() else { return };
        let Some(viewport) = window.visual_viewport() else { return };
        let root = window.document().and_then(|d| d.document_element());
        let Some(root) = root.and_then(|r| r.dyn_into::<web_sys::HtmlElement>().ok()) else { return };
        let follow = move || {
            if let Some(viewport) = window.visual_viewport() {
                let _ = root.style().set_property("--app-height", &format!("{}px", viewport.height()));
            }
        };
        follow();
        let callback = Closure::<dyn Fn()>::new(follow);
        let _ = viewport.add_event_listener_with_callback("resize", callback.as_ref().unchecked_ref());
        // Listens for the page's whole life.
        callback.forget();
    }

    /// A `ResizeObserver` at work; see [`watch_size`].
    pub struct SizeWatch {
        observer: web_sys::ResizeObserver,
        _callback: Closure<dyn Fn()>,
    }

    impl Drop for SizeWatch {
        fn drop(&mut self) {
            self.observer.disconnect();
        }
    }

    /// Whether the page is on screen (not a background tab, not minimised).
    pub fn page_visible() -> bool {
        web_sys::window()
            .and_then(|w| w.document())
            .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
    }

    /// The value this browser keeps under `key` in localStorage.
    pub fn recall(key: &str) -> Option<String> {
        web_sys::window()?.local_storage().ok()??.get_item(key).ok()?
    }

    /// Keeps `value` under `key` in localStorage, where the browser allows it.
    pub fn remember(key: &str, value: &str) {
        if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let _ = storage.set_item(key, value);
        }
    }
}

/// The server build's stand-ins for [`browser`]'s functions; see the module docs.
#[cfg(not(feature = "hydrate"))]
mod inert {
    use super::{internal, Method};
    use wire::{api::Me, model::Millis, protocol::ApiError};

    fn not_here() -> ApiError {
        internal("the API client runs only in the browser".into())
    }

    pub(super) async fn fetch(_: Method, _: &str, _: Option<String>) -> Result<(u16, String), ApiError> {
        Err(not_here())
    }

    pub fn device_id() -> String {
        String::new()
    }

    /// Cannot exist outside the browser.
    pub enum PickedFile {}

    impl PickedFile {
        pub fn object_url(&self) -> Option<String> {
            match *self {}
        }

        pub fn release_url(_: &str) {}

        pub fn name(&self) -> String {
            match *self {}
        }

        pub fn browser_type(&self) -> String {
            match *self {}
        }

        pub async fn bytes(&self) -> Result<Vec<u8>, ApiError> {
            match *self {}
        }
    }

    pub fn picked_file(_: &leptos::ev::Event) -> Option<PickedFile> {
        None
    }

    pub(super) async fn sha256_hex(_: &[&[u8]]) -> Result<String, ApiError> {
        Err(not_here())
    }

    pub async fn upload_avatar(file: &PickedFile, _: impl Fn(f64) + 'static) -> Result<Me, ApiError> {
        match *file {}
    }

    pub(super) async fn upload<T>(_: &str, file: &PickedFile, _: Option<&str>, _: impl Fn(f64) + 'static) -> Result<T, ApiError> {
        match *file {}
    }

    pub fn reload_at(_: &str) {}

    pub fn page_origin() -> String {
        String::new()
    }

    pub fn random_id() -> String {
        String::new()
    }

    pub fn upper_case(s: &str) -> String {
        s.to_uppercase()
    }

    pub fn lower_case(s: &str) -> String {
        s.to_lowercase()
    }

    pub fn now_ms() -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis)
    }

    pub fn page_visible() -> bool {
        true
    }

    /// Nothing changes size outside the browser.
    pub enum SizeWatch {}

    pub fn watch_size(_: &[&leptos::web_sys::Element], _: impl Fn() + 'static) -> Option<SizeWatch> {
        None
    }

    pub fn idle_after_ms() -> f64 {
        super::IDLE_AFTER_MS
    }

    pub fn follow_visual_viewport() {}

    pub fn recall(_: &str) -> Option<String> {
        None
    }

    pub fn remember(_: &str, _: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_query_values() {
        assert_eq!(escape("/a b&c=d?é"), "/a%20b%26c%3Dd%3F%C3%A9");
    }

    #[test]
    fn decodes_success_and_empty_answers() {
        assert_eq!(decode::<Vec<u8>>(200, "[1,2]").unwrap(), vec![1, 2]);
        decode::<()>(204, "").unwrap();
        assert_eq!(decode::<Vec<u8>>(200, "oops").unwrap_err().code, ErrorCode::Internal);
    }

    #[test]
    fn decodes_errors_with_and_without_a_body() {
        let err = decode::<()>(409, r#"{"code":"email_taken","message":"taken","field":"email"}"#).unwrap_err();
        assert_eq!((err.code, err.field.as_deref()), (ErrorCode::EmailTaken, Some("email")));
        assert_eq!(
            decode::<()>(413, "length limit exceeded").unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
        assert_eq!(decode::<()>(401, "").unwrap_err().code, ErrorCode::Unauthorized);
        assert_eq!(decode::<()>(502, "<html>").unwrap_err().code, ErrorCode::Internal);
    }
}
