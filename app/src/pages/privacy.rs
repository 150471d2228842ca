//! Who may reach the user: their privacy settings and the people they
//! blocked (shown on `/profile`), and the Block button of a private chat.

use leptos::prelude::*;
use wire::{
    api::{ContactPolicy, Privacy, PublicProfile},
    endpoint,
    model::UserId,
};

use super::{
    avatar::Avatar,
    form::{ActionButton, Field, Form, FormFeedback, FormState},
};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
};

const POLICIES: [(ContactPolicy, &str, Msg); 2] = [
    (ContactPolicy::Everyone, "everyone", Msg::ContactEveryone),
    (ContactPolicy::Friends, "friends", Msg::ContactFriends),
];

#[component]
pub fn PrivacySettings() -> impl IntoView {
    let i18n = use_i18n();
    let privacy = RwSignal::new(Privacy::default());
    let state = FormState::new(&["contact"]);
    state.run([], client::get(endpoint::ME_PRIVACY), move |p| privacy.set(p));
    let save = move || {
        let body = privacy.get_untracked();
        let request = async move { client::send::<_, Privacy>(Method::Put, endpoint::ME_PRIVACY, &body).await };
        state.run([], request, move |p| {
            privacy.set(p);
            state.notify(Msg::Saved);
        });
    };
    // A yes-or-no setting: a checkbox bound to one field of the settings.
    let switch = move |testid: &'static str, label: Msg, field: fn(&mut Privacy) -> &mut bool| {
        view! {
            <label class="check">
                <input
                    type="checkbox"
                    data-testid=testid
                    prop:checked=move || *field(&mut privacy.get())
                    on:change=move |ev| privacy.update(|p| *field(p) = event_target_checked(&ev))
                />
                {i18n.tr(label)}
            </label>
        }
    };
    view! {
        <section class="card wide">
            <h2>{i18n.tr(Msg::PrivacyTitle)}</h2>
            <Form state submit=Msg::Save on_submit=save testid="save-privacy">
                <Field state name="contact" label=Msg::WhoMayContact>
                    <select
                        id="contact"
                        data-testid="contact-policy"
                        on:change=move |ev| {
                            let chosen = event_target_value(&ev);
                            if let Some((policy, _, _)) = POLICIES.iter().find(|(_, value, _)| *value == chosen) {
                                privacy.update(|p| p.contact = *policy);
                            }
                        }
                    >
                        {POLICIES
                            .into_iter()
                            .map(|(policy, value, label)| {
                                view! {
                                    <option value=value selected=move || privacy.get().contact == policy>
                                        {i18n.tr(label)}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </Field>
                {switch("findable-by-email", Msg::FindableByEmail, |p| &mut p.findable_by_email)}
                {switch("read-receipts", Msg::SendReadReceipts, |p| &mut p.read_receipts)}
            </Form>
            <BlockedList/>
        </section>
    }
}

/// The people the user blocked, each with Unblock.
#[component]
fn BlockedList() -> impl IntoView {
    let i18n = use_i18n();
    let state = FormState::new(&[]);
    let blocked = RwSignal::new(Vec::<PublicProfile>::new());
    state.run([], client::get(endpoint::BLOCKS), move |list| blocked.set(list));
    let unblock = move |id: UserId| {
        let request = async move { client::call::<()>(Method::Delete, &endpoint::block(&id)).await.map(|()| id) };
        state.run([], request, move |id| blocked.update(|list| list.retain(|u| u.id != id)));
    };
    let rows = move || {
        blocked
            .get()
            .into_iter()
            .map(|user| {
                let id = user.id.clone();
                view! {
                    <li class="row" data-testid="blocked-row">
                        <Avatar url=user.avatar.clone() name=user.nickname.clone() seed=id.to_string()/>
                        <bdi class="row-title">{user.nickname}</bdi>
                        <ActionButton state label=Msg::Unblock testid="unblock" secondary=true on_click=move || unblock(id.clone())/>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <h3>{i18n.tr(Msg::BlockedPeople)}</h3>
        <FormFeedback state/>
        <Show when=move || blocked.with(Vec::is_empty)>
            <p class="muted" data-testid="no-blocked">{i18n.tr(Msg::NobodyBlocked)}</p>
        </Show>
        <ul class="rows">{rows}</ul>
    }
}

/// Blocks (or unblocks) the other user of a private chat.
#[component]
pub fn BlockButton(user: UserId) -> impl IntoView {
    let state = FormState::new(&[]);
    let blocked = RwSignal::new(false);
    let me_blocking = user.clone();
    state.run([], client::get::<Vec<PublicProfile>>(endpoint::BLOCKS), move |list| {
        blocked.set(list.iter().any(|u| u.id == me_blocking));
    });
    let toggle = move || {
        let (user, block) = (user.clone(), !blocked.get_untracked());
        let method = if block { Method::Put } else { Method::Delete };
        let request = async move { client::call::<()>(method, &endpoint::block(&user)).await };
        state.run([], request, move |()| blocked.set(block));
    };
    view! {
        <FormFeedback state/>
        {move || {
            let label = if blocked.get() { Msg::Unblock } else { Msg::Block };
            view! { <ActionButton state label testid="block-user" secondary=true on_click=toggle.clone()/> }
        }}
    }
}
