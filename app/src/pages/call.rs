//! 1:1 calls in the browser: the call desk (this tab's call, driven by the
//! websocket's call frames and the buttons), the incoming-call overlay and
//! the in-call view, both mounted once in the app so that a call rings on
//! any page, and how a call message shows in a conversation.
//!
//! The caller makes the WebRTC offer once the callee accepted, and restarts
//! ICE when the connection fails or drops; each side tells the other its
//! muted, camera-off and reconnecting state in a `state` signal.

use std::{rc::Rc, time::Duration};

use leptos::{html, prelude::*, task::spawn_local};
use wire::{
    api::PublicProfile,
    call::{CallEnd, CallId, CallInfo, CallMedia, PeerState, RtcConfig, Signal as CallSignal},
    endpoint,
    model::{CallOutcome, CallRecord, ConversationId, MessageKind, Millis},
    protocol::{ClientFrame, ServerFrame, WsErrorCode},
};

use super::{
    avatar::Avatar,
    call_media::{Media, MediaEvent, Tone},
    form::ToggleButton,
    icons::{Icon, Svg},
};
use crate::{
    chat::{use_live, CallFeed, Live},
    client,
    i18n::{use_i18n, Msg},
};

/// How long a call's ending shows before the overlay closes.
const NOTICE_MS: u64 = 4000;

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Idle,
    /// This tab calls; `call_id` once the server rang the callee.
    Outgoing { call_id: Option<CallId>, peer: PublicProfile, media: CallMedia },
    /// Someone calls; `accepting` once the user took it here.
    Incoming { call: CallInfo, accepting: bool },
    Active { call_id: CallId, peer: PublicProfile, media: CallMedia, caller: bool, answered_ms: Millis },
}

impl Phase {
    fn call_id(&self) -> Option<&CallId> {
        match self {
            Phase::Idle => None,
            Phase::Outgoing { call_id, .. } => call_id.as_ref(),
            Phase::Incoming { call, .. } => Some(&call.call_id),
            Phase::Active { call_id, .. } => Some(call_id),
        }
    }
}

/// This tab's call, provided as context by [`provide_call_desk`].
#[derive(Clone, Copy)]
pub struct CallDesk {
    phase: RwSignal<Phase>,
    mine: RwSignal<PeerState>,
    theirs: RwSignal<PeerState>,
    connected: RwSignal<bool>,
    notice: RwSignal<Option<Msg>>,
    cameras: RwSignal<usize>,
    /// Bumped when the media changes, so video elements pick it up.
    media_revision: RwSignal<u64>,
    media: StoredValue<Option<Rc<Media>>, LocalStorage>,
    tone: StoredValue<Option<Tone>, LocalStorage>,
    rtc: StoredValue<RtcConfig>,
    live: Live,
}

pub fn provide_call_desk() {
    let live = use_live();
    let desk = CallDesk {
        phase: RwSignal::new(Phase::Idle),
        mine: RwSignal::new(PeerState::default()),
        theirs: RwSignal::new(PeerState::default()),
        connected: RwSignal::new(false),
        notice: RwSignal::new(None),
        cameras: RwSignal::new(0),
        media_revision: RwSignal::new(0),
        media: StoredValue::new_local(None),
        tone: StoredValue::new_local(None),
        rtc: StoredValue::new(RtcConfig::default()),
        live,
    };
    live.on_call_frames(move |feed| match feed {
        CallFeed::Frame(frame) => desk.on_frame(frame),
        CallFeed::Reconnected => desk.rejoin(),
    });
    provide_context(desk);
}

pub fn use_call_desk() -> CallDesk {
    expect_context::<CallDesk>()
}

impl CallDesk {
    /// Whether this tab is free to call; reactive.
    pub fn idle(self) -> bool {
        self.phase.with(|p| *p == Phase::Idle)
    }

    fn send(self, frame: ClientFrame) {
        self.live.send_call(&frame);
    }

    fn signal(self, call_id: &CallId, signal: CallSignal) {
        self.send(ClientFrame::CallSignal { call_id: call_id.clone(), signal });
    }

    fn ring(self, tone: Option<Tone>) {
        self.tone.set_value(tone);
    }

    /// Opens the microphone (and camera) and fetches the ICE servers.
    async fn prepare(self, media: CallMedia) -> Result<(), Msg> {
        let opened = Media::open(media == CallMedia::Video).await.map_err(|()| Msg::CallNoMedia)?;
        self.media.set_value(Some(Rc::new(opened)));
        self.media_revision.update(|n| *n += 1);
        self.cameras.set(Media::camera_count().await);
        let config = client::get::<RtcConfig>(endpoint::RTC_CONFIG).await.map_err(|_| Msg::CallFailed)?;
        self.rtc.set_value(config);
        Ok(())
    }

    /// Calls the other member of a private chat.
    pub fn call(self, conversation_id: ConversationId, peer: PublicProfile, media: CallMedia) {
        if !self.idle() {
            return;
        }
        self.notice.set(None);
        let callee_id = peer.id.clone();
        self.phase.set(Phase::Outgoing { call_id: None, peer, media });
        spawn_local(async move {
            let prepared = self.prepare(media).await;
            if !self.phase.with_untracked(|p| matches!(p, Phase::Outgoing { call_id: None, .. })) {
                return self.media.set_value(None); // cancelled meanwhile
            }
            match prepared {
                Ok(()) => self.send(ClientFrame::CallInvite { conversation_id, callee_id, media }),
                Err(why) => self.finish(Some(why)),
            }
        });
    }

    pub fn accept(self) {
        let Phase::Incoming { call, accepting: false } = self.phase.get_untracked() else { return };
        self.ring(None);
        self.phase.set(Phase::Incoming { call: call.clone(), accepting: true });
        spawn_local(async move {
            let prepared = self.prepare(call.media).await;
            if self.phase.with_untracked(|p| p.call_id() != Some(&call.call_id)) {
                return self.media.set_value(None); // the call ended meanwhile
            }
            match prepared {
                Ok(()) => self.send(ClientFrame::CallAccept { call_id: call.call_id }),
                Err(why) => {
                    self.send(ClientFrame::CallDecline { call_id: call.call_id });
                    self.finish(Some(why));
                }
            }
        });
    }

    pub fn decline(self) {
        if let Phase::Incoming { call, .. } = self.phase.get_untracked() {
            self.send(ClientFrame::CallDecline { call_id: call.call_id });
            self.finish(None);
        }
    }

    /// Cancels a call that rings, or hangs up.
    pub fn hang_up(self) {
        if let Some(call_id) = self.phase.with_untracked(|p| p.call_id().cloned()) {
            self.send(ClientFrame::CallHangup { call_id });
        }
        self.finish(None);
    }

    /// Back to idle: media off, tones off, `notice` shown for a while.
    fn finish(self, notice: Option<Msg>) {
        self.media.set_value(None);
        self.ring(None);
        self.phase.set(Phase::Idle);
        self.mine.set(PeerState::default());
        self.theirs.set(PeerState::default());
        self.connected.set(false);
        self.notice.set(notice);
        if notice.is_some() {
            set_timeout(move || self.notice.set(None), Duration::from_millis(NOTICE_MS));
        }
    }

    fn set_mine(self, change: impl FnOnce(&mut PeerState)) {
        self.mine.update(change);
        let state = self.mine.get_untracked();
        if let Some(media) = self.media.get_value() {
            media.set_muted(state.muted);
            media.set_camera_off(state.camera_off);
        }
        if let Phase::Active { call_id, .. } = self.phase.get_untracked() {
            self.signal(&call_id, CallSignal::State(state));
        }
    }

    pub fn toggle_mute(self) {
        self.set_mine(|s| s.muted = !s.muted);
    }

    pub fn toggle_camera(self) {
        self.set_mine(|s| s.camera_off = !s.camera_off);
    }

    pub fn switch_camera(self) {
        if let Some(media) = self.media.get_value() {
            spawn_local(async move {
                if media.switch_camera().await.is_ok() {
                    self.media_revision.update(|n| *n += 1);
                }
            });
        }
    }

    /// On a new connection, takes this tab's side of its call back (the
    /// server ends the call if no tab does within its grace period).
    fn rejoin(self) {
        let call_id = self.phase.with_untracked(|p| match p {
            Phase::Outgoing { call_id: Some(id), .. } | Phase::Active { call_id: id, .. } => Some(id.clone()),
            _ => None,
        });
        if let Some(call_id) = call_id {
            self.send(ClientFrame::CallRejoin { call_id });
        }
    }

    fn on_frame(self, frame: ServerFrame) {
        let phase = self.phase.get_untracked();
        match frame {
            ServerFrame::CallRinging { call } => match phase {
                Phase::Outgoing { call_id: None, peer, media } => {
                    self.phase.set(Phase::Outgoing { call_id: Some(call.call_id), peer, media });
                    self.ring(Tone::ringback());
                }
                // Given up before the server rang: stop the ringing.
                _ => self.send(ClientFrame::CallHangup { call_id: call.call_id }),
            },
            ServerFrame::CallIncoming { call } if phase == Phase::Idle => {
                self.notice.set(None);
                self.phase.set(Phase::Incoming { call, accepting: false });
                self.ring(Tone::ring());
            }
            ServerFrame::CallAccepted { call_id } if phase.call_id() == Some(&call_id) => self.start(phase),
            ServerFrame::CallSignal { call_id, signal } if phase.call_id() == Some(&call_id) => self.on_signal(call_id, signal),
            ServerFrame::CallEnded { call_id, reason, .. } if phase.call_id() == Some(&call_id) => {
                let caller = matches!(phase, Phase::Outgoing { .. } | Phase::Active { caller: true, .. });
                let notice = match reason {
                    CallEnd::Declined if caller => Some(Msg::CallDeclined),
                    CallEnd::Missed if caller => Some(Msg::CallNoAnswer),
                    CallEnd::Missed => Some(Msg::CallMissed),
                    CallEnd::HungUp | CallEnd::Dropped => Some(Msg::CallEnded),
                    CallEnd::Declined | CallEnd::Cancelled | CallEnd::AnsweredElsewhere => None,
                };
                self.finish(notice);
            }
            ServerFrame::Error { code, .. } => match phase {
                Phase::Outgoing { .. } => {
                    self.finish(Some(match code {
                        WsErrorCode::Busy => Msg::CallBusy,
                        WsErrorCode::CallRateLimited => Msg::CallTooOften,
                        WsErrorCode::NotAccepting => Msg::CallNotAccepting,
                        _ => Msg::CallFailed,
                    }))
                }
                Phase::Incoming { accepting: true, .. } if code == WsErrorCode::NotInCall => self.finish(None),
                // A rejoin after the call ended while this tab was away.
                Phase::Active { .. } if code == WsErrorCode::NotInCall => self.finish(Some(Msg::CallEnded)),
                _ => leptos::logging::warn!("natter: a call request failed: {code:?}"),
            },
            _ => {}
        }
    }

    /// The call was answered: connect the media; the caller offers.
    fn start(self, phase: Phase) {
        self.ring(None);
        let (call_id, peer, media, caller) = match phase {
            Phase::Outgoing { call_id: Some(id), peer, media } => (id, peer, media, true),
            Phase::Incoming { call, accepting: true } => (call.call_id, call.caller, call.media, false),
            _ => return,
        };
        self.phase.set(Phase::Active { call_id: call_id.clone(), peer, media, caller, answered_ms: client::now_ms() });
        let Some(local) = self.media.get_value() else { return self.hang_up() };
        let id = call_id.clone();
        let connected = local.connect(&self.rtc.get_value(), move |event| self.on_media(&id, event));
        if connected.is_err() {
            return self.hang_up();
        }
        if caller {
            spawn_local(async move {
                match local.offer(false).await {
                    Ok(sdp) => self.signal(&call_id, CallSignal::Offer { sdp }),
                    Err(()) => self.hang_up(),
                }
            });
        }
    }

    fn on_signal(self, call_id: CallId, signal: CallSignal) {
        if let CallSignal::State(state) = signal {
            self.theirs.set(state);
            return;
        }
        let Some(media) = self.media.get_value() else { return };
        spawn_local(async move {
            match signal {
                CallSignal::Offer { sdp } => {
                    if let Ok(sdp) = media.answer(&sdp).await {
                        self.signal(&call_id, CallSignal::Answer { sdp });
                    }
                }
                CallSignal::Answer { sdp } => {
                    if media.take_answer(&sdp).await.is_ok() && media.connected() {
                        self.on_media(&call_id, MediaEvent::Connected);
                    }
                }
                CallSignal::Candidate { candidate, sdp_mid, sdp_m_line_index } => {
                    media.add_candidate(&candidate, sdp_mid.as_deref(), sdp_m_line_index).await;
                }
                CallSignal::State(_) => {}
            }
        });
    }

    fn on_media(self, call_id: &CallId, event: MediaEvent) {
        match event {
            MediaEvent::Candidate { candidate, sdp_mid, sdp_m_line_index } => {
                self.signal(call_id, CallSignal::Candidate { candidate, sdp_mid, sdp_m_line_index });
            }
            MediaEvent::Connected => {
                self.connected.set(true);
                if self.mine.get_untracked().reconnecting {
                    self.set_mine(|s| s.reconnecting = false);
                }
            }
            MediaEvent::Lost => {
                self.connected.set(false);
                if self.mine.get_untracked().reconnecting {
                    return;
                }
                self.set_mine(|s| s.reconnecting = true);
                // The caller restarts ICE; the callee answers the new offer.
                let caller = self.phase.with_untracked(|p| matches!(p, Phase::Active { caller: true, .. }));
                if let (true, Some(media)) = (caller, self.media.get_value()) {
                    let call_id = call_id.clone();
                    spawn_local(async move {
                        if let Ok(sdp) = media.offer(true).await {
                            self.signal(&call_id, CallSignal::Offer { sdp });
                        }
                    });
                }
            }
        }
    }
}

/// The voice and video call buttons of a private chat's header.
#[component]
pub fn CallButtons(conversation: ConversationId, peer: PublicProfile) -> impl IntoView {
    let i18n = use_i18n();
    let desk = use_call_desk();
    let button = move |media: CallMedia| {
        let (conversation, peer) = (conversation.clone(), peer.clone());
        let (label, icon, testid) = match media {
            CallMedia::Voice => (Msg::CallVoice, Icon::Phone, "call-voice"),
            CallMedia::Video => (Msg::CallVideo, Icon::Video, "call-video"),
        };
        view! {
            <button
                type="button"
                class="icon-button"
                data-testid=testid
                title=i18n.tr(label)
                aria-label=i18n.tr(label)
                disabled=move || !desk.idle()
                on:click=move |_| desk.call(conversation.clone(), peer.clone(), media)
            >
                <Svg icon/>
            </button>
        }
    };
    view! { {button(CallMedia::Voice)} {button(CallMedia::Video)} }
}

/// Whatever this tab's call shows: the incoming call, the outgoing one, the
/// call itself, or how it ended. Mounted once, above every page.
#[component]
pub fn CallOverlay() -> impl IntoView {
    let i18n = use_i18n();
    let desk = use_call_desk();
    move || match desk.phase.get() {
        Phase::Idle => desk.notice.get().map(|notice| {
            view! { <div class="call-notice" role="status" data-testid="call-notice">{i18n.tr(notice)}</div> }.into_any()
        }),
        Phase::Active { peer, media, answered_ms, .. } => Some(Suspend::new(in_call(peer, media, answered_ms)).into_any()),
        ringing => Some(Suspend::new(call_ringing(ringing)).into_any()),
    }
}

/// An incoming or outgoing call that rings, loaded with the first one (its
/// own wasm chunk with `--split`).
#[lazy]
fn call_ringing(phase: Phase) -> AnyView {
    let i18n = use_i18n();
    let desk = use_call_desk();
    match phase {
        Phase::Incoming { call, accepting } => {
            let what = if call.media == CallMedia::Video { Msg::CallIncomingVideo } else { Msg::CallIncomingVoice };
            let caller = call.caller;
            view! {
                <div class="call-overlay" role="alertdialog" aria-labelledby="call-who" data-testid="call-incoming">
                    <Avatar url=caller.avatar.clone() name=caller.nickname.clone() large=true seed=caller.id.to_string()/>
                    <p id="call-who" class="call-who" data-testid="call-caller">{caller.nickname.clone()}</p>
                    <p class="call-what">{move || i18n.t(if accepting { Msg::CallConnecting } else { what })}</p>
                    <div class="call-actions">
                        <button type="button" class="btn danger" data-testid="call-decline" on:click=move |_| desk.decline()>
                            {i18n.tr(Msg::CallDecline)}
                        </button>
                        <button
                            type="button"
                            class="btn"
                            data-testid="call-accept"
                            disabled=accepting
                            on:click=move |_| desk.accept()
                        >
                            {i18n.tr(Msg::CallAccept)}
                        </button>
                    </div>
                </div>
            }
            .into_any()
        }
        Phase::Outgoing { peer, .. } => view! {
            <div class="call-overlay" role="dialog" aria-labelledby="call-who" data-testid="call-outgoing">
                <Avatar url=peer.avatar.clone() name=peer.nickname.clone() large=true seed=peer.id.to_string()/>
                <p id="call-who" class="call-who">{peer.nickname.clone()}</p>
                <p class="call-what">{i18n.tr(Msg::CallCalling)}</p>
                <div class="call-actions">
                    <button type="button" class="btn danger" data-testid="call-cancel" on:click=move |_| desk.hang_up()>
                        {i18n.tr(Msg::CallCancel)}
                    </button>
                </div>
            </div>
        }
        .into_any(),
        Phase::Idle | Phase::Active { .. } => ().into_any(),
    }
}

/// The call's view, loaded with the first call answered (its own wasm chunk
/// with `--split`).
#[lazy]
fn in_call(peer: PublicProfile, media: CallMedia, answered_ms: Millis) -> AnyView {
    view! { <InCall peer media answered_ms/> }.into_any()
}

/// The call itself: the other side's picture (or avatar), this side's
/// preview, the timer, the other side's state and the controls.
#[component]
fn InCall(peer: PublicProfile, media: CallMedia, answered_ms: Millis) -> impl IntoView {
    let i18n = use_i18n();
    let desk = use_call_desk();
    let remote = NodeRef::<html::Video>::new();
    let local = NodeRef::<html::Video>::new();
    Effect::new(move || {
        desk.media_revision.track();
        if let (Some(media), Some(remote), Some(local)) = (desk.media.get_value(), remote.get(), local.get()) {
            media.show_remote(&remote);
            media.show_local(&local);
        }
    });
    let now = RwSignal::new(client::now_ms());
    if let Ok(timer) = set_interval_with_handle(move || now.set(client::now_ms()), Duration::from_secs(1)) {
        on_cleanup(move || timer.clear());
    }
    let video = media == CallMedia::Video;
    let theirs = desk.theirs;
    let mine = desk.mine;
    let face_hidden = move || !video || theirs.get().camera_off;
    let several_cameras = move || video && desk.cameras.get() > 1;
    let face = peer.clone();
    view! {
        <div class="call-view" role="dialog" aria-labelledby="call-who" data-testid="call-view" class:voice=!video>
            <video node_ref=remote class="call-remote" data-testid="call-remote" autoplay playsinline class:hidden=face_hidden></video>
            <Show when=face_hidden>
                <div class="call-face">
                    <Avatar url=face.avatar.clone() name=face.nickname.clone() large=true/>
                </div>
            </Show>
            <video
                node_ref=local
                class="call-local"
                data-testid="call-local"
                autoplay
                playsinline
                prop:muted=true
                class:hidden=move || !video || mine.get().camera_off
            ></video>
            <div class="call-top">
                <p id="call-who" class="call-who">{peer.nickname.clone()}</p>
                <p class="call-timer" data-testid="call-timer">
                    {move || if desk.connected.get() { duration_text((now.get() - answered_ms).max(0) as u64) } else { i18n.t(Msg::CallConnecting).to_owned() }}
                </p>
                <p class="call-peer-state" data-testid="peer-state" aria-live="polite">
                    {move || {
                        let s = theirs.get();
                        [(s.reconnecting, Msg::CallReconnecting), (s.muted, Msg::CallPeerMuted), (s.camera_off && video, Msg::CallPeerCameraOff)]
                            .into_iter()
                            .filter(|(on, _)| *on)
                            .map(|(_, msg)| i18n.t(msg))
                            .collect::<Vec<_>>()
                            .join(" · ")
                    }}
                </p>
            </div>
            <div class="call-actions">
                <ToggleButton
                    testid="call-mute"
                    pressed=Signal::derive(move || mine.get().muted)
                    labels=(Msg::Mute, Msg::Unmute)
                    on_click=move || desk.toggle_mute()
                />
                <Show when=move || video>
                    <ToggleButton
                        testid="call-camera"
                        pressed=Signal::derive(move || mine.get().camera_off)
                        labels=(Msg::CameraOff, Msg::CameraOn)
                        on_click=move || desk.toggle_camera()
                    />
                </Show>
                <Show when=several_cameras>
                    <button type="button" class="btn secondary" data-testid="call-switch" on:click=move |_| desk.switch_camera()>
                        {i18n.tr(Msg::CallSwitchCamera)}
                    </button>
                </Show>
                <button type="button" class="btn danger" data-testid="call-hangup" on:click=move |_| desk.hang_up()>
                    {i18n.tr(Msg::CallHangUp)}
                </button>
            </div>
        </div>
    }
}

/// `m:ss`, or `h:mm:ss` from an hour on.
fn duration_text(ms: u64) -> String {
    let s = ms / 1000;
    match s / 3600 {
        0 => format!("{}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
    }
}

/// How a call or broadcast message shows: its icon, then the outcome or
/// how long it lasted. A call the user missed stands out.
#[component]
pub fn CallRecordLine(kind: MessageKind, record: CallRecord, mine: bool) -> impl IntoView {
    let i18n = use_i18n();
    let icon = match kind {
        MessageKind::VideoCall => "🎥",
        MessageKind::LiveStream => "📡",
        _ => "📞",
    };
    let label = Msg::for_kind(kind).unwrap_or(Msg::KindVoiceCall);
    let outcome = match record.outcome {
        CallOutcome::Missed if mine => Some(Msg::CallNoAnswer),
        CallOutcome::Missed => Some(Msg::CallMissed),
        CallOutcome::Declined => Some(Msg::CallDeclined),
        CallOutcome::Cancelled => Some(Msg::CallCancelled),
        CallOutcome::Busy if mine => Some(Msg::CallBusy),
        CallOutcome::Busy => Some(Msg::CallMissed),
        CallOutcome::Ended => None,
    };
    let missed = !mine && matches!(record.outcome, CallOutcome::Missed | CallOutcome::Busy);
    let duration = record.duration_ms.map(duration_text);
    view! {
        <p class="call-record" class:missed=missed data-testid="call-record" data-outcome=format!("{:?}", record.outcome).to_ascii_lowercase()>
            <span aria-hidden="true">{icon}</span>
            " "
            {move || i18n.t(label).trim_matches(['[', ']']).to_owned()}
            " · "
            {move || match (outcome, duration.clone()) {
                (Some(msg), _) => i18n.t(msg).to_owned(),
                (None, Some(d)) => d,
                (None, None) => i18n.t(Msg::CallEnded).to_owned(),
            }}
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::duration_text;

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(duration_text(0), "0:00");
        assert_eq!(duration_text(61_500), "1:01");
        assert_eq!(duration_text(3_723_000), "1:02:03");
    }
}
