//! Keyboard shortcuts on every page: Ctrl/⌘-K jumps to a chat by name,
//! Alt-↑/↓ opens the previous or next chat of the list, "?" or Ctrl-/ lists
//! them all. (Escape closes dialogs and menus, and ↑ in an empty composer
//! edits the last message: those are handled where they act.)

use leptos::{ev, html, prelude::*};
use leptos_router::{
    components::A,
    hooks::{use_location, use_navigate},
};
use wire::model::ConversationId;

use super::{chats::chat_face, dialog::Dialog};
use crate::{
    chat::use_live,
    client,
    i18n::{use_i18n, Msg},
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Help,
    Jump,
}

/// Which shortcut dialog is open, provided as context by [`provide_shortcuts`].
#[derive(Clone, Copy)]
pub struct Shortcuts(RwSignal<Open>);

impl Shortcuts {
    pub fn show_help(self) {
        self.0.set(Open::Help);
    }
}

pub fn provide_shortcuts() {
    provide_context(Shortcuts(RwSignal::new(Open::None)));
}

pub fn use_shortcuts() -> Shortcuts {
    expect_context()
}

/// Whether the key goes into a text field (where "?" is text, not a shortcut).
fn typing() -> bool {
    document().active_element().is_some_and(|el| {
        matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT") || el.has_attribute("contenteditable")
    })
}

/// Listens for the shortcuts and shows their dialogs; mounted once, inside the router.
#[component]
pub fn KeyboardShortcuts() -> impl IntoView {
    let Shortcuts(open) = use_shortcuts();
    let live = use_live();
    let location = use_location();
    let navigate = use_navigate();
    // The chat `up` (or down) from the open one in the list; the first when none is open.
    let step = move |up: bool| {
        let ids: Vec<ConversationId> =
            live.inbox(|i| i.chats(None).unwrap_or_default().into_iter().map(|s| s.conversation.id).collect());
        let path = location.pathname.get_untracked();
        let at = path.strip_prefix("/chats/").and_then(|open| ids.iter().position(|id| id.0 == open));
        let next = match at {
            None => 0,
            Some(i) if up => i.saturating_sub(1),
            Some(i) => (i + 1).min(ids.len().saturating_sub(1)),
        };
        ids.get(next).map(|id| format!("/chats/{id}"))
    };
    let handle = window_event_listener(ev::keydown, move |ev| {
        if ev.is_composing() || !live.inbox(|i| i.chats(None).is_some()) {
            return;
        }
        let command = ev.ctrl_key() || ev.meta_key();
        match ev.key().as_str() {
            "k" | "K" if command => open.set(Open::Jump),
            "/" if command => open.set(Open::Help),
            "?" if !command && !typing() => open.set(Open::Help),
            "ArrowUp" | "ArrowDown" if ev.alt_key() => match step(ev.key() == "ArrowUp") {
                Some(path) => navigate(&path, Default::default()),
                None => return,
            },
            _ => return,
        }
        ev.prevent_default();
    });
    on_cleanup(move || handle.remove());
    let close = Callback::new(move |()| open.set(Open::None));
    move || match open.get() {
        Open::None => ().into_any(),
        Open::Help => Suspend::new(shortcuts_help(close)).into_any(),
        Open::Jump => Suspend::new(jump_to_chat(close)).into_any(),
    }
}

/// The list of shortcuts (its own wasm chunk with `--split`).
#[lazy]
fn shortcuts_help(on_close: Callback<()>) -> AnyView {
    view! { <ShortcutsHelp on_close/> }.into_any()
}

#[component]
fn ShortcutsHelp(on_close: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let rows = [
        ("Ctrl K · ⌘ K", Msg::ShortcutJump),
        ("Alt ↑ · Alt ↓", Msg::ShortcutMoveChats),
        ("↑", Msg::ShortcutEditLast),
        ("Enter", Msg::ShortcutSend),
        ("Esc", Msg::ShortcutClose),
        ("? · Ctrl /", Msg::ShortcutHelp),
    ];
    view! {
        <Dialog title=Msg::Shortcuts on_close testid="shortcuts-dialog">
            <dl class="shortcuts">
                {rows
                    .into_iter()
                    .map(|(keys, what)| view! {
                        <div>
                            <dt><kbd>{keys}</kbd></dt>
                            <dd>{i18n.tr(what)}</dd>
                        </div>
                    })
                    .collect_view()}
            </dl>
        </Dialog>
    }
}

/// Jump to a chat by typing part of its name (its own wasm chunk with `--split`).
#[lazy]
fn jump_to_chat(on_close: Callback<()>) -> AnyView {
    view! { <JumpToChat on_close/> }.into_any()
}

/// At most this many chats match at once.
const JUMP_SHOWN: usize = 8;

#[component]
fn JumpToChat(on_close: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let navigate = use_navigate();
    let query = RwSignal::new(String::new());
    let input = NodeRef::<html::Input>::new();
    let found = Memo::new(move |_| {
        let query = client::lower_case(query.get().trim());
        live.inbox(|i| {
            let chats = i.chats(None).unwrap_or_default();
            let named = chats.iter().map(|s| (s.conversation.id.clone(), chat_face(s).0));
            named.filter(|(_, name)| client::lower_case(name).contains(&query)).take(JUMP_SHOWN).collect::<Vec<_>>()
        })
    });
    // After the dialog's own focus: the box is where the typing goes.
    Effect::new(move || {
        if let Some(el) = input.get() {
            request_animation_frame(move || {
                let _ = el.focus();
            });
        }
    });
    let on_key = move |ev: ev::KeyboardEvent| {
        if ev.key() != "Enter" || ev.is_composing() {
            return;
        }
        if let Some((id, _)) = found.with_untracked(|f| f.first().cloned()) {
            ev.prevent_default();
            on_close.run(());
            navigate(&format!("/chats/{id}"), Default::default());
        }
    };
    view! {
        <Dialog title=Msg::JumpToChat on_close testid="jump-dialog">
            <input
                type="search"
                class="jump-input"
                node_ref=input
                data-testid="jump-input"
                aria-label=i18n.tr(Msg::JumpPlaceholder)
                placeholder=i18n.tr(Msg::JumpPlaceholder)
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
                on:keydown=on_key
            />
            <ul class="jump-list">
                <For each=move || found.get() key=|(id, _)| id.clone() children=move |(id, name)| {
                    view! {
                        <li on:click=move |_| on_close.run(())>
                            <A href=format!("/chats/{id}") attr:class="menu-item" attr:data-testid="jump-result">
                                <span dir="auto">{name}</span>
                            </A>
                        </li>
                    }
                }/>
            </ul>
            <Show when=move || found.with(Vec::is_empty)>
                <p class="muted">{i18n.tr(Msg::JumpNoMatch)}</p>
            </Show>
        </Dialog>
    }
}
