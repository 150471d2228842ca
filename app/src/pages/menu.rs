//! A button that opens a small panel beside it: the account menu, a chat's
//! rarer actions, the composer's attachments. It closes on Escape, on a click
//! beside it, when the page changes, and (unless it holds settings) after any
//! click in it.

use leptos::{html, prelude::*};
use leptos_router::hooks::use_location;

use super::icons::{Icon, Svg};
use crate::i18n::{use_i18n, Msg};

#[component]
pub fn Menu(
    /// The button's name for screen readers, and its tooltip.
    label: Msg,
    testid: &'static str,
    /// What the button shows; an icon when not given.
    #[prop(optional)]
    icon: Option<Icon>,
    #[prop(optional, into)] face: Option<ViewFn>,
    /// Extra classes: `up` opens the panel above the button, `start` aligns it left.
    #[prop(optional)]
    class: &'static str,
    /// Settings stay open while changed; actions close the panel.
    #[prop(optional)]
    keep_open: bool,
    children: Children,
) -> impl IntoView {
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    let button = NodeRef::<html::Button>::new();
    let location = use_location();
    Effect::new(move |_| {
        location.pathname.track();
        open.set(false);
    });
    let close = move || {
        open.set(false);
        if let Some(b) = button.get_untracked() {
            let _ = b.focus();
        }
    };
    let icon = icon.unwrap_or(Icon::More);
    view! {
        <div
            class=format!("menu {class}")
            on:keydown=move |ev| {
                if ev.key() == "Escape" && open.get_untracked() {
                    ev.stop_propagation();
                    close();
                }
            }
        >
            <button
                type="button"
                class="icon-button menu-button"
                node_ref=button
                data-testid=testid
                aria-label=i18n.tr(label)
                title=i18n.tr(label)
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {match face {
                    Some(face) => face.run(),
                    None => view! { <Svg icon/> }.into_any(),
                }}
            </button>
            <Show when=move || open.get()>
                <div class="menu-backdrop" on:click=move |_| open.set(false)></div>
            </Show>
            <div
                class="menu-panel"
                data-testid=format!("{testid}-panel")
                hidden=move || !open.get()
                on:click=move |_| {
                    if !keep_open {
                        open.set(false);
                    }
                }
            >
                {children()}
            </div>
        </div>
    }
}
