//! The page's Content-Security-Policy. Its inline scripts (Leptos's loader
//! of the wasm, the service worker's registration) run only with the nonce
//! drawn for this one render, so the header is sent by the shell, where that
//! nonce is known; the server's other answers get their headers from the
//! server's own layer.

/// The policy of a page whose inline scripts carry `nonce`: scripts from
/// this origin or with the nonce (and the wasm compiled), styles and every
/// fetch from this origin only, pictures and media also from the `blob:`
/// URLs of files being chosen, no plugins, no `<base>`, never in a frame.
pub fn policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sends the policy with this render's page (nothing in the browser).
pub fn send() {
    #[cfg(feature = "ssr")]
    {
        use http::header::{HeaderValue, CONTENT_SECURITY_POLICY};
        use leptos::{nonce::use_nonce, prelude::use_context};

        let (Some(nonce), Some(response)) = (use_nonce(), use_context::<leptos_axum::ResponseOptions>()) else {
            return;
        };
        // A nonce is URL-safe base64, which a header value takes as it is.
        if let Ok(value) = HeaderValue::from_str(&policy(&nonce.to_string())) {
            response.insert_header(CONTENT_SECURITY_POLICY, value);
        }
    }
}
