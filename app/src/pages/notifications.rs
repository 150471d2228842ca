//! `/settings/notifications`: pushes on this device (on, off, a test, and
//! why they cannot work where they cannot), hidden previews, the chime,
//! do-not-disturb hours, and the conversations with a level or mute of
//! their own.

use leptos::{prelude::*, task::spawn_local};
use wire::{
    endpoint,
    model::ConversationId,
    push::{NotifySettings, QuietHours},
};

use super::{
    chat_notify::{choose, level_options, muted_until, LEVELS},
    form::{ActionButton, FormFeedback, FormState},
};
use crate::{
    chat::use_live,
    client::{self, Method},
    i18n::{use_i18n, Msg},
    notify::{self, PushProblem, PushState},
};

/// Quiet hours offered before the user picks their own: 22:00 to 07:00.
const NIGHT: (u16, u16) = (22 * 60, 7 * 60);

/// Shown inside `RequireUser`.
#[component]
pub fn NotificationSettings() -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    // The moment to ask for desktop notifications has come: the chat list's banner may show.
    live.reach_notify_moment();
    let device = FormState::new(&[]);
    let push = RwSignal::new(None::<PushState>);
    let problem = RwSignal::new(None::<Msg>);
    spawn_local(async move { push.set(Some(notify::push_state().await)) });
    let turn_on = move || {
        let request = async move {
            match notify::push_on().await {
                Ok(()) => Ok(None),
                Err(PushProblem::Server(e)) => Err(e),
                Err(PushProblem::Unsupported) => Ok(Some(Msg::NotifyPushUnsupported)),
                Err(PushProblem::Denied) => Ok(Some(Msg::NotifyPushDenied)),
                Err(PushProblem::Unreachable) => Ok(Some(Msg::NotifyPushFailed)),
            }
        };
        device.run([], request, move |failed| {
            problem.set(failed);
            spawn_local(async move { push.set(Some(notify::push_state().await)) });
        });
    };
    let turn_off = move || {
        device.run([], notify::push_off(), move |()| push.set(Some(PushState::Off)));
    };
    let test = move || {
        let request = async move { client::call::<()>(Method::Post, endpoint::ME_PUSH_TEST).await };
        device.run([], request, move |()| device.notify(Msg::NotifyTestSent));
    };
    let status = move || match (problem.get(), push.get()) {
        (Some(why), _) => Some(why),
        (None, Some(PushState::Unsupported)) => Some(Msg::NotifyPushUnsupported),
        (None, Some(PushState::Denied)) => Some(Msg::NotifyPushDenied),
        (None, Some(PushState::On)) => Some(Msg::NotifyPushIsOn),
        (None, Some(PushState::Off)) => Some(Msg::NotifyPushIsOff),
        (None, None) => None,
    };
    let can_turn_on = move || matches!(push.get(), Some(PushState::Off | PushState::Denied));

    // The settings kept on the server, saved as a whole.
    let saving = FormState::new(&["quiet_hours"]);
    let settings = move || live.notify_settings().unwrap_or_default();
    // Each change shows at once and is saved on its own (not one at a time:
    // a quick second change must not be lost while the first is on its way).
    let save = move |change: Box<dyn FnOnce(&mut NotifySettings)>| {
        let mut next = live.notify_settings_untracked().unwrap_or_default();
        change(&mut next);
        let saved = live.save_notify_settings(next);
        spawn_local(async move {
            match saved.await {
                Ok(_) => saving.notify(Msg::Saved),
                Err(e) => saving.run([Some(e)], async { Ok(()) }, |()| ()),
            }
        });
    };
    let sound = RwSignal::new(notify::sound_on());
    let quiet = move || settings().quiet_hours;
    let quiet_time = move |end: bool| {
        quiet().map_or_else(String::new, |q| clock(if end { q.end_minute } else { q.start_minute }))
    };
    let set_quiet = move |on: bool| {
        let hours = on.then(|| QuietHours {
            start_minute: NIGHT.0,
            end_minute: NIGHT.1,
            utc_offset_minutes: notify::utc_offset_minutes(),
        });
        save(Box::new(move |s| s.quiet_hours = hours));
    };
    let set_bound = move |end: bool, text: String| {
        let (Some(mut q), Some(minute)) = (quiet(), minutes(&text)) else { return };
        if end { q.end_minute = minute } else { q.start_minute = minute }
        q.utc_offset_minutes = notify::utc_offset_minutes();
        save(Box::new(move |s| s.quiet_hours = Some(q)));
    };

    let row = move |id: ConversationId| {
        let (name, default) = live
            .inbox(|i| i.summary(&id).map(|s| {
                let name = match &s.peer {
                    Some(peer) => peer.nickname.clone(),
                    None => s.conversation.name.clone(),
                };
                (name, s.notify_default)
            }))
            .unwrap_or_else(|| (id.0.clone(), Default::default()));
        let choice = StoredValue::new(id.clone());
        let current = move || settings().conversation(&choice.get_value()).cloned();
        let level = move || {
            let level = current().and_then(|c| c.level);
            LEVELS.iter().find(|(l, ..)| *l == level).map_or("default", |(_, value, _)| *value)
        };
        let muted = move || match muted_until(current().as_ref()) {
            None => String::new(),
            Some(None) => i18n.t(Msg::NotifyMutedForever).to_owned(),
            Some(Some(until)) => format!("{} {}", i18n.t(Msg::NotifyMutedUntil), i18n.time(until)),
        };
        view! {
            <li class="row" data-testid="notify-conversation">
                <div class="row-main">
                    <p class="row-title">{name}</p>
                    <p class="muted">{muted}</p>
                </div>
                <select
                    data-testid="notify-conversation-level"
                    prop:value=level
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        let level = LEVELS.iter().find(|(_, v, _)| *v == value).and_then(|(l, ..)| *l);
                        choose(live, choice.get_value(), move |c| c.level = level);
                    }
                >
                    {level_options(default)}
                </select>
                <Show when=move || !muted().is_empty()>
                    <button
                        type="button"
                        class="btn secondary small"
                        on:click=move |_| choose(live, choice.get_value(), |c| c.muted_until_ms = None)
                    >
                        {i18n.tr(Msg::NotifyUnmute)}
                    </button>
                </Show>
            </li>
        }
    };

    view! {
        <section class="card wide notify-settings" data-testid="notify-settings">
            <h1>{i18n.tr(Msg::NotifyTitle)}</h1>
            <p class="muted">{i18n.tr(Msg::NotifyIntro)}</p>
            <h2>{i18n.tr(Msg::NotifyPushOnThisDevice)}</h2>
            <FormFeedback state=device/>
            <p data-testid="push-status" data-state=move || format!("{:?}", push.get()).to_lowercase()>
                {move || status().map(|m| i18n.t(m))}
            </p>
            <div class="actions">
                <Show when=can_turn_on>
                    <ActionButton state=device label=Msg::NotifyPushOn testid="push-on" on_click=turn_on/>
                </Show>
                <Show when=move || push.get() == Some(PushState::On)>
                    <ActionButton state=device label=Msg::NotifyTest testid="push-test" on_click=test/>
                    <ActionButton
                        state=device
                        label=Msg::NotifyPushOff
                        testid="push-off"
                        secondary=true
                        on_click=turn_off
                    />
                </Show>
            </div>
            <FormFeedback state=saving/>
            <label class="check">
                <input
                    type="checkbox"
                    data-testid="hide-previews"
                    prop:checked=move || settings().hide_previews
                    on:change=move |ev| {
                        let hide = event_target_checked(&ev);
                        save(Box::new(move |s| s.hide_previews = hide));
                    }
                />
                {i18n.tr(Msg::NotifyHidePreviews)}
            </label>
            <label class="check">
                <input
                    type="checkbox"
                    data-testid="sound"
                    prop:checked=move || sound.get()
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        notify::set_sound(on);
                        sound.set(on);
                    }
                />
                {i18n.tr(Msg::NotifySound)}
            </label>
            <label class="check">
                <input
                    type="checkbox"
                    data-testid="quiet-hours"
                    prop:checked=move || quiet().is_some()
                    on:change=move |ev| set_quiet(event_target_checked(&ev))
                />
                {i18n.tr(Msg::NotifyQuietHours)}
            </label>
            <Show when=move || quiet().is_some()>
                <p class="quiet-hours">
                    {i18n.tr(Msg::NotifyQuietFrom)} " "
                    <input
                        type="time"
                        data-testid="quiet-from"
                        prop:value=move || quiet_time(false)
                        on:change=move |ev| set_bound(false, event_target_value(&ev))
                    />
                    " " {i18n.tr(Msg::NotifyQuietTo)} " "
                    <input
                        type="time"
                        data-testid="quiet-to"
                        prop:value=move || quiet_time(true)
                        on:change=move |ev| set_bound(true, event_target_value(&ev))
                    />
                </p>
            </Show>
            <h2>{i18n.tr(Msg::NotifyConversations)}</h2>
            {move || {
                let ids: Vec<ConversationId> =
                    settings().conversations.into_iter().map(|c| c.conversation_id).collect();
                match ids.is_empty() {
                    true => view! { <p class="muted">{i18n.tr(Msg::NotifyNoConversations)}</p> }.into_any(),
                    false => view! { <ul class="rows">{ids.into_iter().map(row).collect_view()}</ul> }.into_any(),
                }
            }}
        </section>
    }
}

/// `HH:MM` of a minute after midnight.
fn clock(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The minute after midnight of an `<input type="time">` value.
fn minutes(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.get(..2)?.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_and_write_as_the_time_input_does() {
        assert_eq!(clock(22 * 60 + 5), "22:05");
        assert_eq!(minutes("07:30"), Some(450));
        assert_eq!(minutes("07:30:15"), Some(450));
        assert_eq!(minutes("24:00"), None);
        assert_eq!(minutes(""), None);
    }
}
