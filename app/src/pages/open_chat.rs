//! What the parts of an open chat share: which conversation it is, what the
//! user may do in it, what the composer is writing (a new message, a reply,
//! an edit), and which message to bring into view.

use leptos::prelude::*;
use wire::model::{ConversationId, ConversationKind, Role};

use crate::chat::use_live;

/// Provided by the chat view for its message list, composer and bars.
#[derive(Clone, Copy)]
pub struct OpenChat {
    id: StoredValue<ConversationId>,
    /// What the composer is writing.
    pub draft: RwSignal<Draft>,
    /// A message to bring into view, loading history down to it.
    pub jump: RwSignal<Option<u64>>,
    /// The message briefly highlighted after a jump.
    pub flash: RwSignal<Option<u64>>,
    kind: Memo<Option<ConversationKind>>,
    role: Memo<Role>,
}

/// What the composer's text becomes when sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Draft {
    #[default]
    New,
    /// A message answering the one at this seq.
    Reply(u64),
    /// The new text of the user's message at this seq.
    Edit(u64),
}

impl OpenChat {
    pub fn provide(id: ConversationId) -> OpenChat {
        let live = use_live();
        let summary = {
            let id = id.clone();
            Memo::new(move |_| live.inbox(|i| i.summary(&id).map(|s| (s.conversation.kind, s.role))))
        };
        let chat = OpenChat {
            id: StoredValue::new(id),
            draft: RwSignal::new(Draft::New),
            jump: RwSignal::new(None),
            flash: RwSignal::new(None),
            kind: Memo::new(move |_| summary.get().map(|(kind, _)| kind)),
            role: Memo::new(move |_| summary.get().map(|(_, role)| role).unwrap_or_default()),
        };
        provide_context(chat);
        // Open: the server pushes nothing of it to this user while the page is in view.
        let shown = chat.id();
        live.view(Some(shown.clone()));
        on_cleanup(move || live.unview(&shown));
        chat
    }

    pub fn id(self) -> ConversationId {
        self.id.get_value()
    }

    /// The chat's kind, once the inbox has it.
    pub fn kind(self) -> Option<ConversationKind> {
        self.kind.get()
    }

    pub fn is_group(self) -> bool {
        self.kind() == Some(ConversationKind::Group)
    }

    /// Whether the user may remove others' messages and mention everyone:
    /// a group's owners and admins.
    pub fn moderates(self) -> bool {
        self.is_group() && self.role.get() >= Role::Admin
    }

    /// Whether the user may pin: both people in a private chat, a group's owners and admins.
    pub fn pins(self) -> bool {
        self.kind.get() == Some(ConversationKind::Private) || self.moderates()
    }
}

pub fn use_chat() -> OpenChat {
    expect_context::<OpenChat>()
}
