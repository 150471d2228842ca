//! `/admin`: the server's administrators make invitation links (shown once,
//! to copy), see how many sign-ups each still admits, and revoke them.

use leptos::prelude::*;
use wire::{
    api::{CreateInvite, CreatedInvite, InviteInfo},
    endpoint,
};

use super::form::{ActionButton, Field, Form, FormFeedback, FormState};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
    session::use_session,
};

/// The sign-ups a new link may admit, and the days it may stay valid.
const USES: [u32; 4] = [1, 5, 25, 100];
const DAYS: [u32; 3] = [1, 7, 30];

/// Shown inside `RequireUser`; to others than administrators, a refusal.
#[component]
pub fn Admin() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let is_admin = move || session.me().is_some_and(|me| me.is_admin);
    view! {
        <section class="card wide">
            <h1>{i18n.tr(Msg::AdminTitle)}</h1>
            <Show when=is_admin fallback=move || view! { <p class="error">{i18n.tr(Msg::ErrForbidden)}</p> }>
                <Invites/>
            </Show>
        </section>
    }
}

#[component]
fn Invites() -> impl IntoView {
    let i18n = use_i18n();
    let state = FormState::new(&["max_uses", "valid_days"]);
    let list_state = FormState::new(&[]);
    let links = RwSignal::new(Vec::<InviteInfo>::new());
    let made = RwSignal::new(None::<String>);
    let wanted = RwSignal::new(CreateInvite::default());
    list_state.run([], client::get(endpoint::SIGNUP_INVITES), move |list| links.set(list));

    let create = move || {
        let body = wanted.get_untracked();
        let request =
            async move { client::send::<_, CreatedInvite>(Method::Post, endpoint::SIGNUP_INVITES, &body).await };
        state.run([body.check().err()], request, move |created| {
            made.set(Some(format!("{}/signup?invite={}", client::page_origin(), created.token)));
            links.update(|list| list.insert(0, created.invite));
        });
    };
    let revoke = move |id: String| {
        let path = endpoint::signup_invite(&id);
        let request = async move { client::call::<()>(Method::Delete, &path).await.map(|()| id) };
        list_state.run([], request, move |id| links.update(|list| list.retain(|l| l.id != id)));
    };
    // A select of `options` for the field `get` reads and `set` writes.
    type Get = fn(&CreateInvite) -> u32;
    type Set = fn(&mut CreateInvite, u32);
    let choice = move |name: &'static str, options: &'static [u32], label: Msg, get: Get, set: Set| {
        view! {
            <Field state name label>
                <select
                    id=name
                    data-testid=name
                    on:change=move |ev| {
                        if let Ok(n) = event_target_value(&ev).parse() {
                            wanted.update(|w| set(w, n));
                        }
                    }
                >
                    {options
                        .iter()
                        .map(|n| {
                            let selected = *n == get(&wanted.get_untracked());
                            view! { <option value=n.to_string() selected=selected>{n.to_string()}</option> }
                        })
                        .collect_view()}
                </select>
            </Field>
        }
    };
    let row = move |link: InviteInfo| {
        let id = link.id.clone();
        let expired = link.expires_ms <= client::now_ms();
        view! {
            <li class="row" data-testid="invite-row">
                <div class="row-main">
                    <p class="row-title">
                        {move || format!("{}: {}/{}", i18n.t(Msg::InviteUsesLeft), link.uses_left, link.max_uses)}
                    </p>
                    <p class="muted">
                        {move || {
                            let until = if expired { Msg::InviteExpired } else { Msg::InviteValidUntil };
                            format!("{}: {}", i18n.t(until), i18n.time(link.expires_ms))
                        }}
                    </p>
                </div>
                <ActionButton
                    state=list_state
                    label=Msg::InviteRevoke
                    testid="invite-revoke"
                    secondary=true
                    on_click=move || revoke(id.clone())
                />
            </li>
        }
    };

    view! {
        <h2>{i18n.tr(Msg::InvitesTitle)}</h2>
        <p class="muted">{i18n.tr(Msg::InvitesIntro)}</p>
        <Form state submit=Msg::InviteCreate on_submit=create testid="invite-create">
            {choice("max_uses", &USES, Msg::InviteMaxUses, |w| w.max_uses, |w, n| w.max_uses = n)}
            {choice("valid_days", &DAYS, Msg::InviteValidDays, |w| w.valid_days, |w, n| w.valid_days = n)}
        </Form>
        {move || {
            made.get()
                .map(|link| {
                    view! {
                        <div class="field">
                            <label for="invite-link">{i18n.tr(Msg::InviteLink)}</label>
                            <input
                                id="invite-link"
                                data-testid="invite-link"
                                readonly=true
                                prop:value=link
                                on:focus=|ev| {
                                    let input: leptos::web_sys::HtmlInputElement = event_target(&ev);
                                    input.select();
                                }
                            />
                            <p class="muted">{i18n.tr(Msg::InviteLinkOnce)}</p>
                        </div>
                    }
                })
        }}
        <FormFeedback state=list_state/>
        <Show when=move || links.with(Vec::is_empty)>
            <p class="muted" data-testid="no-invites">{i18n.tr(Msg::NoInvites)}</p>
        </Show>
        <ul class="rows">{move || links.get().into_iter().map(row).collect_view()}</ul>
    }
}
