//! The start page (what Natter is, at a glance, and the way in) and the not-found page.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    i18n::{use_i18n, Msg},
    session::{use_session, Auth},
};

#[component]
pub fn Home() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let features = [
        Msg::FeaturePrivate,
        Msg::FeatureGroups,
        Msg::FeatureHistory,
        Msg::FeatureSelfHosted,
    ];
    // Signed in, the one thing to do is open the chats; else sign up (or in).
    let actions = move || match session.auth() {
        Auth::SignedIn(_) => view! {
            <A href="/chats" attr:class="btn large" attr:data-testid="open-natter">{i18n.tr(Msg::OpenNatter)}</A>
        }
        .into_any(),
        _ => view! {
            <A href="/signup" attr:class="btn large" attr:data-testid="create-account">{i18n.tr(Msg::CreateAccount)}</A>
            <A href="/signin" attr:class="btn secondary large">{i18n.tr(Msg::SignIn)}</A>
        }
        .into_any(),
    };
    view! {
        <section class="hero">
            <div class="hero-text">
                <h1 data-testid="headline">{i18n.tr(Msg::HomeHeadline)}</h1>
                <p class="tagline">{i18n.tr(Msg::Tagline)}</p>
                <p>{i18n.tr(Msg::HomeIntro)}</p>
                <p class="hero-actions">{actions}</p>
            </div>
            <Sample/>
        </section>
        <ul class="features">
            {features.into_iter().map(|m| view! { <li>{move || i18n.t(m)}</li> }).collect_view()}
        </ul>
    }
}

/// A few made-up messages: what Natter looks like, at a glance.
#[component]
fn Sample() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="sample" aria-hidden="true">
            <p class="sample-head">
                <span class="avatar tint-2">{move || i18n.t(Msg::SampleGroup).chars().next().map(String::from)}</span>
                <b>{i18n.tr(Msg::SampleGroup)}</b>
            </p>
            <p class="sample-bubble">{i18n.tr(Msg::SampleQuestion)}</p>
            <p class="sample-bubble mine">{i18n.tr(Msg::SampleAnswer)}</p>
            <p class="sample-bubble">{i18n.tr(Msg::SampleThanks)}</p>
        </div>
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
