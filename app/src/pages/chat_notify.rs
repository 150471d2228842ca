//! A conversation's notifications, from its header: the level (the default,
//! all messages, mentions only, nothing) and a mute for an hour, 8 hours, a
//! week or until unmuted. Saved at once with the user's settings.

use leptos::{prelude::*, task::spawn_local};
use wire::{
    model::{ConversationId, Millis},
    push::{ConversationNotify, NotifyLevel, NotifySettings, MUTED_FOREVER},
};

use super::icons::{Icon, Svg};
use crate::{
    chat::{use_live, Live},
    client,
    i18n::{use_i18n, Msg},
};

const HOUR_MS: Millis = 3_600_000;

/// The levels offered, with the `<select>` value and label of each; `None` is the default.
pub(super) const LEVELS: [(Option<NotifyLevel>, &str, Msg); 4] = [
    (None, "default", Msg::NotifyLevelDefault),
    (Some(NotifyLevel::All), "all", Msg::NotifyLevelAll),
    (Some(NotifyLevel::Mentions), "mentions", Msg::NotifyLevelMentions),
    (Some(NotifyLevel::Nothing), "nothing", Msg::NotifyLevelNothing),
];

/// The `<option>`s of [`LEVELS`]; the default's label says what it is in
/// this conversation (mentions only in a large group).
pub(super) fn level_options(default: NotifyLevel) -> impl IntoView {
    let i18n = use_i18n();
    let default_label = LEVELS.iter().find(|(l, ..)| *l == Some(default)).map_or(Msg::NotifyLevelAll, |(.., m)| *m);
    LEVELS
        .iter()
        .map(|(level, value, label)| {
            let text = move || match level {
                None => format!("{} ({})", i18n.t(*label), i18n.t(default_label)),
                Some(_) => i18n.t(*label).to_owned(),
            };
            view! { <option value=*value>{text}</option> }
        })
        .collect_view()
}

/// The mutes offered: for how long, and the label.
const MUTES: [(Millis, &str, Msg); 4] = [
    (HOUR_MS, "1h", Msg::NotifyMuteHour),
    (8 * HOUR_MS, "8h", Msg::NotifyMuteEight),
    (7 * 24 * HOUR_MS, "1w", Msg::NotifyMuteWeek),
    (MUTED_FOREVER, "forever", Msg::NotifyMuteForever),
];

/// `settings` with `conversation`'s choice changed by `change` (an entry
/// that chooses nothing any more is dropped by the server).
pub(super) fn with_choice(
    mut settings: NotifySettings,
    conversation: &ConversationId,
    change: impl FnOnce(&mut ConversationNotify),
) -> NotifySettings {
    let at = match settings.conversations.iter().position(|c| &c.conversation_id == conversation) {
        Some(at) => at,
        None => {
            let fresh = ConversationNotify { conversation_id: conversation.clone(), level: None, muted_until_ms: None };
            settings.conversations.push(fresh);
            settings.conversations.len() - 1
        }
    };
    change(&mut settings.conversations[at]);
    settings
}

/// Saves `conversation`'s choice changed by `change`.
pub(super) fn choose(
    live: Live,
    conversation: ConversationId,
    change: impl FnOnce(&mut ConversationNotify) + 'static,
) {
    let settings = with_choice(live.notify_settings_untracked().unwrap_or_default(), &conversation, change);
    let saved = live.save_notify_settings(settings);
    // A refusal brings the settings back as they were: the menu shows them.
    spawn_local(async move {
        let _ = saved.await;
    });
}

/// When a mute ends, for a muted conversation: `Some(None)` until unmuted.
pub(super) fn muted_until(choice: Option<&ConversationNotify>) -> Option<Option<Millis>> {
    let until = choice?.muted_until_ms.filter(|until| *until > client::now_ms())?;
    Some((until < MUTED_FOREVER).then_some(until))
}

/// The user's choice for the conversation `id`, if any.
fn choice_of(live: Live, id: StoredValue<ConversationId>) -> Option<ConversationNotify> {
    live.notify_settings().and_then(|s| id.with_value(|id| s.conversation(id).cloned()))
}

/// The bell in a chat's header and its menu.
#[component]
pub fn ChatNotify(conversation: ConversationId) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let open = RwSignal::new(false);
    let id = StoredValue::new(conversation);
    let choice = move || choice_of(live, id);
    let muted = move || muted_until(choice().as_ref()).is_some();
    view! {
        <span class="chat-notify">
            <button
                type="button"
                class="icon-button"
                data-testid="chat-notify"
                data-muted=move || muted().to_string()
                aria-label=i18n.tr(Msg::NotifyChatButton)
                title=i18n.tr(Msg::NotifyChatButton)
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {move || view! { <Svg icon=if muted() { Icon::BellOff } else { Icon::Bell }/> }}
            </button>
            <Show when=move || open.get()>
                {Suspend::new(chat_notify_menu(id.get_value(), open))}
            </Show>
        </span>
    }
}

/// The bell's menu, loaded with its first opening (its own wasm chunk when
/// built with `--split`).
#[lazy]
fn chat_notify_menu(conversation: ConversationId, open: RwSignal<bool>) -> AnyView {
    view! { <ChatNotifyMenu conversation open/> }.into_any()
}

#[component]
fn ChatNotifyMenu(conversation: ConversationId, open: RwSignal<bool>) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let id = StoredValue::new(conversation);
    let choice = move || choice_of(live, id);
    let muted = move || muted_until(choice().as_ref()).is_some();
    let level_value = move || {
        let level = choice().and_then(|c| c.level);
        LEVELS.iter().find(|(l, ..)| *l == level).map_or("default", |(_, value, _)| *value)
    };
    let set_level = move |value: String| {
        let level = LEVELS.iter().find(|(_, v, _)| *v == value).and_then(|(l, ..)| *l);
        choose(live, id.get_value(), move |c| c.level = level);
    };
    let mute = move |span: Millis| {
        let until = if span == MUTED_FOREVER { MUTED_FOREVER } else { client::now_ms() + span };
        choose(live, id.get_value(), move |c| c.muted_until_ms = Some(until));
        open.set(false);
    };
    view! {
        <div class="chat-notify-menu" role="group" data-testid="chat-notify-menu">
            <label>
                {i18n.tr(Msg::NotifyTitle)} " "
                <select
                    data-testid="chat-notify-level"
                    prop:value=level_value
                    on:change=move |ev| set_level(event_target_value(&ev))
                >
                    {level_options(live.inbox(|i| i.summary(&id.get_value()).map(|s| s.notify_default)).unwrap_or_default())}
                </select>
            </label>
            <p class="muted">{i18n.tr(Msg::NotifyMute)}</p>
            <div class="chat-notify-mutes">
                {MUTES
                    .iter()
                    .map(|(span, testid, label)| {
                        let span = *span;
                        view! {
                            <button
                                type="button"
                                class="btn secondary small"
                                data-testid=format!("chat-mute-{testid}")
                                on:click=move |_| mute(span)
                            >
                                {i18n.tr(*label)}
                            </button>
                        }
                    })
                    .collect_view()}
                <Show when=muted>
                    <button
                        type="button"
                        class="btn small"
                        data-testid="chat-unmute"
                        on:click=move |_| choose(live, id.get_value(), |c| c.muted_until_ms = None)
                    >
                        {i18n.tr(Msg::NotifyUnmute)}
                    </button>
                </Show>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_is_changed_in_place_or_added() {
        let (a, b) = (ConversationId("a".into()), ConversationId("b".into()));
        let settings = with_choice(NotifySettings::default(), &a, |c| c.level = Some(NotifyLevel::Nothing));
        let settings = with_choice(settings, &b, |c| c.muted_until_ms = Some(MUTED_FOREVER));
        let settings = with_choice(settings, &a, |c| c.level = Some(NotifyLevel::All));
        assert_eq!(settings.conversations.len(), 2);
        assert_eq!(settings.conversation(&a).unwrap().level, Some(NotifyLevel::All));
        assert_eq!(muted_until(settings.conversation(&b)), Some(None), "until unmuted");
        assert_eq!(muted_until(settings.conversation(&a)), None);
    }
}
