//! Headers that tell a browser what Natter's answers may do. Pages carry
//! their own Content-Security-Policy (with the nonce of their render, sent
//! by the app's shell); the API's answers are data, never to be run, framed
//! or stored.

use axum::{
    extract::Request,
    http::{
        header::{
            CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
        },
        HeaderName, HeaderValue,
    },
    middleware::Next,
    response::Response,
};

const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");

/// Calls may use the camera, microphone and screen of Natter's own pages,
/// never of a page framing it; what Natter never uses is off.
const PERMISSIONS: &str = "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), \
                           usb=()";

/// On every answer: never in a frame, no guessing of types, and the
/// address of a chat is told to no other site a link leads to (`same-origin`
/// keeps the `Origin` of the app's own requests, which sign-in checks).
pub async fn every_answer(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(PERMISSIONS_POLICY, HeaderValue::from_static(PERMISSIONS));
    response
}

/// On the API's answers, unless the handler chose otherwise (a file, whose
/// bytes never change, may be kept by the browser; it is sandboxed): not
/// stored by any cache, and nothing in them may run or load.
pub async fn api_answer(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    }
    response
}
