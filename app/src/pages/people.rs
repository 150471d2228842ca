//! People in lists: a row per person, and the search for users that the
//! friends page, the new-chat dialog and the group panel share.

use leptos::prelude::*;
use wire::{api::PublicProfile, endpoint, protocol::ApiError};

use super::{
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

/// A search for users by nickname or e-mail; each result (`search-result`)
/// gets the controls `actions` makes for it.
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
    let submit = move || {
        let q = query.get_untracked().trim().to_owned();
        let problem = q.is_empty().then(|| ApiError::invalid("q", "type something to search for"));
        let path = format!("{}?q={}", endpoint::USERS, client::escape(&q));
        search.run([problem], async move { client::get(&path).await }, move |people| found.set(Some(people)));
    };
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
