//! `/settings/password`: change the password, which signs out the other devices.

use leptos::prelude::*;
use wire::{
    api::{check_password, ChangePassword},
    endpoint,
    protocol::ApiError,
};

use super::form::{Form, FormState, TextField};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
    session::use_session,
};

/// Shown inside `RequireUser`.
#[component]
pub fn PasswordSettings() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let state = FormState::new(&["current_password", "new_password"]);
    let submit = move || {
        let body = ChangePassword {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
        };
        let problems = [
            body.current_password
                .is_empty()
                .then(|| ApiError::invalid("current_password", "enter your current password")),
            check_password(&body.new_password, "new_password").err(),
        ];
        let request = async move { client::send::<_, ()>(Method::Post, endpoint::ME_PASSWORD, &body).await };
        state.run(problems, request, move |()| {
            current.set(String::new());
            new.set(String::new());
            state.notify(Msg::PasswordChanged);
        });
    };
    view! {
        <section class="card">
            <h1>{i18n.tr(Msg::ChangePassword)}</h1>
            <Form state submit=Msg::ChangePassword on_submit=submit>
                // Tells password managers whose password changes.
                <input
                    hidden
                    autocomplete="username"
                    value=move || session.me().map(|m| m.email)
                />
                <TextField
                    state
                    name="current_password"
                    label=Msg::CurrentPassword
                    value=current
                    kind="password"
                    autocomplete="current-password"
                />
                <TextField
                    state
                    name="new_password"
                    label=Msg::NewPassword
                    value=new
                    kind="password"
                    autocomplete="new-password"
                />
            </Form>
        </section>
    }
}
