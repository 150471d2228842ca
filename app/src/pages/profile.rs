//! `/profile`: the signed-in user's account facts, picture, nickname and gender.

use leptos::prelude::*;
use leptos_router::components::A;
use wire::{
    api::{check_nickname, Me, UpdateProfile},
    endpoint,
    model::Gender,
};

use super::{
    avatar::AvatarUpload,
    form::{Field, Form, FormState, TextField},
    privacy::PrivacySettings,
};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
    session::use_session,
};

const GENDERS: [(Gender, Msg); 3] = [
    (Gender::Unknown, Msg::GenderUnknown),
    (Gender::Male, Msg::GenderMale),
    (Gender::Female, Msg::GenderFemale),
];

/// Shown inside `RequireUser`, so the session holds the user.
#[component]
pub fn Profile() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let me = move || session.me();

    let start = untrack(me);
    let nickname = RwSignal::new(start.as_ref().map(|m| m.nickname.clone()).unwrap_or_default());
    let gender = RwSignal::new(start.map(|m| m.gender).unwrap_or_default());
    let state = FormState::new(&["nickname", "gender"]);
    let save = move || {
        let body = UpdateProfile {
            nickname: Some(nickname.get_untracked()),
            gender: Some(gender.get_untracked()),
        };
        let problems = [body.nickname.as_deref().and_then(|n| check_nickname(n).err())];
        let request = async move { client::send::<_, Me>(Method::Patch, endpoint::ME, &body).await };
        state.run(problems, request, move |me| {
            session.signed_in(me);
            state.notify(Msg::Saved);
        });
    };

    view! {
        <section class="card wide">
            <h1>{i18n.tr(Msg::ProfileTitle)}</h1>
            <div class="profile-head">
                <AvatarUpload/>
                <div>
                    <h2 class="profile-name" data-testid="profile-nickname">{move || me().map(|m| m.nickname)}</h2>
                    <dl class="facts">
                        <dt>{i18n.tr(Msg::Email)}</dt>
                        <dd data-testid="profile-email">{move || me().map(|m| m.email)}</dd>
                        <dt>{i18n.tr(Msg::MemberSince)}</dt>
                        <dd>{move || me().map(|m| i18n.time(m.created_ms))}</dd>
                        <dt>{i18n.tr(Msg::LastSignIn)}</dt>
                        <dd>
                            {move || {
                                me().map(|m| m.last_login_ms.map_or_else(|| i18n.t(Msg::Never).to_owned(), |t| i18n.time(t)))
                            }}
                        </dd>
                        <dt>{i18n.tr(Msg::SignInCount)}</dt>
                        <dd data-testid="profile-login-count">{move || me().map(|m| m.login_count)}</dd>
                    </dl>
                </div>
            </div>
            <Form state submit=Msg::Save on_submit=save>
                <TextField state name="nickname" label=Msg::Nickname value=nickname autocomplete="nickname"/>
                <Field state name="gender" label=Msg::Gender>
                    <select
                        id="gender"
                        data-testid="gender"
                        on:change=move |ev| {
                            if let Some(g) = event_target_value(&ev).parse().ok().and_then(Gender::from_code) {
                                gender.set(g);
                            }
                        }
                    >
                        {GENDERS
                            .into_iter()
                            .map(|(g, label)| {
                                view! {
                                    <option value=g.code().to_string() selected=move || gender.get() == g>
                                        {i18n.tr(label)}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </Field>
            </Form>
            <p class="links">
                <A href="/settings/password">{i18n.tr(Msg::ChangePassword)}</A>
                <A href="/devices">{i18n.tr(Msg::NavDevices)}</A>
                <A href="/settings/notifications" attr:data-testid="notifications-link">{i18n.tr(Msg::NotifyTitle)}</A>
                <Show when=move || me().is_some_and(|m| m.is_admin)>
                    <A href="/admin" attr:data-testid="admin-link">{i18n.tr(Msg::NavAdmin)}</A>
                </Show>
            </p>
        </section>
        <PrivacySettings/>
    }
}
