//! The one time Natter asks for notifications: a dismissible banner above
//! the chat list, once the user has sent a message or opened the
//! notification settings (never on a first visit), while the browser has
//! neither allowed nor blocked them.

use leptos::{prelude::*, task::spawn_local};

use crate::{
    chat::use_live,
    i18n::{use_i18n, Msg},
    notify,
};

#[component]
pub fn NotifyBanner() -> impl IntoView {
    let live = use_live();
    let gone = RwSignal::new(false);
    let shown = move || live.notify_moment() && !gone.get() && notify::may_ask();
    view! {
        <Show when=shown>
            {Suspend::new(notify_banner(gone))}
        </Show>
    }
}

/// The banner, never shown on a page's first load (its own wasm chunk when
/// built with `--split`); `gone` once answered.
#[lazy]
fn notify_banner(gone: RwSignal<bool>) -> AnyView {
    let i18n = use_i18n();
    let allow = move |_| {
        gone.set(true);
        spawn_local(async move {
            // Allowed: this device also gets pushes while Natter is closed, where the browser can.
            if notify::ask().await {
                let _ = notify::push_on().await;
            }
        });
    };
    let later = move |_| {
        gone.set(true);
        notify::dismiss_banner();
    };
    view! {
        <div class="notify-banner" role="region" data-testid="notify-banner">
            <p>{i18n.tr(Msg::NotifyBannerText)}</p>
            <button type="button" class="btn small" data-testid="notify-allow" on:click=allow>
                {i18n.tr(Msg::NotifyBannerAllow)}
            </button>
            <button type="button" class="btn secondary small" data-testid="notify-later" on:click=later>
                {i18n.tr(Msg::NotifyBannerLater)}
            </button>
        </div>
    }
    .into_any()
}
