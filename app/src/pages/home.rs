//! The start page and the not-found page.

use leptos::prelude::*;

use crate::i18n::{use_i18n, Msg};

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
            <h1 data-testid="headline">{i18n.tr(Msg::HomeHeadline)}</h1>
            <p class="tagline">{i18n.tr(Msg::Tagline)}</p>
            <p>{i18n.tr(Msg::HomeIntro)}</p>
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
            <h1>{i18n.tr(Msg::NotFoundTitle)}</h1>
            <p>{i18n.tr(Msg::NotFoundBody)}</p>
            <a href="/">{i18n.tr(Msg::BackHome)}</a>
        </section>
    }
}
