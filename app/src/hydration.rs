//! When the page becomes live. The server renders what it knows; the browser
//! hydrates that markup and only then may show what only it knows (the
//! session, local storage). Pages are lazily loaded routes, hydrated once
//! their code has arrived, by which time such state may have changed: views
//! built from it render as the server did until [`hydrated`] turns true.

use leptos::prelude::*;

/// False while this part of the page hydrates, true from then on.
pub fn hydrated() -> Signal<bool> {
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, once their owner has hydrated.
    Effect::new(move || hydrated.set(true));
    hydrated.into()
}

/// Marks `<body data-hydrated>` once the page's own code has hydrated: tests
/// wait for it, and CSS hides controls that need the wasm app until then.
#[component]
pub fn MarkHydrated() -> impl IntoView {
    Effect::new(move || {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
