//! What the open page does about notifications: it tells the server which
//! conversation it shows while visible and focused (no push for that one),
//! alerts the user to messages elsewhere (a chime, a desktop notification
//! in the background, by their settings), and keeps their notification
//! settings for the settings page and the chats' bells.

use leptos::{prelude::*, task::spawn_local};
use wire::{
    endpoint,
    model::{ConversationId, ConversationKind, Message, MessageKind},
    protocol::{ApiError, ClientFrame},
    push::{NotifyLevel, NotifySettings},
};

use super::Live;
use crate::{
    client::{self, Method},
    i18n::Msg,
    notify::{self, Incoming},
};

/// Messages older than this when they arrive are catching up, not news.
const FRESH_MS: i64 = 30_000;

impl Live {
    /// The page shows `conversation` now (`None`: none); told to the server
    /// while the page is visible and focused.
    pub fn view(self, conversation: Option<ConversationId>) {
        self.viewing.set_value(conversation);
        self.report_view();
    }

    /// The page stops showing `conversation`, unless it shows another already.
    pub fn unview(self, conversation: &ConversationId) {
        if self.viewing.with_value(|v| v.as_ref() == Some(conversation)) {
            self.view(None);
        }
    }

    /// Tells the server what the page shows, if that changed since it was last told.
    pub(super) fn report_view(self) {
        let shown = self.viewing.get_value().filter(|_| self.visible.get_untracked() && self.focused.get_untracked());
        if self.viewing_told.with_value(|told| *told != shown)
            && self.send_frame(&ClientFrame::Viewing { conversation_id: shown.clone() })
        {
            self.viewing_told.set_value(shown);
        }
    }

    /// Whether the user has sent a message or opened the notification
    /// settings on this page: the moment to ask for notifications; reactive.
    pub fn notify_moment(self) -> bool {
        self.notify_moment.get()
    }

    pub fn reach_notify_moment(self) {
        if !self.notify_moment.get_untracked() {
            self.notify_moment.set(true);
        }
    }

    /// The user's notification settings, once loaded; reactive.
    pub fn notify_settings(self) -> Option<NotifySettings> {
        self.notify.get()
    }

    pub fn notify_settings_untracked(self) -> Option<NotifySettings> {
        self.notify.get_untracked()
    }

    /// Loads the notification settings, and renews this device's push subscription.
    pub(super) fn load_notify_settings(self) {
        spawn_local(notify::push_renew());
        self.reload_notify_settings();
    }

    fn reload_notify_settings(self) {
        spawn_local(async move {
            let settings = client::get::<NotifySettings>(endpoint::ME_NOTIFICATIONS).await;
            if let Ok(settings) = self.session.observe(settings) {
                self.notify.set(Some(settings));
            }
        });
    }

    /// Saves new settings. They show at once, before the answer (tidied by
    /// the server's rules), so that a change made meanwhile builds on them; a
    /// refusal brings back what the server keeps.
    pub fn save_notify_settings(
        self,
        settings: NotifySettings,
    ) -> impl std::future::Future<Output = Result<NotifySettings, ApiError>> + 'static {
        let checked = settings.check();
        if let Ok(checked) = &checked {
            self.notify.set(Some(checked.clone()));
        }
        async move {
            let checked = checked?;
            let saved = client::send::<_, NotifySettings>(Method::Put, endpoint::ME_NOTIFICATIONS, &checked).await;
            if saved.is_err() {
                self.reload_notify_settings();
            }
            saved
        }
    }

    /// A message came live: unless the page shows its conversation, or the
    /// user's settings hold it back, the user is alerted.
    pub(super) fn alert(self, message: &Message) {
        use MessageKind::*;
        let me = self.inbox.with_untracked(|i| i.me().clone());
        let news = matches!(message.kind, Text | Image | Voice | Video | File) && message.sender_id != me;
        if !news || message.created_ms < client::now_ms() - FRESH_MS {
            return;
        }
        let in_view = self.visible.get_untracked() && notify::focused();
        if in_view && self.viewing.with_value(|v| v.as_ref() == Some(&message.conversation_id)) {
            return;
        }
        let i18n = self.i18n;
        let (group, peer, default_level) = self.inbox.with_untracked(|i| match i.summary(&message.conversation_id) {
            Some(s) if s.conversation.kind == ConversationKind::Group => {
                (Some(s.conversation.name.clone()), None, s.notify_default)
            }
            Some(s) => (None, s.peer.as_ref().map(|p| p.nickname.clone()), s.notify_default),
            None => (None, None, NotifyLevel::default()),
        });
        let known = self.profiles.with_untracked(|p| p.get(&message.sender_id).map(|p| p.nickname.clone()));
        let sender = known.or(peer).unwrap_or_default();
        let text = match message.content.trim() {
            "" => i18n.t(Msg::NotifyNewMessage).to_owned(),
            text => text.chars().take(wire::push::MAX_PUSH_PREVIEW_CHARS).collect(),
        };
        let hidden = self.notify.with_untracked(|s| s.as_ref().is_some_and(|s| s.hide_previews));
        let text = if hidden { i18n.t(Msg::NotifyNewMessage).to_owned() } else { text };
        let (title, body) = match group {
            Some(name) => (name, format!("{sender}: {text}")),
            None => (sender, text),
        };
        let incoming = Incoming {
            me: &me,
            conversation: &message.conversation_id,
            mentions: &message.mentions,
            default_level,
            title: &title,
            body: &body,
            in_view,
        };
        let settings = self.notify.get_untracked().unwrap_or_default();
        if incoming.allowed(&settings, client::now_ms()) {
            incoming.alert();
        }
    }
}
