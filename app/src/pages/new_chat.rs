//! The "New chat" dialog: pick a friend, or find anyone, to chat with in private.

use leptos::prelude::*;
use wire::{
    api::{ConversationSummary, Friends, PublicProfile, UserRef},
    endpoint,
};

use super::{
    chats::use_open_chat,
    dialog::Dialog,
    form::{ActionButton, FormFeedback, FormState},
    people::{Person, UserSearch},
};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
};

/// The dialog, loaded when first opened (its own wasm chunk with `--split`).
#[lazy]
pub fn new_chat(on_close: Callback<()>) -> AnyView {
    view! { <NewChat on_close/> }.into_any()
}

#[component]
fn NewChat(#[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let state = FormState::new(&[]);
    let friends = RwSignal::new(None::<Vec<PublicProfile>>);
    state.run([], client::get::<Friends>(endpoint::FRIENDS), move |lists| friends.set(Some(lists.friends)));
    let open_chat = use_open_chat();
    // The server answers the existing chat if there is one.
    let start = move |person: PublicProfile| {
        let body = UserRef { user_id: person.id };
        let request = async move { client::send(Method::Post, endpoint::PRIVATE_CONVERSATIONS, &body).await };
        let open_chat = open_chat.clone();
        state.run([], request, move |summary: ConversationSummary| {
            on_close.run(());
            open_chat(summary);
        });
    };
    let start_button = move |person: PublicProfile| {
        let start = start.clone();
        view! { <ActionButton state label=Msg::StartChat testid="start-chat" on_click=move || start(person.clone())/> }
            .into_any()
    };
    view! {
        <Dialog title=Msg::NewChat on_close testid="new-chat-dialog">
            <FormFeedback state/>
            {
                let start_button = start_button.clone();
                move || {
                    friends
                        .get()
                        .filter(|list| !list.is_empty())
                        .map(|list| {
                            let rows = list
                                .into_iter()
                                .map(|p| {
                                    let button = start_button(p.clone());
                                    view! { <Person person=p testid="friend-row">{button}</Person> }
                                });
                            view! {
                                <h3>{i18n.tr(Msg::YourFriends)}</h3>
                                <ul class="rows">{rows.collect_view()}</ul>
                            }
                        })
                }
            }
            <UserSearch testid="user-search" actions=start_button/>
        </Dialog>
    }
}
