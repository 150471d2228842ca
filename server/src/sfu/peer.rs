//! One joined client's WebRTC session (a str0m `Rtc`): the tracks it
//! publishes, the other participants' tracks it receives and their
//! negotiation, keyframe requests, and its deadline to connect.
//!
//! Only the server offers after the first exchange: tracks to add or stop
//! wait while an offer is out and go into the next one.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use str0m::{
    change::{SdpAnswer, SdpOffer, SdpPendingOffer},
    media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid},
    Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcError,
};
use tokio::net::UdpSocket;
use wire::model::UserId;

use super::rooms::PeerId;

/// A peer whose media connection is not up this long after joining is dropped.
pub const CONNECT_WITHIN: Duration = Duration::from_secs(20);
/// At most one keyframe request per published track per this period.
const KEYFRAME_EVERY: Duration = Duration::from_millis(500);
/// Audio louder than this (in -dBov, RFC 6464; 0 is loudest) counts as speech.
const SPEECH_LEVEL: i8 = -50;

/// A track this peer publishes.
#[derive(Debug)]
struct TrackIn {
    mid: Mid,
    kind: MediaKind,
    keyframe_asked: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    ToOpen,
    Offered(Mid),
    Open(Mid),
    ToStop(Mid),
    StopOffered(Mid),
}

/// Another peer's track forwarded to this one.
#[derive(Debug)]
struct TrackOut {
    source: PeerId,
    source_mid: Mid,
    kind: MediaKind,
    /// The stream id the browser sees: the source's user id.
    stream: String,
    state: OutState,
}

impl TrackOut {
    fn mid(&self) -> Option<Mid> {
        match self.state {
            OutState::ToOpen => None,
            OutState::Offered(m) | OutState::Open(m) | OutState::ToStop(m) | OutState::StopOffered(m) => Some(m),
        }
    }
}

/// What a peer's session produced that concerns others.
#[derive(Debug)]
pub enum Happened {
    /// The peer publishes a new track.
    Published { mid: Mid, kind: MediaKind },
    /// A frame of one of its tracks arrived (boxed: the other variants are small).
    Media(Box<MediaData>),
    /// Its receiver wants a keyframe of a forwarded track.
    KeyframeWanted { source: PeerId, source_mid: Mid, kind: KeyframeRequestKind },
    /// The media connection is up: its sources should send keyframes.
    Connected,
    /// A renegotiation offer to send to the client.
    Offer(String),
    /// The peer was heard speaking.
    Heard,
}

pub struct Peer {
    rtc: Rtc,
    tracks_in: Vec<TrackIn>,
    tracks_out: Vec<TrackOut>,
    pending: Option<SdpPendingOffer>,
    joined: Instant,
    connected: bool,
    failed: bool,
    /// When the session wants time to move on next.
    pub wakes_at: Instant,
}

/// Why an SDP was refused.
#[derive(Debug, thiserror::Error)]
pub enum SdpRefused {
    #[error("not an SDP: {0}")]
    Unparsable(String),
    #[error("the SDP cannot be accepted: {0}")]
    Rejected(#[from] RtcError),
    #[error("no offer of the server is waiting for an answer")]
    NothingOffered,
}

impl Peer {
    /// A session answering the client's offer, reachable at `local`.
    pub fn accept(offer: &str, local: SocketAddr, now: Instant) -> Result<(Peer, String), SdpRefused> {
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| SdpRefused::Unparsable(e.to_string()))?;
        // One codec of each kind: a forwarded stream must be one every
        // receiver decodes, and each codec more adds some 500 bytes to every
        // m-line, which put the SDP of a video call of eight (16 m-lines, all
        // codecs) over `MAX_SDP_BYTES`.
        let mut rtc = Rtc::builder().clear_codecs().enable_vp8(true).enable_opus(true, false).build(now);
        let candidate = Candidate::host(local, "udp").map_err(|e| SdpRefused::Unparsable(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc.sdp_api().accept_offer(offer)?;
        let peer = Peer {
            rtc,
            tracks_in: Vec::new(),
            tracks_out: Vec::new(),
            pending: None,
            joined: now,
            connected: false,
            failed: false,
            wakes_at: now,
        };
        Ok((peer, answer.to_sdp_string()))
    }

    pub fn accepts(&self, input: &Input) -> bool {
        self.rtc.accepts(input)
    }

    pub fn handle(&mut self, input: Input) {
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!(error = %e, "media session failed");
            self.failed = true;
        }
    }

    /// The session failed, closed, or did not connect in time.
    pub fn is_dead(&self, now: Instant) -> bool {
        self.failed || !self.rtc.is_alive() || (!self.connected && now.duration_since(self.joined) > CONNECT_WITHIN)
    }

    pub fn close(&mut self) {
        self.rtc.disconnect();
    }

    /// The tracks this peer publishes, to forward to a new subscriber.
    pub fn published(&self) -> Vec<(Mid, MediaKind)> {
        self.tracks_in.iter().map(|t| (t.mid, t.kind)).collect()
    }

    /// Starts forwarding a track of `source` (whose user is `user`) here.
    pub fn subscribe(&mut self, source: PeerId, user: &UserId, source_mid: Mid, kind: MediaKind) {
        let stream = user.0.clone();
        self.tracks_out.push(TrackOut { source, source_mid, kind, stream, state: OutState::ToOpen });
    }

    /// Stops forwarding every track of `source`.
    pub fn unsubscribe(&mut self, source: PeerId) {
        self.tracks_out.retain(|t| t.source != source || t.state != OutState::ToOpen);
        for t in self.tracks_out.iter_mut().filter(|t| t.source == source) {
            t.state = match t.state {
                OutState::Offered(m) | OutState::Open(m) => OutState::ToStop(m),
                other => other,
            };
        }
    }

    /// Accepts the client's answer to the last offer; returns the sources
    /// whose video just opened here, which should send a keyframe.
    pub fn accept_answer(&mut self, answer: &str) -> Result<Vec<(PeerId, Mid)>, SdpRefused> {
        let answer = SdpAnswer::from_sdp_string(answer).map_err(|e| SdpRefused::Unparsable(e.to_string()))?;
        let pending = self.pending.take().ok_or(SdpRefused::NothingOffered)?;
        if let Err(refused) = self.rtc.sdp_api().accept_answer(pending, answer) {
            // The offer's changes never applied: offer them again next time.
            for t in &mut self.tracks_out {
                t.state = match t.state {
                    OutState::Offered(_) => OutState::ToOpen,
                    OutState::StopOffered(m) => OutState::ToStop(m),
                    other => other,
                };
            }
            return Err(refused.into());
        }
        let mut opened = Vec::new();
        for t in &mut self.tracks_out {
            if let OutState::Offered(m) = t.state {
                t.state = OutState::Open(m);
                if t.kind == MediaKind::Video {
                    opened.push((t.source, t.source_mid));
                }
            }
        }
        self.tracks_out.retain(|t| !matches!(t.state, OutState::StopOffered(_)));
        Ok(opened)
    }

    /// The video tracks this peer receives, by source.
    pub fn video_sources(&self) -> Vec<(PeerId, Mid)> {
        let open = |t: &&TrackOut| matches!(t.state, OutState::Open(_)) && t.kind == MediaKind::Video;
        self.tracks_out.iter().filter(open).map(|t| (t.source, t.source_mid)).collect()
    }

    /// Sends a frame of `source`'s track here, if this peer receives it.
    pub fn forward(&mut self, source: PeerId, data: &MediaData) {
        let Some(mid) = self
            .tracks_out
            .iter()
            .find(|t| t.source == source && t.source_mid == data.mid && matches!(t.state, OutState::Open(_)))
            .and_then(TrackOut::mid)
        else {
            return;
        };
        let Some(writer) = self.rtc.writer(mid) else { return };
        let Some(pt) = writer.match_params(data.params) else { return };
        if let Err(e) = writer.write(pt, data.network_time, data.time, data.data.clone()) {
            tracing::debug!(error = %e, "cannot forward media");
            self.failed = true;
        }
    }

    /// Asks this peer's browser for a keyframe of its track `mid`, at most
    /// once per [`KEYFRAME_EVERY`].
    pub fn request_keyframe(&mut self, mid: Mid, kind: KeyframeRequestKind, now: Instant) {
        let Some(track) = self.tracks_in.iter_mut().find(|t| t.mid == mid) else { return };
        if track.keyframe_asked.is_some_and(|at| now.duration_since(at) < KEYFRAME_EVERY) {
            return;
        }
        track.keyframe_asked = Some(now);
        if let Some(mut writer) = self.rtc.writer(mid) {
            // Fails only when the browser negotiated no feedback for it.
            let _ = writer.request_keyframe(None, kind);
        }
    }

    /// Sends what the session has to send and collects what happened, until
    /// it only waits for time; also starts a renegotiation when one is due.
    pub fn poll(&mut self, socket: &UdpSocket) -> Vec<Happened> {
        let mut happened = Vec::new();
        if let Some(offer) = self.negotiate() {
            happened.push(Happened::Offer(offer));
        }
        while !self.failed && self.rtc.is_alive() {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.wakes_at = at;
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    // UDP may drop; a full socket buffer drops here.
                    let _ = socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(event)) => self.on_event(event, &mut happened),
                Err(e) => {
                    tracing::debug!(error = %e, "media session failed");
                    self.failed = true;
                }
            }
        }
        if self.failed || !self.rtc.is_alive() {
            // Nothing more to wait for: the task drops it at its next tick.
            self.wakes_at = Instant::now() + CONNECT_WITHIN;
        }
        happened
    }

    fn on_event(&mut self, event: Event, happened: &mut Vec<Happened>) {
        match event {
            Event::Connected => {
                self.connected = true;
                happened.push(Happened::Connected);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => self.failed = true,
            Event::MediaAdded(added) if added.direction.is_receiving() => {
                self.tracks_in.push(TrackIn { mid: added.mid, kind: added.kind, keyframe_asked: None });
                happened.push(Happened::Published { mid: added.mid, kind: added.kind });
            }
            Event::MediaData(data) => {
                if data.ext_vals.audio_level.is_some_and(|level| level > SPEECH_LEVEL) {
                    happened.push(Happened::Heard);
                }
                happened.push(Happened::Media(Box::new(data)));
            }
            Event::KeyframeRequest(req) => {
                if let Some(t) = self.tracks_out.iter().find(|t| t.mid() == Some(req.mid)) {
                    happened.push(Happened::KeyframeWanted { source: t.source, source_mid: t.source_mid, kind: req.kind });
                }
            }
            _ => {}
        }
    }

    /// An offer for the tracks waiting to open or stop, unless one is out.
    fn negotiate(&mut self) -> Option<String> {
        if self.pending.is_some() || !self.tracks_out.iter().any(|t| matches!(t.state, OutState::ToOpen | OutState::ToStop(_))) {
            return None;
        }
        let mut change = self.rtc.sdp_api();
        for t in &mut self.tracks_out {
            match t.state {
                OutState::ToOpen => {
                    let mid = change.add_media(t.kind, Direction::SendOnly, Some(t.stream.clone()), None, None);
                    t.state = OutState::Offered(mid);
                }
                OutState::ToStop(mid) => {
                    change.stop_media(mid);
                    t.state = OutState::StopOffered(mid);
                }
                _ => {}
            }
        }
        let (offer, pending) = change.apply()?;
        self.pending = Some(pending);
        Some(offer.to_sdp_string())
    }
}

/// The shared socket's datagram as str0m's input, or `None` when it is not
/// STUN, DTLS, RTP or RTCP.
pub fn datagram<'a>(socket_addr: SocketAddr, source: SocketAddr, data: &'a [u8], now: Instant) -> Option<Input<'a>> {
    let contents = data.try_into().ok()?;
    let receive = str0m::net::Receive { proto: str0m::net::Protocol::Udp, source, destination: socket_addr, contents };
    Some(Input::Receive(now, receive))
}
