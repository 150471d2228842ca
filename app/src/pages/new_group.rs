//! The "New group" dialog: the group's settings and which friends to add.

use std::collections::BTreeSet;

use leptos::prelude::*;
use wire::{
    api::{ConversationSummary, Friends, PublicProfile},
    endpoint,
    model::UserId,
};

use super::{
    avatar::Avatar,
    chats::use_open_chat,
    dialog::Dialog,
    form::{Form, FormState},
    group_form::{GroupDraft, GroupFields, GROUP_FIELDS},
};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
};

/// The dialog, loaded when first opened (its own wasm chunk with `--split`).
#[lazy]
pub fn new_group(on_close: Callback<()>) -> AnyView {
    view! { <NewGroup on_close/> }.into_any()
}

#[component]
fn NewGroup(#[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let state = FormState::new(GROUP_FIELDS);
    let draft = GroupDraft::of(None);
    let friends = RwSignal::new(Vec::<PublicProfile>::new());
    let picked = RwSignal::new(BTreeSet::<UserId>::new());
    state.run([], client::get::<Friends>(endpoint::FRIENDS), move |lists| friends.set(lists.friends));
    let open_chat = use_open_chat();
    let submit = move || {
        let body = draft.create(picked.get_untracked().into_iter().collect());
        let request = async move { client::send(Method::Post, endpoint::CONVERSATIONS, &body).await };
        let open_chat = open_chat.clone();
        state.run(draft.problems(), request, move |summary: ConversationSummary| {
            on_close.run(());
            open_chat(summary);
        });
    };
    let pick = move |person: PublicProfile| {
        let id = person.id.clone();
        let checked = {
            let id = id.clone();
            move || picked.with(|p| p.contains(&id))
        };
        view! {
            <li>
                <label class="row pick">
                    <input
                        type="checkbox"
                        data-testid="member-pick"
                        prop:checked=checked
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            picked.update(|p| {
                                if on {
                                    p.insert(id.clone());
                                } else {
                                    p.remove(&id);
                                }
                            });
                        }
                    />
                    <Avatar url=person.avatar name=person.nickname.clone() seed=person.id.to_string()/>
                    <span class="row-title">{person.nickname}</span>
                </label>
            </li>
        }
    };
    view! {
        <Dialog title=Msg::NewGroup on_close testid="new-group-dialog">
            <Form state submit=Msg::CreateGroup on_submit=submit testid="create-group">
                <GroupFields state draft/>
                <fieldset class="members">
                    <legend>{i18n.tr(Msg::PickMembers)}</legend>
                    <p class="hint">{i18n.tr(Msg::NoFriendsToPick)}</p>
                    <ul class="rows">{move || friends.get().into_iter().map(pick).collect_view()}</ul>
                </fieldset>
            </Form>
        </Dialog>
    }
}
