//! The group panel: who takes part (with their role and presence), one's
//! own status in the group, inviting people, leaving, and for owners and admins the group's
//! settings. It reloads when someone joins or leaves while it is open.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use wire::{
    api::{ConversationDetails, PublicProfile, UserRef},
    endpoint,
    model::{Conversation, ConversationId, Role},
    protocol::{ApiError, ErrorCode},
};

use super::{
    dialog::Dialog,
    form::{ActionButton, Form, FormFeedback, FormState},
    group_form::{GroupDraft, GroupFields, GROUP_FIELDS},
    people::{Person, UserSearch},
    presence::{ConversationStatusPicker, PresenceDot},
};
use crate::{
    chat::use_live,
    client::{self, Method},
    i18n::{use_i18n, Msg},
};

/// The panel, loaded when first opened (its own wasm chunk with `--split`).
#[lazy]
pub fn group_panel(id: ConversationId, on_close: Callback<()>) -> AnyView {
    view! { <GroupPanel id on_close/> }.into_any()
}

#[component]
fn GroupPanel(id: ConversationId, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let id = StoredValue::new(id);
    let state = FormState::new(&[]);
    let details = RwSignal::new(None::<ConversationDetails>);
    let notices = Memo::new(move |_| live.inbox(|i| i.notices_seen(&id.read_value())));
    Effect::new(move || {
        // Read, not just tracked: `track` would leave a memo nobody reads uncomputed, and so deaf.
        notices.with(|_| ());
        let path = endpoint::conversation(&id.read_value());
        state.run([], async move { client::get(&path).await }, move |d: ConversationDetails| {
            live.remember(d.members.iter().map(|m| m.profile.clone()));
            live.note_presence(&d.conversation.id, d.members.iter().map(|m| (m.profile.id.clone(), m.presence)));
            details.set(Some(d));
        });
    });
    let is_admin = Memo::new(move |_| details.with(|d| d.as_ref().and_then(|d| d.my_role) >= Some(Role::Admin)));

    let navigate = use_navigate();
    let leave = move || {
        let path = endpoint::conversation_leave(&id.read_value());
        let navigate = navigate.clone();
        state.run([], async move { client::call::<()>(Method::Post, &path).await }, move |()| {
            live.forget(&id.read_value());
            on_close.run(());
            navigate("/chats", Default::default());
        });
    };

    let invites = FormState::new(&[]);
    let invite = move |person: PublicProfile| {
        let path = endpoint::conversation_invite(&id.read_value());
        let body = UserRef { user_id: person.id };
        let request = async move { client::send::<_, ()>(Method::Post, &path, &body).await.map_err(about_invitee) };
        invites.run([], request, move |()| invites.notify(Msg::Invited));
    };
    let invite_button = move |person: PublicProfile| {
        view! { <ActionButton state=invites label=Msg::Invite testid="invite-user" on_click=move || invite(person.clone())/> }
            .into_any()
    };

    view! {
        <Dialog title=Msg::GroupInfo on_close testid="group-panel" side=true>
            <FormFeedback state/>
            {move || {
                details
                    .get()
                    .map(|d| {
                        let conversation = d.conversation.id.clone();
                        let members: Vec<_> = d.members.iter().map(|m| m.profile.id.clone()).collect();
                        let c = conversation.clone();
                        // Invisible members show offline, so they are not counted.
                        let online = move || {
                            members.iter().filter(|m| live.presence_in(&c, m).is_online()).count()
                        };
                        view! {
                            <h3 class="panel-name">{d.conversation.name}</h3>
                            <p class="muted panel-description" dir="auto">{d.conversation.description}</p>
                            <ConversationStatusPicker conversation=conversation.clone()/>
                            <h3>
                                {i18n.tr(Msg::Participants)}
                                " "
                                <span class="muted" data-testid="online-count">
                                    {move || format!("· {} {}", online(), i18n.t(Msg::Online))}
                                </span>
                            </h3>
                            <ul class="rows">
                                {d
                                    .members
                                    .into_iter()
                                    .map(|m| {
                                        view! {
                                            <Participant
                                                person=m.profile
                                                role=m.role
                                                conversation=conversation.clone()
                                            />
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                    })
            }}
            <section>
                <h3>{i18n.tr(Msg::InvitePeople)}</h3>
                <FormFeedback state=invites/>
                <UserSearch testid="invite-search" actions=invite_button/>
            </section>
            <Show when=move || is_admin.get()>
                {move || {
                    details
                        .with_untracked(|d| d.as_ref().map(|d| d.conversation.clone()))
                        .map(|conversation| view! { <GroupEditor conversation details/> })
                }}
            </Show>
            <ActionButton state label=Msg::LeaveGroup testid="leave" secondary=true on_click=leave/>
        </Dialog>
    }
}

/// A member with their role, and how they show in the group.
#[component]
fn Participant(person: PublicProfile, role: Role, conversation: ConversationId) -> impl IntoView {
    let i18n = use_i18n();
    let user = person.id.clone();
    view! {
        <Person person testid="participant">
            <PresenceDot conversation user/>
            <span class="badge">{move || i18n.t(Msg::for_role(role))}</span>
        </Person>
    }
}

/// The group's settings, for its owner and admins.
#[component]
fn GroupEditor(conversation: Conversation, details: RwSignal<Option<ConversationDetails>>) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let state = FormState::new(GROUP_FIELDS);
    let draft = GroupDraft::of(Some(&conversation));
    let path = endpoint::conversation(&conversation.id);
    let submit = move || {
        let (path, body) = (path.clone(), draft.update());
        let request = async move { client::send(Method::Patch, &path, &body).await };
        state.run(draft.problems(), request, move |updated: Conversation| {
            live.update_conversation(updated.clone());
            details.update(|d| {
                if let Some(d) = d {
                    d.conversation = updated;
                }
            });
            state.notify(Msg::Saved);
        });
    };
    view! {
        <section>
            <h3>{i18n.tr(Msg::GroupSettings)}</h3>
            <Form state submit=Msg::Save on_submit=submit testid="save-group">
                <GroupFields state draft/>
            </Form>
        </section>
    }
}

/// "Already a member" belongs to the person invited.
fn about_invitee(e: ApiError) -> ApiError {
    match e.code {
        ErrorCode::Conflict => ApiError { field: Some("user_id".into()), ..e },
        _ => e,
    }
}
