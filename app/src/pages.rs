//! Page components and the chrome around them.

use leptos::prelude::*;

use crate::i18n::{use_i18n, Locale, Msg};

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <img src="/icons/icon.svg" alt="" width="28" height="28"/>
                <span>"Natter"</span>
            </a>
            <LanguageSwitcher/>
        </header>
    }
}

#[component]
pub fn LanguageSwitcher() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <label class="lang">
            <span class="visually-hidden">{move || i18n.t(Msg::Language)}</span>
            <select
                data-testid="language"
                aria-label=move || i18n.t(Msg::Language)
                on:change=move |ev| {
                    if let Some(l) = Locale::from_tag(&event_target_value(&ev)) {
                        i18n.set_locale(l);
                    }
                }
            >
                {Locale::ALL
                    .into_iter()
                    .map(|l| {
                        view! {
                            <option value=l.tag() selected=move || i18n.locale() == l>
                                {l.native_name()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

#[component]
pub fn Home() -> impl IntoView {
    let i18n = use_i18n();
    let features = [
        Msg::FeaturePrivate,
        Msg::FeatureGroups,
        Msg::FeatureHistory,
        Msg::FeatureSelfHosted,
    ];
    view! {
        <section class="hero">
            <h1 data-testid="headline">{move || i18n.t(Msg::HomeHeadline)}</h1>
            <p class="tagline">{move || i18n.t(Msg::Tagline)}</p>
            <p>{move || i18n.t(Msg::HomeIntro)}</p>
            <ul class="features">
                {features.into_iter().map(|m| view! { <li>{move || i18n.t(m)}</li> }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    let i18n = use_i18n();
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="hero">
            <h1>{move || i18n.t(Msg::NotFoundTitle)}</h1>
            <p>{move || i18n.t(Msg::NotFoundBody)}</p>
            <a href="/">{move || i18n.t(Msg::BackHome)}</a>
        </section>
    }
}
