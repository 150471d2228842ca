//! The browser's side of notifications: this device's Web Push
//! subscription (the service worker, `public/sw.js`, shows the pushes),
//! and while a page is open, its own alerts: a chime, a desktop
//! notification when the page is in the background, the app badge.
//! Outside the browser every call does nothing.

use wire::{
    endpoint,
    model::{ConversationId, Millis, UserId, MENTION_ALL},
    protocol::ApiError,
    push::{NotifyLevel, NotifySettings, PushKey, PushSubscription},
};

use crate::client::{self, Method};

/// Whether this device can have pushes, and has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushState {
    /// No service worker, `PushManager` or `Notification` here (an iPhone
    /// outside an installed app, an old browser).
    Unsupported,
    /// The user (or a policy) blocked notifications for the site.
    Denied,
    Off,
    On,
}

/// Why turning pushes on did not work.
#[derive(Clone, Debug, PartialEq)]
pub enum PushProblem {
    Unsupported,
    Denied,
    /// The browser's push service did not answer in time, or refused
    /// (Chrome's is unreachable in mainland China).
    Unreachable,
    /// Natter's server refused the subscription.
    Server(ApiError),
}

/// How long subscribing may take before the push service counts as unreachable.
const SUBSCRIBE_TIMEOUT_MS: u32 = 15_000;
/// Where this browser keeps whether the user wants the chime.
const SOUND_KEY: &str = "natter_sound";
/// Where this browser keeps that the user dismissed the permission banner.
const BANNER_KEY: &str = "natter_notify_banner";

/// This device's push state now.
pub async fn push_state() -> PushState {
    match web::permission().as_str() {
        "unsupported" => PushState::Unsupported,
        "denied" => PushState::Denied,
        _ if web::subscribed().await => PushState::On,
        _ => PushState::Off,
    }
}

/// Asks for permission if need be, subscribes with the server's key and
/// tells the server. Called from a click: browsers ask only then.
pub async fn push_on() -> Result<(), PushProblem> {
    if web::permission() == "unsupported" {
        return Err(PushProblem::Unsupported);
    }
    if web::ask_permission().await != "granted" {
        return Err(PushProblem::Denied);
    }
    let key: PushKey = client::get(endpoint::PUSH_KEY).await.map_err(PushProblem::Server)?;
    let json = web::subscribe(&key.public_key, SUBSCRIBE_TIMEOUT_MS).await.ok_or(PushProblem::Unreachable)?;
    let subscription: PushSubscription = serde_json::from_str(&json).map_err(|_| PushProblem::Unreachable)?;
    client::send::<_, ()>(Method::Put, endpoint::ME_PUSH, &subscription).await.map_err(PushProblem::Server)
}

/// Tells the server this device's subscription again, if it has one, at
/// each start: the server may have dropped it (its push service said it
/// expired, the device signed out and in), or the server's key changed, or
/// the browser replaced it while no page was signed in. Never asks anything.
pub async fn push_renew() {
    if web::permission() != "granted" || !web::subscribed().await {
        return;
    }
    let Ok(key) = client::get::<PushKey>(endpoint::PUSH_KEY).await else { return };
    let Some(json) = web::subscribe(&key.public_key, SUBSCRIBE_TIMEOUT_MS).await else { return };
    if let Ok(subscription) = serde_json::from_str::<PushSubscription>(&json) {
        let _ = client::send::<_, ()>(Method::Put, endpoint::ME_PUSH, &subscription).await;
    }
}

/// Unsubscribes this device, here and on the server.
pub async fn push_off() -> Result<(), ApiError> {
    web::unsubscribe().await;
    client::call::<()>(Method::Delete, endpoint::ME_PUSH).await
}

/// Whether the page may show desktop notifications.
pub fn may_notify() -> bool {
    web::permission() == "granted"
}

/// Whether notifications were neither allowed nor refused yet (the banner's moment).
pub fn may_ask() -> bool {
    web::permission() == "default" && client::recall(BANNER_KEY).is_none()
}

/// Asks for permission (from a click); answers whether it was given.
pub async fn ask() -> bool {
    client::remember(BANNER_KEY, "asked");
    web::ask_permission().await == "granted"
}

/// The user does not want the banner again.
pub fn dismiss_banner() {
    client::remember(BANNER_KEY, "dismissed");
}

pub fn sound_on() -> bool {
    client::recall(SOUND_KEY).as_deref() != Some("off")
}

pub fn set_sound(on: bool) {
    client::remember(SOUND_KEY, if on { "on" } else { "off" });
}

/// Local time minus UTC now, in minutes (UTC+8: 480), for quiet hours.
pub fn utc_offset_minutes() -> i16 {
    web::utc_offset_minutes()
}

/// Whether the page has the keyboard focus (a visible page may sit behind another window).
pub fn focused() -> bool {
    web::focused()
}

/// Shows `unread` on the installed app's icon (cleared at 0), where the platform has a badge.
pub fn badge(unread: u64) {
    web::badge(unread.min(u64::from(u32::MAX)) as u32);
}

/// A message for the user arrived while the page is open, in a conversation
/// it does not show: a chime, and a desktop notification when the page is in
/// the background, as far as the user's level and mutes let it through
/// (quiet hours are for pushes: the user at the page sees it anyway).
pub struct Incoming<'a> {
    pub me: &'a UserId,
    pub conversation: &'a ConversationId,
    pub mentions: &'a [UserId],
    /// The conversation's level while the user has chosen none (the server's
    /// default: mentions only in large groups).
    pub default_level: NotifyLevel,
    /// The notification's title and text.
    pub title: &'a str,
    pub body: &'a str,
    /// Whether the page is on screen and focused.
    pub in_view: bool,
}

impl Incoming<'_> {
    /// Whether `settings` let this message through at `now`: a mute and the level hold it back.
    pub fn allowed(&self, settings: &NotifySettings, now: Millis) -> bool {
        let choice = settings.conversation(self.conversation);
        if choice.and_then(|c| c.muted_until_ms).is_some_and(|until| until > now) {
            return false;
        }
        let mention = self.mentions.iter().any(|u| u == self.me || u.0 == MENTION_ALL);
        match choice.and_then(|c| c.level).unwrap_or(self.default_level) {
            NotifyLevel::Nothing => false,
            NotifyLevel::Mentions => mention,
            NotifyLevel::All => true,
        }
    }

    pub fn alert(&self) {
        if sound_on() {
            web::chime();
        }
        if !self.in_view && may_notify() {
            let url = format!("/chats/{}", self.conversation.0);
            web::show(self.title, self.body, &format!("conversation:{}", self.conversation.0), &url);
        }
    }
}

#[cfg(feature = "hydrate")]
mod web {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(inline_js = r#"
const has = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
export function permission() { return has() ? Notification.permission : 'unsupported'; }
export async function askPermission() {
  if (!('Notification' in window)) return 'unsupported';
  try { return await Notification.requestPermission(); } catch (e) { return 'denied'; }
}
const within = (ms, p) => Promise.race([p, new Promise((_, no) => setTimeout(() => no(new Error('timeout')), ms))]);
const bytes = (key) => Uint8Array.from(atob(key.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
// A browser that does not say which key a subscription has is taken at its word.
const same = (a, b) => !a || (a.byteLength === b.byteLength && new Uint8Array(a).every((x, i) => x === b[i]));
export async function subscribe(key, ms) {
  try {
    // The page registers the worker at load; should that have failed, now.
    if (!(await navigator.serviceWorker.getRegistration())) await navigator.serviceWorker.register('/sw.js');
    const reg = await within(ms, navigator.serviceWorker.ready);
    let sub = await reg.pushManager.getSubscription();
    // A subscription made with another server key (the key changed) cannot be used.
    if (sub && !same(sub.options.applicationServerKey, bytes(key))) { await sub.unsubscribe(); sub = null; }
    const options = { userVisibleOnly: true, applicationServerKey: bytes(key) };
    if (!sub) sub = await within(ms, reg.pushManager.subscribe(options));
    return JSON.stringify(sub.toJSON());
  } catch (e) { return null; }
}
export async function unsubscribe() {
  try {
    const reg = await navigator.serviceWorker.getRegistration();
    const sub = reg && await reg.pushManager.getSubscription();
    if (sub) await sub.unsubscribe();
  } catch (e) {}
}
export async function subscribed() {
  try {
    const reg = has() && await navigator.serviceWorker.getRegistration();
    return !!(reg && await reg.pushManager.getSubscription());
  } catch (e) { return false; }
}
export function focused() { return document.hasFocus(); }
export function utcOffset() { return -new Date().getTimezoneOffset(); }
export function badge(n) {
  if (!('setAppBadge' in navigator)) return;
  (n > 0 ? navigator.setAppBadge(n) : navigator.clearAppBadge()).catch(() => {});
}
let audio = null;
export function chime() {
  try {
    audio = audio || new AudioContext();
    const t = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(1320, t + 0.09);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.32);
  } catch (e) {}
}
export function show(title, body, tag, url) {
  try {
    const n = new Notification(title, { body, tag, renotify: true, icon: '/icons/icon-192.png' });
    n.onclick = () => {
      window.focus();
      n.close();
      // The router follows history: open the chat without reloading the app.
      if (location.pathname !== url) { history.pushState(null, '', url); dispatchEvent(new PopStateEvent('popstate')); }
    };
  } catch (e) {}
}
"#)]
    extern "C" {
        pub fn permission() -> String;
        #[wasm_bindgen(js_name = askPermission)]
        async fn ask_permission_js() -> JsValue;
        #[wasm_bindgen(js_name = subscribe)]
        async fn subscribe_js(key: &str, ms: u32) -> JsValue;
        #[wasm_bindgen(js_name = unsubscribe)]
        async fn unsubscribe_js() -> JsValue;
        #[wasm_bindgen(js_name = subscribed)]
        async fn subscribed_js() -> JsValue;
        pub fn focused() -> bool;
        #[wasm_bindgen(js_name = utcOffset)]
        pub fn utc_offset_minutes() -> i16;
        pub fn badge(n: u32);
        pub fn chime();
        pub fn show(title: &str, body: &str, tag: &str, url: &str);
    }

    pub async fn ask_permission() -> String {
        ask_permission_js().await.as_string().unwrap_or_default()
    }

    pub async fn subscribe(key: &str, ms: u32) -> Option<String> {
        subscribe_js(key, ms).await.as_string()
    }

    pub async fn unsubscribe() {
        unsubscribe_js().await;
    }

    pub async fn subscribed() -> bool {
        subscribed_js().await.as_bool().unwrap_or(false)
    }
}

#[cfg(not(feature = "hydrate"))]
mod web {
    pub fn permission() -> String {
        "unsupported".into()
    }
    pub async fn ask_permission() -> String {
        permission()
    }
    pub async fn subscribe(_: &str, _: u32) -> Option<String> {
        None
    }
    pub async fn unsubscribe() {}
    pub async fn subscribed() -> bool {
        false
    }
    pub fn focused() -> bool {
        true
    }
    pub fn utc_offset_minutes() -> i16 {
        0
    }
    pub fn badge(_: u32) {}
    pub fn chime() {}
    pub fn show(_: &str, _: &str, _: &str, _: &str) {}
}

#[cfg(test)]
mod tests {
    use wire::push::{ConversationNotify, MUTED_FOREVER};

    use super::*;

    #[test]
    fn the_page_keeps_to_levels_and_mutes() {
        let (me, room) = (UserId("me".into()), ConversationId("g".into()));
        let mention = [me.clone()];
        let incoming = |mentions| Incoming {
            me: &me,
            conversation: &room,
            mentions,
            default_level: NotifyLevel::All,
            title: "",
            body: "",
            in_view: false,
        };
        let choose = |level, muted_until_ms| NotifySettings {
            conversations: vec![ConversationNotify { conversation_id: room.clone(), level, muted_until_ms }],
            ..NotifySettings::default()
        };
        let mentions_only = choose(Some(NotifyLevel::Mentions), None);
        assert!(!incoming(&[]).allowed(&mentions_only, 0));
        assert!(incoming(&mention).allowed(&mentions_only, 0));
        assert!(!incoming(&mention).allowed(&choose(None, Some(MUTED_FOREVER)), 0));
        assert!(incoming(&[]).allowed(&NotifySettings::default(), 0));
        // A large group's default is mentions only; a choice of all overrides it.
        let large = |mentions| Incoming { default_level: NotifyLevel::Mentions, ..incoming(mentions) };
        assert!(!large(&[]).allowed(&NotifySettings::default(), 0));
        assert!(large(&mention).allowed(&NotifySettings::default(), 0));
        assert!(large(&[]).allowed(&choose(Some(NotifyLevel::All), None), 0));
    }
}
