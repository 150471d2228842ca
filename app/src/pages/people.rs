//! People in lists: a row per person, and the search for users that the
//! friends page, the new-chat dialog and the group panel share.

use leptos::prelude::*;
use wire::{api::PublicProfile, endpoint, protocol::ApiError};

use super::{
    as_you_type::AsYouType,
    avatar::Avatar,
    form::{Form, FormState, TextField},
};
use crate::{
    client,
    i18n::{use_i18n, Msg},
};

/// One person in a list: picture, nickname, and the controls in `children`.
#[component]
pub fn Person(person: PublicProfile, testid: &'static str, children: Children) -> impl IntoView {
    view! {
        <li class="row" data-testid=testid>
            <Avatar url=person.avatar name=person.nickname.clone() seed=person.id.to_string()/>
            <span class="row-title">{person.nickname}</span>
            <span class="row-actions">{children()}</span>
        </li>
    }
}

/// A search for users by any part of their nickname (its pinyin too) or
/// their e-mail, as one types; each result (`search-result`) gets the
/// controls `actions` makes for it.
#[component]
pub fn UserSearch(
    /// The search input's `data-testid`.
    testid: &'static str,
    #[prop(into)] actions: Callback<PublicProfile, AnyView>,
) -> impl IntoView {
    let i18n = use_i18n();
    let query = RwSignal::new(String::new());
    let found = RwSignal::new(None::<Vec<PublicProfile>>);
    let search = FormState::new(&["q"]);
    let asked = AsYouType::new();
    // Searches now (Enter) or, as one types, once typing pauses.
    let fetch = move || {
        let q = query.get_untracked().trim().to_owned();
        if q.is_empty() {
            search.show_error(None);
            found.set(None);
            return;
        }
        let number = asked.latest();
        let path = format!("{}?q={}", endpoint::USERS, client::escape(&q));
        leptos::task::spawn_local(async move {
            let answer: Result<Vec<PublicProfile>, ApiError> = client::get(&path).await;
            if asked.is_latest(number) {
                search.show_error(answer.as_ref().err().cloned());
                found.set(answer.ok());
            }
        });
    };
    let submit = move || {
        asked.forget();
        if query.with_untracked(|q| q.trim().is_empty()) {
            found.set(None);
            return search.show_error(Some(ApiError::invalid("q", "type something to search for")));
        }
        fetch();
    };
    Effect::watch(move || query.get(), move |_, _, _| asked.after_pause(fetch), false);
    view! {
        <Form state=search submit=Msg::Search on_submit=submit inline=true>
            <TextField
                state=search
                name="q"
                label=Msg::FindPeople
                value=query
                kind="search"
                autocomplete="off"
                testid=testid
            />
        </Form>
        {move || {
            found
                .get()
                .map(|people| {
                    if people.is_empty() {
                        return view! { <p class="muted">{i18n.tr(Msg::NoOneFound)}</p> }.into_any();
                    }
                    let rows = people
                        .into_iter()
                        .map(|p| {
                            let controls = actions.run(p.clone());
                            view! { <Person person=p testid="search-result">{controls}</Person> }
                        });
                    view! { <ul class="rows">{rows.collect_view()}</ul> }.into_any()
                })
        }}
    }
}
