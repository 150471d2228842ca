//! A group's settings as form fields: name, description, whether it is
//! listed publicly and whether anyone may join. Creating a group and editing
//! one share them.

use leptos::prelude::*;
use wire::{
    api::{check_description, check_group_name, CreateGroup, UpdateConversation},
    model::{Conversation, JoinPolicy, UserId, Visibility},
    protocol::ApiError,
};

use super::form::{invalid, CheckField, Field, FormState, TextField};
use crate::i18n::{use_i18n, Msg};

/// The API field names [`GroupFields`] shows errors beside.
pub const GROUP_FIELDS: &[&str] = &["name", "description"];

/// The values being edited.
#[derive(Clone, Copy)]
pub struct GroupDraft {
    name: RwSignal<String>,
    description: RwSignal<String>,
    public: RwSignal<bool>,
    open: RwSignal<bool>,
}

impl GroupDraft {
    /// The settings `conversation` has now; for a new group (`None`), the
    /// API's defaults: hidden and invite-only.
    pub fn of(conversation: Option<&Conversation>) -> Self {
        GroupDraft {
            name: RwSignal::new(conversation.map(|c| c.name.clone()).unwrap_or_default()),
            description: RwSignal::new(conversation.map(|c| c.description.clone()).unwrap_or_default()),
            public: RwSignal::new(conversation.is_some_and(|c| c.visibility == Visibility::Public)),
            open: RwSignal::new(conversation.is_some_and(|c| c.join_policy == JoinPolicy::Open)),
        }
    }

    /// What the local checks find wrong.
    pub fn problems(&self) -> [Option<ApiError>; 2] {
        [
            check_group_name(&self.name.get_untracked()).err(),
            check_description(&self.description.get_untracked()).err(),
        ]
    }

    fn visibility(&self) -> Visibility {
        if self.public.get_untracked() {
            Visibility::Public
        } else {
            Visibility::Hidden
        }
    }

    fn join_policy(&self) -> JoinPolicy {
        if self.open.get_untracked() {
            JoinPolicy::Open
        } else {
            JoinPolicy::InviteOnly
        }
    }

    pub fn create(&self, members: Vec<UserId>) -> CreateGroup {
        CreateGroup {
            name: self.name.get_untracked(),
            description: self.description.get_untracked(),
            visibility: self.visibility(),
            join_policy: self.join_policy(),
            members,
        }
    }

    pub fn update(&self) -> UpdateConversation {
        UpdateConversation {
            name: Some(self.name.get_untracked()),
            description: Some(self.description.get_untracked()),
            visibility: Some(self.visibility()),
            join_policy: Some(self.join_policy()),
        }
    }
}

#[component]
pub fn GroupFields(state: FormState, draft: GroupDraft) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <TextField
            state
            name="name"
            label=Msg::GroupName
            value=draft.name
            autocomplete="off"
            testid="group-name"
        />
        <Field state name="description" label=Msg::Description>
            <textarea
                id="description"
                name="description"
                rows="3"
                data-testid="group-description"
                aria-invalid=invalid(state, "description")
                aria-describedby="description-error"
                prop:value=move || draft.description.get()
                on:input=move |ev| {
                    draft.description.set(event_target_value(&ev));
                    state.clear_field("description");
                }
            ></textarea>
        </Field>
        <div class="checks" role="group" aria-label=i18n.tr(Msg::GroupSettings)>
            <CheckField label=Msg::PublicGroup checked=draft.public testid="group-public"/>
            <CheckField label=Msg::OpenGroup checked=draft.open testid="group-open"/>
        </div>
    }
}
