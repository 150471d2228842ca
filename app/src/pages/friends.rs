//! `/friends`: find people, answer friend requests, see and remove friends.

use leptos::prelude::*;
use wire::{
    api::{Friends as FriendLists, PublicProfile},
    endpoint,
    model::{Conversation, UserId},
};

use super::{
    form::{ActionButton, FormFeedback, FormState},
    people::{Person, UserSearch},
    presence::PresenceDot,
};
use crate::{
    chat::use_live,
    client::{self, Method},
    i18n::{use_i18n, Msg},
    session::use_session,
};

/// Where someone stands with the signed-in user.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Relation {
    Stranger,
    Friend,
    /// They asked to be friends.
    Incoming,
    /// The user asked them.
    Outgoing,
}

fn relation(lists: &FriendLists, id: &UserId) -> Relation {
    let has = |list: &[PublicProfile]| list.iter().any(|p| &p.id == id);
    if has(&lists.friends) {
        Relation::Friend
    } else if has(&lists.incoming) {
        Relation::Incoming
    } else if has(&lists.outgoing) {
        Relation::Outgoing
    } else {
        Relation::Stranger
    }
}

/// Shown inside `RequireUser`.
#[component]
pub fn Friends() -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let me = StoredValue::new(use_session().me().map(|m| m.id));
    let lists = RwSignal::new(None::<FriendLists>);
    // Friends show as in their private chat with the user, which is where live changes arrive.
    let private_chat = move |friend: &UserId| me.with_value(|me| me.as_ref().map(|me| Conversation::private_id(me, friend)));
    let take = move |l: FriendLists| {
        for (id, presence) in &l.presence {
            if let Some(chat) = private_chat(id) {
                live.note_presence(&chat, [(id.clone(), *presence)]);
            }
        }
        lists.set(Some(l));
    };
    let actions = FormState::new(&[]);
    actions.run([], client::get(endpoint::FRIENDS), take);
    // `POST` asks or accepts; `DELETE` removes, cancels or declines. Both answer the new lists.
    let change = move |method: Method, id: UserId| {
        let request = async move { client::call(method, &endpoint::friend(&id)).await };
        actions.run([], request, take);
    };

    // One button that sends `method` about the person in its row.
    let button = move |id: UserId, method: Method, label: Msg, testid: &'static str| {
        let secondary = method == Method::Delete;
        view! { <ActionButton state=actions label testid secondary on_click=move || change(method, id.clone())/> }
    };

    // A search result's action depends on the lists, which change as the user acts.
    let result_action = move |person: PublicProfile| {
        let id = person.id;
        let action = move || match lists.with(|l| l.as_ref().map(|l| relation(l, &id))) {
            Some(Relation::Stranger) => button(id.clone(), Method::Post, Msg::AddFriend, "add-friend").into_any(),
            Some(Relation::Incoming) => button(id.clone(), Method::Post, Msg::Accept, "accept").into_any(),
            Some(Relation::Outgoing) => {
                view! { <span class="badge">{i18n.tr(Msg::RequestSent)}</span> }.into_any()
            }
            Some(Relation::Friend) => {
                view! { <span class="badge">{i18n.tr(Msg::AlreadyFriends)}</span> }.into_any()
            }
            None => ().into_any(),
        };
        action.into_any()
    };

    view! {
        <section class="card wide">
            <h1>{i18n.tr(Msg::FriendsTitle)}</h1>
            <UserSearch testid="friend-search" actions=result_action/>
            <FormFeedback state=actions/>
            {move || {
                lists
                    .get()
                    .map(|l| {
                        view! {
                            <PeopleSection
                                title=Msg::IncomingRequests
                                people=l.incoming
                                testid="incoming-request"
                                actions=move |id| {
                                    (button(id.clone(), Method::Post, Msg::Accept, "accept"), button(id, Method::Delete, Msg::Decline, "decline"))
                                        .into_any()
                                }
                            />
                            <PeopleSection
                                title=Msg::OutgoingRequests
                                people=l.outgoing
                                testid="outgoing-request"
                                actions=move |id| button(id, Method::Delete, Msg::CancelRequest, "cancel-request").into_any()
                            />
                            <PeopleSection
                                title=Msg::YourFriends
                                people=l.friends
                                testid="friend-row"
                                empty=Msg::NoFriendsYet
                                actions=move |id| {
                                    let dot = private_chat(&id)
                                        .map(|conversation| view! { <PresenceDot conversation user=id.clone()/> });
                                    (dot, button(id, Method::Delete, Msg::RemoveFriend, "remove-friend")).into_any()
                                }
                            />
                        }
                    })
            }}
        </section>
    }
}

/// A titled list of people, each with the buttons `actions` makes for them.
#[component]
fn PeopleSection(
    title: Msg,
    people: Vec<PublicProfile>,
    testid: &'static str,
    /// Shown when there is no one; without it, an empty section is left out.
    #[prop(optional)]
    empty: Option<Msg>,
    actions: impl Fn(UserId) -> AnyView + 'static,
) -> impl IntoView {
    let i18n = use_i18n();
    if people.is_empty() && empty.is_none() {
        return ().into_any();
    }
    let note = empty
        .filter(|_| people.is_empty())
        .map(|m| view! { <p class="muted">{move || i18n.t(m)}</p> });
    let rows = people.into_iter().map(|p| {
        let buttons = actions(p.id.clone());
        view! { <Person person=p testid>{buttons}</Person> }
    });
    view! {
        <section class="people">
            <h2>{move || i18n.t(title)}</h2>
            {note}
            <ul class="rows">{rows.collect_view()}</ul>
        </section>
    }
    .into_any()
}
