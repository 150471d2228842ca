//! A modal dialog over the page: the new-chat and new-group forms, the group panel.

use leptos::{html, prelude::*};

use crate::i18n::{use_i18n, Msg};

/// Closes on its close button, on Escape and on a click beside it. The
/// page opens it by rendering it and closes it by no longer doing so.
#[component]
pub fn Dialog(
    title: Msg,
    #[prop(into)] on_close: Callback<()>,
    testid: &'static str,
    /// A full-height panel at the side on wide screens, rather than a box in the middle.
    #[prop(optional)]
    side: bool,
    children: Children,
) -> impl IntoView {
    let i18n = use_i18n();
    let panel = NodeRef::<html::Div>::new();
    // Focus moves into the dialog, so that keyboard users start there and Escape works.
    Effect::new(move || {
        if let Some(panel) = panel.get() {
            let _ = panel.focus();
        }
    });
    view! {
        <div
            class="overlay"
            on:click=move |ev| {
                if ev.target() == ev.current_target() {
                    on_close.run(());
                }
            }
        >
            <div
                class="dialog"
                class:side=side
                role="dialog"
                aria-modal="true"
                aria-labelledby=format!("{testid}-title")
                tabindex="-1"
                data-testid=testid
                node_ref=panel
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        on_close.run(());
                    }
                }
            >
                <div class="dialog-head">
                    <h2 id=format!("{testid}-title")>{move || i18n.t(title)}</h2>
                    <button
                        type="button"
                        class="icon-button"
                        data-testid="close-dialog"
                        aria-label=i18n.tr(Msg::Close)
                        on:click=move |_| on_close.run(())
                    >
                        "×"
                    </button>
                </div>
                {children()}
            </div>
        </div>
    }
}
