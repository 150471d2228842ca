//! `/signup?next=/path&invite=token`: create an account, which also signs in.
//! The server may take sign-ups with an invitation link only, or none.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};
use wire::{
    api::{check_email_address, check_nickname, check_password, AuthResponse, RegisterRequest, SignupInfo, SignupMode},
    endpoint,
};

use super::form::{Form, FormFeedback, FormState, TextField};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
    session::{keeping_next, use_finish_sign_in},
};

#[component]
pub fn SignUp() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let invite = move || query.with(|q| q.get("invite")).filter(|t| !t.is_empty());
    // Open until the server says otherwise: the form is what most servers show.
    let mode = RwSignal::new(SignupMode::Open);
    let loading = FormState::new(&[]);
    // Asked once the page is live: effects run only in the browser.
    Effect::new(move || loading.run([], client::get::<SignupInfo>(endpoint::SIGNUP), move |info| mode.set(info.mode)));
    // Why no form is shown, if none is.
    let refusal = Memo::new(move |_| match (mode.get(), invite()) {
        (SignupMode::Closed, _) => Some(Msg::SignupClosed),
        (SignupMode::Invite, None) => Some(Msg::SignupInviteOnly),
        _ => None,
    });
    view! {
        <section class="card">
            <h1>{i18n.tr(Msg::SignUpTitle)}</h1>
            <FormFeedback state=loading/>
            {move || match refusal.get() {
                Some(msg) => view! { <p class="notice" data-testid="signup-refusal">{i18n.tr(msg)}</p> }.into_any(),
                None => view! { <SignUpForm invite=invite()/> }.into_any(),
            }}
            <p class="switch">
                {i18n.tr(Msg::HaveAccount)} <A href=keeping_next("/signin")>{i18n.tr(Msg::SignIn)}</A>
            </p>
        </section>
    }
}

#[component]
fn SignUpForm(invite: Option<String>) -> impl IntoView {
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
            invite: invite.clone(),
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
    }
}
