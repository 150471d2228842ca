//! `/signup?next=/path`: create an account, which also signs in.

use leptos::prelude::*;
use leptos_router::components::A;
use wire::{
    api::{check_email_address, check_nickname, check_password, AuthResponse, RegisterRequest},
    endpoint,
};

use super::form::{Form, FormState, TextField};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
    session::{keeping_next, use_finish_sign_in},
};

#[component]
pub fn SignUp() -> impl IntoView {
    let i18n = use_i18n();
    let email = RwSignal::new(String::new());
    let nickname = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let state = FormState::new(&["email", "nickname", "password"]);
    let finish = use_finish_sign_in();
    let submit = move || {
        let body = RegisterRequest {
            email: email.get_untracked(),
            nickname: nickname.get_untracked(),
            password: password.get_untracked(),
            device_id: client::device_id(),
            gender: Default::default(),
        };
        let problems = [
            check_email_address(&body.email).err(),
            check_nickname(&body.nickname).err(),
            check_password(&body.password, "password").err(),
        ];
        let request = async move { client::send::<_, AuthResponse>(Method::Post, endpoint::AUTH_REGISTER, &body).await };
        state.run(problems, request, finish.clone());
    };
    view! {
        <section class="card">
            <h1>{i18n.tr(Msg::SignUpTitle)}</h1>
            <Form state submit=Msg::SignUpSubmit on_submit=submit>
                <TextField state name="email" label=Msg::Email value=email kind="email" autocomplete="email"/>
                <TextField state name="nickname" label=Msg::Nickname value=nickname autocomplete="nickname"/>
                <TextField
                    state
                    name="password"
                    label=Msg::Password
                    value=password
                    kind="password"
                    autocomplete="new-password"
                />
            </Form>
            <p class="switch">
                {i18n.tr(Msg::HaveAccount)} <A href=keeping_next("/signin")>{i18n.tr(Msg::SignIn)}</A>
            </p>
        </section>
    }
}
