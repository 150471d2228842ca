//! `/signin?next=/path&reason=revoked`: sign in with e-mail and password.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};
use wire::{
    api::{check_email_address, check_password, AuthResponse, LoginRequest},
    endpoint,
};

use super::form::{Form, FormState, TextField};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
    session::{keeping_next, use_finish_sign_in},
};

#[component]
pub fn SignIn() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    // Why the user was sent here, from `session::signin_url`.
    let notice = move || match query.with(|q| q.get("reason")).as_deref() {
        Some("revoked") => Some(Msg::NoticeRevoked),
        Some("expired") => Some(Msg::NoticeExpired),
        _ => None,
    };
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let state = FormState::new(&["email", "password"]);
    let finish = use_finish_sign_in();
    let submit = move || {
        let body = LoginRequest {
            email: email.get_untracked(),
            password: password.get_untracked(),
            device_id: client::device_id(),
        };
        let problems = [
            check_email_address(&body.email).err(),
            check_password(&body.password, "password").err(),
        ];
        let request = async move { client::send::<_, AuthResponse>(Method::Post, endpoint::AUTH_LOGIN, &body).await };
        state.run(problems, request, finish.clone());
    };
    view! {
        <section class="card">
            <h1>{i18n.tr(Msg::SignInTitle)}</h1>
            {move || {
                notice()
                    .map(|m| view! { <p class="notice" role="status" data-testid="signin-notice">{move || i18n.t(m)}</p> })
            }}
            <Form state submit=Msg::SignIn on_submit=submit>
                <TextField state name="email" label=Msg::Email value=email kind="email" autocomplete="email"/>
                <TextField
                    state
                    name="password"
                    label=Msg::Password
                    value=password
                    kind="password"
                    autocomplete="current-password"
                />
            </Form>
            <p class="switch">
                {i18n.tr(Msg::NoAccount)} <A href=keeping_next("/signup")>{i18n.tr(Msg::SignUp)}</A>
            </p>
        </section>
    }
}
