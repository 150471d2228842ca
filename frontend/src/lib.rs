//! The browser entry point: hydrates the server-rendered page into the live app.

// Leptos view types of the app nest deeply.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy: the pages are lazily loaded routes (see `app::routes`).
    leptos::mount::hydrate_lazy(app::App);
}
