//! The browser side of a call's media: the microphone and camera, the
//! `RTCPeerConnection` to the other tab, and the tones that ring. Plain
//! `web-sys` glue, no JavaScript library. The server build links the inert
//! stand-ins, like [`crate::recorder`].

#[cfg(feature = "hydrate")]
pub use browser::{Media, Tone};
#[cfg(not(feature = "hydrate"))]
pub use inert::{Media, Tone};

/// What the peer connection tells the call desk.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))] // only the browser makes these
#[derive(Clone, Debug, PartialEq)]
pub enum MediaEvent {
    /// A local ICE candidate to send to the other side.
    Candidate { candidate: String, sdp_mid: Option<String>, sdp_m_line_index: Option<u16> },
    /// The media path to the other side works (again).
    Connected,
    /// It failed or dropped: the caller restarts ICE.
    Lost,
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};

    use wasm_bindgen::{closure::Closure, JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        AudioContext, HtmlMediaElement, MediaDeviceInfo, MediaDeviceKind, MediaStream, MediaStreamConstraints, MediaStreamTrack,
        MediaTrackConstraints, RtcConfiguration, RtcIceCandidateInit, RtcIceConnectionState, RtcIceServer, RtcOfferOptions,
        RtcPeerConnection, RtcPeerConnectionIceEvent, RtcRtpSender, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
    };

    use super::MediaEvent;
    use wire::call::RtcConfig;

    fn devices() -> Result<web_sys::MediaDevices, JsValue> {
        web_sys::window().ok_or(JsValue::NULL)?.navigator().media_devices()
    }

    async fn user_media(audio: bool, video: Option<&str>, wants_video: bool) -> Result<MediaStream, JsValue> {
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio(&JsValue::from_bool(audio));
        match video {
            Some(device) => {
                let track = MediaTrackConstraints::new();
                track.set_device_id_str(device);
                constraints.set_video(&track);
            }
            None => constraints.set_video(&JsValue::from_bool(wants_video)),
        }
        let stream = JsFuture::from(devices()?.get_user_media_with_constraints(&constraints)?).await?;
        Ok(stream.unchecked_into())
    }

    /// A call's media: the local stream, the remote one, and the peer connection once made.
    pub struct Media {
        local: MediaStream,
        remote: MediaStream,
        pc: RefCell<Option<RtcPeerConnection>>,
        /// Candidates that came before the remote description.
        early: RefCell<Vec<RtcIceCandidateInit>>,
        described: Cell<bool>,
        /// Which camera is in use, by index among the video inputs.
        camera: Cell<usize>,
        closures: RefCell<Vec<Box<dyn std::any::Any>>>,
    }

    impl Media {
        /// Asks for the microphone, and the camera for a video call.
        pub async fn open(video: bool) -> Result<Media, ()> {
            let local = user_media(true, None, video).await.map_err(drop)?;
            Ok(Media {
                local,
                remote: MediaStream::new().map_err(drop)?,
                pc: RefCell::new(None),
                early: RefCell::new(Vec::new()),
                described: Cell::new(false),
                camera: Cell::new(0),
                closures: RefCell::new(Vec::new()),
            })
        }

        /// Makes the peer connection with the local tracks; `on` hears its events.
        pub fn connect(&self, config: &RtcConfig, on: impl Fn(MediaEvent) + 'static) -> Result<(), ()> {
            let rtc = RtcConfiguration::new();
            let servers = js_sys::Array::new();
            for s in &config.ice_servers {
                let server = RtcIceServer::new();
                let urls = js_sys::Array::new();
                for url in &s.urls {
                    urls.push(&JsValue::from_str(url));
                }
                server.set_urls(&urls);
                if let (Some(user), Some(credential)) = (&s.username, &s.credential) {
                    server.set_username(user);
                    server.set_credential(credential);
                }
                servers.push(&server);
            }
            rtc.set_ice_servers(&servers);
            let pc = RtcPeerConnection::new_with_configuration(&rtc).map_err(drop)?;
            for track in self.local.get_tracks().iter() {
                pc.add_track_0(&track.unchecked_into(), &self.local);
            }
            let on = std::rc::Rc::new(on);
            let heard = on.clone();
            let on_candidate = Closure::<dyn Fn(RtcPeerConnectionIceEvent)>::new(move |ev: RtcPeerConnectionIceEvent| {
                if let Some(c) = ev.candidate().filter(|c| !c.candidate().is_empty()) {
                    heard(MediaEvent::Candidate { candidate: c.candidate(), sdp_mid: c.sdp_mid(), sdp_m_line_index: c.sdp_m_line_index() });
                }
            });
            pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
            let remote = self.remote.clone();
            let on_track = Closure::<dyn Fn(RtcTrackEvent)>::new(move |ev: RtcTrackEvent| remote.add_track(&ev.track()));
            pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
            let watched = pc.clone();
            let on_state = Closure::<dyn Fn()>::new(move || match watched.ice_connection_state() {
                RtcIceConnectionState::Connected | RtcIceConnectionState::Completed => on(MediaEvent::Connected),
                RtcIceConnectionState::Failed | RtcIceConnectionState::Disconnected => on(MediaEvent::Lost),
                _ => {}
            });
            pc.set_oniceconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
            self.closures.borrow_mut().extend([
                Box::new(on_candidate) as Box<dyn std::any::Any>,
                Box::new(on_track),
                Box::new(on_state),
            ]);
            *self.pc.borrow_mut() = Some(pc);
            Ok(())
        }

        fn pc(&self) -> Result<RtcPeerConnection, ()> {
            self.pc.borrow().clone().ok_or(())
        }

        async fn describe_local(&self, kind: RtcSdpType, made: js_sys::Promise) -> Result<String, ()> {
            let description = JsFuture::from(made).await.map_err(drop)?;
            let sdp = js_sys::Reflect::get(&description, &"sdp".into()).ok().and_then(|s| s.as_string()).ok_or(())?;
            let init = RtcSessionDescriptionInit::new(kind);
            init.set_sdp(&sdp);
            JsFuture::from(self.pc()?.set_local_description(&init)).await.map_err(drop)?;
            Ok(sdp)
        }

        async fn describe_remote(&self, kind: RtcSdpType, sdp: &str) -> Result<(), ()> {
            let pc = self.pc()?;
            let init = RtcSessionDescriptionInit::new(kind);
            init.set_sdp(sdp);
            JsFuture::from(pc.set_remote_description(&init)).await.map_err(drop)?;
            self.described.set(true);
            let early: Vec<_> = self.early.borrow_mut().drain(..).collect();
            for candidate in early {
                let _ = JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&candidate))).await;
            }
            Ok(())
        }

        /// An offer to send: the first, or an ICE restart.
        pub async fn offer(&self, restart: bool) -> Result<String, ()> {
            let options = RtcOfferOptions::new();
            options.set_ice_restart(restart);
            let made = self.pc()?.create_offer_with_rtc_offer_options(&options);
            self.describe_local(RtcSdpType::Offer, made).await
        }

        /// Takes the other side's offer; answers the answer to send.
        pub async fn answer(&self, offer: &str) -> Result<String, ()> {
            self.describe_remote(RtcSdpType::Offer, offer).await?;
            let made = self.pc()?.create_answer();
            self.describe_local(RtcSdpType::Answer, made).await
        }

        pub async fn take_answer(&self, answer: &str) -> Result<(), ()> {
            self.describe_remote(RtcSdpType::Answer, answer).await
        }

        /// Whether the media path works now. A restart that began while it
        /// still worked never changes the state, so no event says so.
        pub fn connected(&self) -> bool {
            self.pc().is_ok_and(|pc| {
                matches!(pc.ice_connection_state(), RtcIceConnectionState::Connected | RtcIceConnectionState::Completed)
            })
        }

        pub async fn add_candidate(&self, candidate: &str, sdp_mid: Option<&str>, sdp_m_line_index: Option<u16>) {
            let init = RtcIceCandidateInit::new(candidate);
            init.set_sdp_mid(sdp_mid);
            init.set_sdp_m_line_index(sdp_m_line_index);
            if !self.described.get() {
                self.early.borrow_mut().push(init);
                return;
            }
            if let Ok(pc) = self.pc() {
                let _ = JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init))).await;
            }
        }

        fn tracks(&self, video: bool) -> Vec<MediaStreamTrack> {
            let tracks = if video { self.local.get_video_tracks() } else { self.local.get_audio_tracks() };
            tracks.iter().map(|t| t.unchecked_into()).collect()
        }

        pub fn set_muted(&self, muted: bool) {
            self.tracks(false).iter().for_each(|t| t.set_enabled(!muted));
        }

        pub fn set_camera_off(&self, off: bool) {
            self.tracks(true).iter().for_each(|t| t.set_enabled(!off));
        }

        async fn cameras() -> Vec<String> {
            let Ok(promise) = devices().and_then(|d| d.enumerate_devices()) else { return Vec::new() };
            let Ok(list) = JsFuture::from(promise).await else { return Vec::new() };
            js_sys::Array::from(&list)
                .iter()
                .map(|d| d.unchecked_into::<MediaDeviceInfo>())
                .filter(|d| d.kind() == MediaDeviceKind::Videoinput)
                .map(|d| d.device_id())
                .collect()
        }

        /// How many cameras the browser lists.
        pub async fn camera_count() -> usize {
            Self::cameras().await.len()
        }

        /// Sends the next camera's picture instead.
        pub async fn switch_camera(&self) -> Result<(), ()> {
            let cameras = Self::cameras().await;
            if cameras.len() < 2 {
                return Err(());
            }
            let next = (self.camera.get() + 1) % cameras.len();
            let stream = user_media(false, Some(&cameras[next]), true).await.map_err(drop)?;
            let track: MediaStreamTrack = stream.get_video_tracks().get(0).unchecked_into();
            let senders = self.pc()?.get_senders();
            for sender in senders.iter().map(|s| s.unchecked_into::<RtcRtpSender>()) {
                if sender.track().is_some_and(|t| t.kind() == "video") {
                    JsFuture::from(sender.replace_track(Some(&track))).await.map_err(drop)?;
                }
            }
            for old in self.tracks(true) {
                old.stop();
                self.local.remove_track(&old);
            }
            self.local.add_track(&track);
            self.camera.set(next);
            Ok(())
        }

        pub fn show_local(&self, element: &HtmlMediaElement) {
            element.set_src_object(Some(&self.local));
        }

        pub fn show_remote(&self, element: &HtmlMediaElement) {
            element.set_src_object(Some(&self.remote));
        }
    }

    impl Drop for Media {
        /// Hangs up the connection and turns the microphone and camera off.
        fn drop(&mut self) {
            if let Some(pc) = self.pc.borrow_mut().take() {
                pc.set_onicecandidate(None);
                pc.set_ontrack(None);
                pc.set_oniceconnectionstatechange(None);
                pc.close();
            }
            for track in self.local.get_tracks().iter() {
                track.unchecked_into::<MediaStreamTrack>().stop();
            }
        }
    }

    /// A tone pattern playing until dropped (WebAudio, no sound file).
    pub struct Tone(AudioContext);

    impl Tone {
        /// What the caller hears while the other side rings: 1 s of 425 Hz every 4 s.
        pub fn ringback() -> Option<Tone> {
            Tone::play(425.0, 1.0, 4.0)
        }

        /// What the callee hears: a brighter double beat every 2 s.
        pub fn ring() -> Option<Tone> {
            Tone::play(880.0, 0.4, 1.0)
        }

        fn play(hz: f32, on: f64, every: f64) -> Option<Tone> {
            let ctx = AudioContext::new().ok()?;
            let osc = ctx.create_oscillator().ok()?;
            osc.frequency().set_value(hz);
            let gain = ctx.create_gain().ok()?;
            let level = gain.gain();
            level.set_value(0.0);
            let start = ctx.current_time();
            // Calls ring for at most a few minutes: schedule that much.
            for i in 0..(300.0 / every) as u32 {
                let at = start + f64::from(i) * every;
                level.set_value_at_time(0.2, at).ok()?;
                level.set_value_at_time(0.0, at + on).ok()?;
            }
            osc.connect_with_audio_node(&gain).ok()?;
            gain.connect_with_audio_node(&ctx.destination()).ok()?;
            osc.start().ok()?;
            Some(Tone(ctx))
        }
    }

    impl Drop for Tone {
        fn drop(&mut self) {
            let _ = self.0.close();
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod inert {
    use super::MediaEvent;
    use wire::call::RtcConfig;

    /// Cannot exist outside the browser.
    pub enum Media {}

    impl Media {
        pub async fn open(_: bool) -> Result<Media, ()> {
            Err(())
        }
        pub fn connect(&self, _: &RtcConfig, _: impl Fn(MediaEvent) + 'static) -> Result<(), ()> {
            match *self {}
        }
        pub async fn offer(&self, _: bool) -> Result<String, ()> {
            match *self {}
        }
        pub async fn answer(&self, _: &str) -> Result<String, ()> {
            match *self {}
        }
        pub async fn take_answer(&self, _: &str) -> Result<(), ()> {
            match *self {}
        }
        pub fn connected(&self) -> bool {
            match *self {}
        }
        pub async fn add_candidate(&self, _: &str, _: Option<&str>, _: Option<u16>) {
            match *self {}
        }
        pub fn set_muted(&self, _: bool) {
            match *self {}
        }
        pub fn set_camera_off(&self, _: bool) {
            match *self {}
        }
        pub async fn camera_count() -> usize {
            0
        }
        pub async fn switch_camera(&self) -> Result<(), ()> {
            match *self {}
        }
        pub fn show_local(&self, _: &leptos::web_sys::HtmlMediaElement) {
            match *self {}
        }
        pub fn show_remote(&self, _: &leptos::web_sys::HtmlMediaElement) {
            match *self {}
        }
    }

    /// Silent outside the browser.
    pub struct Tone;

    impl Tone {
        pub fn ringback() -> Option<Tone> {
            None
        }
        pub fn ring() -> Option<Tone> {
            None
        }
    }
}
