//! Group calls and live broadcasts in a group chat: the buttons that start
//! them, the banners of rooms in progress (in the chat and the chat list),
//! and the stage: the call's grid of tiles or the broadcast's viewer.

use leptos::{prelude::*, task::spawn_local};
use wire::{
    model::{ConversationId, UserId},
    room::{RoomKind, RoomLeftReason, RoomRole, RoomState},
};

use super::{
    avatar::Avatar,
    form::ToggleButton,
    icons::{Icon, Svg},
    room_media::{show, Capture, Phase, RoomSession},
};
use crate::{
    chat::{use_live, Live},
    i18n::{use_i18n, Msg},
};

/// The room session this page has open, if any.
pub type OpenRoom = RwSignal<Option<RoomSession>, LocalStorage>;

/// "Call in progress · 3" or "Live now · 12 watching", for the chat list.
#[component]
pub fn RoomBadges(conversation: ConversationId) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let call = {
        let conversation = conversation.clone();
        move || live.room(&conversation, RoomKind::Call)
    };
    let broadcast = move || live.room(&conversation, RoomKind::Live);
    view! {
        {move || call().map(|s| view! { <span class="room-badge call" data-testid="call-badge">{call_text(i18n.t(Msg::CallInProgress), &s)}</span> })}
        {move || {
            broadcast().map(|s| view! { <span class="room-badge live" data-testid="live-badge">{live_text(i18n, &s)}</span> })
        }}
    }
}

fn call_text(label: &str, state: &RoomState) -> String {
    format!("{label} · {}", state.participants.len())
}

fn live_text(i18n: crate::i18n::I18n, state: &RoomState) -> String {
    format!("{} · {} {}", i18n.t(Msg::LiveNow), state.viewers, i18n.t(Msg::Watching))
}

/// Starting a room in one group: the title bar's call buttons and its menu's
/// go-live items; the [`RoomBar`] below says when starting failed.
#[derive(Clone, Copy)]
pub struct RoomStarter {
    live: Live,
    conversation: StoredValue<ConversationId>,
    open: OpenRoom,
    error: RwSignal<Option<Msg>>,
}

impl RoomStarter {
    pub fn new(conversation: ConversationId, open: OpenRoom) -> RoomStarter {
        let conversation = StoredValue::new(conversation);
        RoomStarter { live: use_live(), conversation, open, error: RwSignal::new(None) }
    }

    fn start(self, kind: RoomKind, role: RoomRole, capture: Capture) {
        let RoomStarter { live, open, error, .. } = self;
        let conversation = self.conversation.get_value();
        error.set(None);
        spawn_local(async move {
            match join_room(live, conversation, kind, role, capture).await {
                Ok(session) => open.set(Some(session)),
                Err(msg) => error.set(Some(msg)),
            }
        });
    }

    /// Whether a room of `kind` runs here (its banner offers to join) or this page has one open.
    fn busy(self, kind: RoomKind) -> bool {
        self.open.with(Option::is_some) || self.conversation.with_value(|c| self.live.room(c, kind)).is_some()
    }

    /// Starts a group call with the microphone, or with the camera too.
    pub fn call_button(self, video: bool) -> impl IntoView {
        let i18n = use_i18n();
        let (testid, label, icon, capture) = match video {
            false => ("start-voice-call", Msg::StartVoiceCall, Icon::Phone, Capture::Microphone),
            true => ("start-video-call", Msg::StartVideoCall, Icon::Video, Capture::CameraAndMicrophone),
        };
        view! {
            <button
                type="button"
                class="icon-button"
                data-testid=testid
                aria-label=i18n.tr(label)
                title=i18n.tr(label)
                disabled=move || self.busy(RoomKind::Call)
                on:click=move |_| self.start(RoomKind::Call, RoomRole::Participant, capture)
            >
                <Svg icon/>
            </button>
        }
    }

    /// Goes live with the camera, or sharing the screen: an item of the title bar's menu.
    pub fn live_item(self, screen: bool) -> impl IntoView {
        let i18n = use_i18n();
        let (testid, label, icon, capture) = match screen {
            false => ("go-live", Msg::GoLiveCamera, Icon::Live, Capture::CameraAndMicrophone),
            true => ("go-live-screen", Msg::GoLiveScreen, Icon::Screen, Capture::ScreenAndMicrophone),
        };
        view! {
            <button
                type="button"
                class="menu-item"
                data-testid=testid
                disabled=move || self.busy(RoomKind::Live)
                on:click=move |_| self.start(RoomKind::Live, RoomRole::Broadcaster, capture)
            >
                <Svg icon/>
                {i18n.tr(label)}
            </button>
        }
    }
}

/// Under a group's title bar: the call or broadcast in progress with the
/// button to join or watch it, and why starting one failed.
#[component]
pub fn RoomBar(starter: RoomStarter) -> impl IntoView {
    let i18n = use_i18n();
    let RoomStarter { live, conversation, open, error } = starter;
    let call = move || conversation.with_value(|c| live.room(c, RoomKind::Call));
    let broadcast = move || conversation.with_value(|c| live.room(c, RoomKind::Live));
    let button = move |testid: &'static str, label: Msg, (kind, role, capture): (RoomKind, RoomRole, Capture)| {
        view! {
            <button
                type="button"
                class="btn small"
                data-testid=testid
                on:click=move |_| starter.start(kind, role, capture)
            >
                {i18n.t(label)}
            </button>
        }
    };
    let quiet = move || call().is_none() && broadcast().is_none() && error.with(Option::is_none);
    view! {
        <div class="room-bar" hidden=move || open.with(Option::is_some) || quiet()>
            {move || call().map(|state| {
                let capture = if state.video { Capture::CameraAndMicrophone } else { Capture::Microphone };
                view! {
                    <span class="room-badge call" data-testid="call-banner">
                        {call_text(i18n.t(Msg::CallInProgress), &state)}
                    </span>
                    {button("join-call", Msg::JoinCall, (RoomKind::Call, RoomRole::Participant, capture))}
                }
            })}
            {move || broadcast().map(|state| view! {
                <span class="room-badge live" data-testid="live-banner">{live_text(i18n, &state)}</span>
                {button("watch-live", Msg::Watch, (RoomKind::Live, RoomRole::Viewer, Capture::Nothing))}
            })}
            {move || error.get().map(|msg| view! { <p class="form-error" role="alert">{i18n.t(msg)}</p> })}
        </div>
    }
}

/// The open room, loaded with the first room joined (its own wasm chunk with
/// `--split`, with the browser's WebRTC side), and shown while it is open.
#[lazy]
pub fn room_stage(conversation: ConversationId, open: OpenRoom) -> AnyView {
    view! { <RoomStage conversation open/> }.into_any()
}

/// Joins a room; its code arrives with the first join (see [`room_stage`]).
#[lazy]
async fn join_room(live: Live, conversation: ConversationId, kind: RoomKind, role: RoomRole, capture: Capture) -> Result<RoomSession, Msg> {
    RoomSession::join(live, conversation, kind, role, capture).await
}

/// The open room: a call's grid or a broadcast, with the controls.
#[component]
fn RoomStage(conversation: ConversationId, open: OpenRoom) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let me = Signal::derive(move || live.inbox(|i| i.me().clone()));
    let kind = Signal::derive(move || open.with(|s| s.as_ref().map(RoomSession::kind)));
    let phase = Signal::derive(move || open.with(|s| s.as_ref().map(|s| s.phase().get())));
    let state = Signal::derive(move || kind.get().and_then(|k| live.room(&conversation, k)));
    let leave = move || {
        let _ = open.try_with_untracked(|s| s.as_ref().map(RoomSession::leave));
        let _ = open.try_set(None);
    };
    // Leaving the conversation's page leaves its room.
    on_cleanup(leave);
    let (muted, camera_off) = (RwSignal::new(false), RwSignal::new(false));
    let toggle = move |audio: bool| {
        let flag = if audio { muted } else { camera_off };
        flag.update(|f| *f = !*f);
        open.with_untracked(|s| s.as_ref().map(|s| s.set_sending(audio, !flag.get_untracked())));
    };
    let status = move || {
        let msg = match phase.get()? {
            Phase::Joining => Msg::RoomConnecting,
            Phase::In | Phase::Out(None) => return None,
            Phase::Failed(msg) => msg,
            Phase::Out(Some(RoomLeftReason::Ended)) => Msg::RoomEnded,
            Phase::Out(Some(RoomLeftReason::Removed)) => Msg::RoomRemoved,
            Phase::Out(Some(RoomLeftReason::Elsewhere)) => Msg::RoomElsewhere,
            Phase::Out(Some(_)) => Msg::RoomFailed,
        };
        Some(view! { <p class="room-status" data-testid="room-status" role="status">{i18n.t(msg)}</p> })
    };
    let over = move || matches!(phase.get(), Some(Phase::Out(_) | Phase::Failed(_)));
    let broadcaster = Signal::derive(move || state.get().and_then(|s| s.participants.first().map(|p| p.user_id.clone())));
    let sends = Signal::derive(move || kind.get() == Some(RoomKind::Call) || broadcaster.get() == Some(me.get()));
    // A voice call sends no camera to turn off.
    let voice = Signal::derive(move || kind.get() == Some(RoomKind::Call) && state.get().is_some_and(|s| !s.video));
    // Redrawn when the kind of room or its broadcaster changes, not on every count.
    let shape = Memo::new(move |_| (kind.get(), broadcaster.get(), me.get()));
    let viewers = move || {
        let count = state.get().map_or(0, |s| s.viewers);
        format!("{} · {count} {}", i18n.t(Msg::LiveNow), i18n.t(Msg::Watching))
    };
    let body = move || match shape.get() {
        (Some(RoomKind::Call), _, me) => view! { <CallGrid open state me/> }.into_any(),
        (Some(RoomKind::Live), on_air, me) => {
            let mine = on_air.as_ref() == Some(&me);
            let user = if mine { None } else { on_air.map(|u| u.0) };
            view! {
                <div class="room-viewer">
                    <StreamVideo open user muted=mine/>
                    <span class="room-badge live" data-testid="viewer-count">{viewers}</span>
                </div>
            }
                .into_any()
        }
        (None, ..) => ().into_any(),
    };
    view! {
        <section class="room-stage" data-testid="room-stage">
            {status}
            {body}
            <div class="room-controls">
                <Show when=move || sends.get() && !over()>
                    <ToggleButton testid="toggle-mute" pressed=muted labels=(Msg::Mute, Msg::Unmute) on_click=move || toggle(true) small=true/>
                    <Show when=move || !voice.get()>
                        <ToggleButton
                            testid="toggle-camera"
                            pressed=camera_off
                            labels=(Msg::CameraOff, Msg::CameraOn)
                            on_click=move || toggle(false)
                            small=true
                        />
                    </Show>
                </Show>
                <button type="button" class="btn danger small" data-testid="leave-room" on:click=move |_| leave()>
                    {move || {
                        let label = match (over(), kind.get()) {
                            (true, _) => Msg::Close,
                            (false, Some(RoomKind::Call)) => Msg::LeaveCall,
                            (false, _) if sends.get() => Msg::StopLive,
                            (false, _) => Msg::StopWatching,
                        };
                        i18n.t(label)
                    }}
                </button>
            </div>
        </section>
    }
}

/// A tile per participant, the speaking ones ringed; one's own tile shows
/// one's own camera. In a voice call tiles show avatars, and the (hidden)
/// video elements only play the sound.
#[component]
fn CallGrid(open: OpenRoom, state: Signal<Option<RoomState>>, me: UserId) -> impl IntoView {
    let live = use_live();
    let i18n = use_i18n();
    let people = move || state.get().map(|s| s.participants).unwrap_or_default();
    Effect::new(move |_| live.want_profiles(people().into_iter().map(|p| p.user_id)));
    view! {
        <ul class="room-grid" data-testid="room-grid">
            <For each=people key=|p| p.user_id.clone() let:person>
                <Tile open live i18n user=person.user_id me=me.clone() state/>
            </For>
        </ul>
    }
}

#[component]
fn Tile(
    open: OpenRoom,
    live: Live,
    i18n: crate::i18n::I18n,
    user: UserId,
    me: UserId,
    state: Signal<Option<RoomState>>,
) -> impl IntoView {
    let mine = user == me;
    let speaking = {
        let user = user.clone();
        move || state.get().is_some_and(|s| s.participants.iter().any(|p| p.user_id == user && p.speaking))
    };
    let speaking_now = speaking.clone();
    let profile = {
        let user = user.clone();
        Memo::new(move |_| live.profile(&user))
    };
    let name = Signal::derive(move || profile.get().map(|p| p.nickname).unwrap_or_default());
    let picture = Signal::derive(move || profile.get().and_then(|p| p.avatar));
    let voice = move || state.get().is_some_and(|s| !s.video);
    let stream = (!mine).then(|| user.0.clone());
    view! {
        <li class="room-tile" class:speaking=speaking class:voice=voice data-testid="room-tile" data-user-id=user.0.clone()>
            <StreamVideo open user=stream muted=mine/>
            <Show when=voice>
                <div class="room-tile-face">
                    <Avatar url=picture name/>
                </div>
            </Show>
            <span class="room-tile-name">
                {name}
                <span class="visually-hidden" hidden=move || !speaking_now()>" " {i18n.tr(Msg::RoomSpeaking)}</span>
            </span>
        </li>
    }
}

/// A video element showing a participant's stream (`user`), or one's own capture.
#[component]
fn StreamVideo(open: OpenRoom, user: Option<String>, muted: bool) -> impl IntoView {
    let video = NodeRef::<leptos::html::Video>::new();
    Effect::new(move |_| {
        let stream = open.with(|s| s.as_ref().and_then(|s| s.stream_of(user.as_deref())));
        if let Some(element) = video.get() {
            show(&element, stream.as_ref());
        }
    });
    view! { <video node_ref=video autoplay playsinline prop:muted=muted data-testid="room-video"></video> }
}
