//! The browser's side of a room (group call or live broadcast): the camera,
//! microphone or screen, one `RTCPeerConnection` to the server's forwarding
//! unit, and the negotiation over the chat websocket (see `wire::room`).
//! The server build links the inert stand-in, like [`crate::recorder`].

use wire::room::RoomLeftReason;

#[cfg(feature = "hydrate")]
pub use browser::{show, RoomSession};
#[cfg(not(feature = "hydrate"))]
pub use inert::{show, RoomSession};

/// What the client sends of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// Nothing: a viewer.
    Nothing,
    Microphone,
    CameraAndMicrophone,
    ScreenAndMicrophone,
}

/// Where a session stands.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))] // only a browser session moves
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Joining,
    In,
    /// Out of the room; `None` when the user left.
    Out(Option<RoomLeftReason>),
    /// Refused or failed, with the text to show.
    Failed(crate::i18n::Msg),
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::{cell::RefCell, collections::VecDeque, rc::Rc};

    use js_sys::{Array, Object, Reflect};
    use leptos::{prelude::*, task::spawn_local};
    use wasm_bindgen::{closure::Closure, JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        MediaStream, MediaStreamConstraints, MediaStreamTrack, RtcPeerConnection, RtcPeerConnectionState, RtcRtpTransceiverDirection,
        RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
    };

    use super::{Capture, Phase};
    use wire::{
        model::ConversationId,
        protocol::{ClientFrame, ServerFrame},
        room::{RoomKind, RoomRole},
    };
    use crate::{chat::Live, i18n::Msg};

    /// One client in one room; cheap to clone (all clones are the one session).
    #[derive(Clone)]
    pub struct RoomSession(Rc<Inner>);

    struct Inner {
        live: Live,
        conversation: ConversationId,
        kind: RoomKind,
        pc: RtcPeerConnection,
        local: Option<MediaStream>,
        /// Streams from the others, by stream id (the sender's user id).
        remote: RwSignal<Vec<(String, MediaStream)>, LocalStorage>,
        phase: RwSignal<Phase>,
        /// Frames wait here so that each negotiation step ends before the next.
        queue: RefCell<VecDeque<ServerFrame>>,
        busy: RefCell<bool>,
        _on_track: Closure<dyn FnMut(RtcTrackEvent)>,
        /// Set once the session exists: ends it when the media connection fails.
        on_state: RefCell<Option<Closure<dyn FnMut()>>>,
    }

    impl RoomSession {
        /// Opens the capture, offers it to the server and joins the room.
        pub async fn join(
            live: Live,
            conversation: ConversationId,
            kind: RoomKind,
            role: RoomRole,
            capture: Capture,
        ) -> Result<RoomSession, Msg> {
            let local = match capture {
                Capture::Nothing => None,
                other => Some(open_capture(other).await.map_err(|_| Msg::RoomNoDevice)?),
            };
            let pc = RtcPeerConnection::new().map_err(|_| Msg::RoomFailed)?;
            match &local {
                Some(stream) => {
                    let streams = Array::of1(stream);
                    for track in stream.get_tracks().iter() {
                        let init = RtcRtpTransceiverInit::new();
                        init.set_direction(RtcRtpTransceiverDirection::Sendonly);
                        init.set_streams(&streams);
                        pc.add_transceiver_with_media_stream_track_and_init(&track.unchecked_into(), &init);
                    }
                }
                // Something to offer: the media comes in the server's later offers.
                None => drop(pc.create_data_channel("natter")),
            }
            let remote = RwSignal::new_local(Vec::<(String, MediaStream)>::new());
            let on_track = Closure::<dyn FnMut(RtcTrackEvent)>::new(move |event: RtcTrackEvent| {
                let Some(stream) = event.streams().get(0).dyn_into::<MediaStream>().ok() else { return };
                let id = stream.id();
                remote.update(|r| {
                    r.retain(|(i, _)| *i != id);
                    r.push((id, stream));
                });
            });
            pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
            let offer = JsFuture::from(pc.create_offer()).await.map_err(|_| Msg::RoomFailed)?;
            let sdp = sdp_of(&offer);
            set_description(&pc, RtcSdpType::Offer, &sdp, true).await?;
            let session = RoomSession(Rc::new(Inner {
                live,
                conversation: conversation.clone(),
                kind,
                pc,
                local,
                remote,
                phase: RwSignal::new(Phase::Joining),
                queue: RefCell::new(VecDeque::new()),
                busy: RefCell::new(false),
                _on_track: on_track,
                on_state: RefCell::new(None),
            }));
            // The server drops a client whose websocket closed, or whose media
            // went silent: the browser's connection then fails, and so does this.
            let watched = Rc::downgrade(&session.0);
            let on_state = Closure::<dyn FnMut()>::new(move || {
                let Some(inner) = watched.upgrade() else { return };
                if inner.pc.connection_state() == RtcPeerConnectionState::Failed {
                    RoomSession(inner).close(Phase::Failed(Msg::RoomFailed));
                }
            });
            session.0.pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
            session.0.on_state.replace(Some(on_state));
            let taker = session.clone();
            live.take_room_frames(Some(Rc::new(move |frame| taker.take(frame))));
            let video = capture == Capture::CameraAndMicrophone;
            if !live.send_room_frame(&ClientFrame::RoomJoin { conversation_id: conversation, kind, role, video, sdp }) {
                session.close(Phase::Failed(Msg::RoomFailed));
            }
            Ok(session)
        }

        pub fn kind(&self) -> RoomKind {
            self.0.kind
        }

        /// Where the session stands.
        pub fn phase(&self) -> RwSignal<Phase> {
            self.0.phase
        }

        /// The stream of `user` (reactive), or the client's own capture for `None`.
        pub fn stream_of(&self, user: Option<&str>) -> Option<MediaStream> {
            match user {
                None => self.0.local.clone(),
                Some(user) => self.0.remote.with(|r| r.iter().find(|(id, _)| id == user).map(|(_, s)| s.clone())),
            }
        }

        /// Turns the microphone (`audio`) or camera on or off.
        pub fn set_sending(&self, audio: bool, on: bool) {
            let Some(stream) = &self.0.local else { return };
            let tracks = if audio { stream.get_audio_tracks() } else { stream.get_video_tracks() };
            for track in tracks.iter() {
                track.unchecked_into::<MediaStreamTrack>().set_enabled(on);
            }
        }

        /// Leaves the room (ends a broadcast) and closes everything.
        pub fn leave(&self) {
            if matches!(self.phase_untracked(), Phase::Joining | Phase::In) {
                let frame = ClientFrame::RoomLeave { conversation_id: self.0.conversation.clone(), kind: self.0.kind };
                self.0.live.send_room_frame(&frame);
            }
            self.close(Phase::Out(None));
        }

        fn phase_untracked(&self) -> Phase {
            self.0.phase.get_untracked()
        }

        fn close(&self, phase: Phase) {
            self.0.live.take_room_frames(None);
            self.0.pc.set_onconnectionstatechange(None);
            self.0.pc.close();
            if let Some(stream) = &self.0.local {
                for track in stream.get_tracks().iter() {
                    track.unchecked_into::<MediaStreamTrack>().stop();
                }
            }
            if matches!(self.phase_untracked(), Phase::Joining | Phase::In) {
                self.0.phase.set(phase);
            }
        }

        /// Queues a frame from the server; frames are handled one after another.
        fn take(&self, frame: ServerFrame) {
            self.0.queue.borrow_mut().push_back(frame);
            if self.0.busy.replace(true) {
                return;
            }
            let session = self.clone();
            spawn_local(async move {
                loop {
                    let next = session.0.queue.borrow_mut().pop_front();
                    let Some(frame) = next else { break };
                    if let Err(msg) = session.handle(frame).await {
                        session.close(Phase::Failed(msg));
                    }
                }
                session.0.busy.replace(false);
            });
        }

        async fn handle(&self, frame: ServerFrame) -> Result<(), Msg> {
            let mine = |c: &ConversationId, k: &RoomKind| *c == self.0.conversation && *k == self.0.kind;
            match frame {
                ServerFrame::RoomJoined { conversation_id, kind, sdp } if mine(&conversation_id, &kind) => {
                    set_description(&self.0.pc, RtcSdpType::Answer, &sdp, false).await?;
                    self.0.phase.set(Phase::In);
                }
                ServerFrame::RoomOffer { conversation_id, kind, sdp } if mine(&conversation_id, &kind) => {
                    set_description(&self.0.pc, RtcSdpType::Offer, &sdp, false).await?;
                    let answer = JsFuture::from(self.0.pc.create_answer()).await.map_err(|_| Msg::RoomFailed)?;
                    let sdp = sdp_of(&answer);
                    set_description(&self.0.pc, RtcSdpType::Answer, &sdp, true).await?;
                    self.0.live.send_room_frame(&ClientFrame::RoomAnswer { conversation_id, kind, sdp });
                }
                ServerFrame::RoomLeft { conversation_id, kind, reason } if mine(&conversation_id, &kind) => {
                    self.close(Phase::Out(Some(reason)));
                }
                // Refused while joining, or an answer to a renegotiation refused.
                ServerFrame::Error { code, .. } if self.phase_untracked() == Phase::Joining || code.is_room_error() => {
                    return Err(Msg::for_room_error(code));
                }
                _ => {}
            }
            Ok(())
        }
    }

    /// Shows a stream in a video element (or nothing).
    pub fn show(video: &web_sys::HtmlVideoElement, stream: Option<&MediaStream>) {
        video.set_src_object(stream);
    }

    fn sdp_of(description: &JsValue) -> String {
        Reflect::get(description, &"sdp".into()).ok().and_then(|v| v.as_string()).unwrap_or_default()
    }

    async fn set_description(pc: &RtcPeerConnection, kind: RtcSdpType, sdp: &str, local: bool) -> Result<(), Msg> {
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(sdp);
        let promise = if local { pc.set_local_description(&init) } else { pc.set_remote_description(&init) };
        JsFuture::from(promise).await.map(drop).map_err(|_| Msg::RoomFailed)
    }

    /// The microphone, with the camera (small: many tiles share a phone's
    /// uplink) or the screen.
    async fn open_capture(capture: Capture) -> Result<MediaStream, JsValue> {
        let devices = web_sys::window().ok_or(JsValue::NULL)?.navigator().media_devices()?;
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio(&JsValue::TRUE);
        if capture == Capture::CameraAndMicrophone {
            let video = Object::new();
            for (key, value) in [("width", 320), ("height", 240), ("frameRate", 15)] {
                Reflect::set(&video, &key.into(), &value.into())?;
            }
            constraints.set_video(&video);
        }
        let stream: MediaStream = JsFuture::from(devices.get_user_media_with_constraints(&constraints)?).await?.dyn_into()?;
        if capture == Capture::ScreenAndMicrophone {
            let screen: MediaStream = JsFuture::from(devices.get_display_media()?).await?.dyn_into()?;
            for track in screen.get_video_tracks().iter() {
                stream.add_track(&track.unchecked_into());
            }
        }
        Ok(stream)
    }
}

#[cfg(not(feature = "hydrate"))]
mod inert {
    use super::{Capture, Phase};
    use wire::{
        model::ConversationId,
        room::{RoomKind, RoomRole},
    };
    use crate::{chat::Live, i18n::Msg};

    /// Cannot exist outside the browser.
    #[derive(Clone)]
    pub enum RoomSession {}

    /// Stands for the browser's `MediaStream`.
    #[derive(Clone)]
    pub enum MediaStream {}

    impl RoomSession {
        pub async fn join(_: Live, _: ConversationId, _: RoomKind, _: RoomRole, _: Capture) -> Result<RoomSession, Msg> {
            Err(Msg::RoomFailed)
        }

        pub fn kind(&self) -> RoomKind {
            match *self {}
        }

        pub fn phase(&self) -> leptos::prelude::RwSignal<Phase> {
            match *self {}
        }

        pub fn stream_of(&self, _: Option<&str>) -> Option<MediaStream> {
            match *self {}
        }

        pub fn set_sending(&self, _: bool, _: bool) {
            match *self {}
        }

        pub fn leave(&self) {
            match *self {}
        }
    }

    pub fn show(_: &leptos::web_sys::HtmlVideoElement, _: Option<&MediaStream>) {}
}
