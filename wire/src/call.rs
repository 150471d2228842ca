//! 1:1 voice and video calls: what the signalling frames carry, and the
//! shape checks the server applies to what browsers relay to each other.
//!
//! Media goes browser to browser (WebRTC); the server only relays the
//! offer, the answer, ICE candidates and each side's state between the two
//! tabs in a call, and records how the call ended as a message.

use serde::{Deserialize, Serialize};

use crate::{
    api::PublicProfile,
    model::{ConversationId, Millis, UserId},
};

/// A call's id, made by the server.
pub type CallId = String;

/// Largest session description relayed, in bytes.
pub const MAX_SDP_BYTES: usize = 32 * 1024;
/// Largest ICE candidate line relayed, in bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// Longest media id (`sdpMid`) of a candidate.
pub const MAX_MID_CHARS: usize = 64;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallMedia {
    #[default]
    Voice,
    Video,
}

/// A call as both sides see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInfo {
    pub call_id: CallId,
    /// The private chat the call belongs to (and is recorded in).
    pub conversation_id: ConversationId,
    /// Who calls, with the name and avatar the callee's screen shows.
    pub caller: PublicProfile,
    pub callee_id: UserId,
    pub media: CallMedia,
    pub created_ms: Millis,
}

/// What one tab in a call tells the other.
///
/// On the wire a signal is one flat object tagged by `kind`. It is read
/// through [`SignalWire`] rather than serde's internally tagged form, which
/// buffers every field first and put 19 KB of code into the browser's main
/// wasm module for this one enum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "SignalWire")]
pub enum Signal {
    /// A WebRTC session description offer (the caller's first, or an ICE restart).
    Offer { sdp: String },
    Answer { sdp: String },
    /// An ICE candidate, as `RTCIceCandidate` gives it.
    Candidate {
        candidate: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_m_line_index: Option<u16>,
    },
    /// The sender's side now: shown to the other as icons and a banner.
    State(PeerState),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum SignalKind {
    Offer,
    Answer,
    Candidate,
    State,
}

/// Every field any [`Signal`] has, as read from the wire.
#[derive(Deserialize)]
struct SignalWire {
    kind: SignalKind,
    sdp: Option<String>,
    candidate: Option<String>,
    sdp_mid: Option<String>,
    sdp_m_line_index: Option<u16>,
    #[serde(default)]
    muted: bool,
    #[serde(default)]
    camera_off: bool,
    #[serde(default)]
    reconnecting: bool,
}

impl TryFrom<SignalWire> for Signal {
    type Error = &'static str;

    fn try_from(wire: SignalWire) -> Result<Signal, &'static str> {
        let SignalWire { kind, sdp, candidate, sdp_mid, sdp_m_line_index, muted, camera_off, reconnecting } = wire;
        Ok(match kind {
            SignalKind::Offer => Signal::Offer { sdp: sdp.ok_or("missing field `sdp`")? },
            SignalKind::Answer => Signal::Answer { sdp: sdp.ok_or("missing field `sdp`")? },
            SignalKind::Candidate => {
                Signal::Candidate { candidate: candidate.ok_or("missing field `candidate`")?, sdp_mid, sdp_m_line_index }
            }
            SignalKind::State => Signal::State(PeerState { muted, camera_off, reconnecting }),
        })
    }
}

/// How one side of a call is: sent on every change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PeerState {
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub camera_off: bool,
    /// Its connection to the other side failed and it is restarting ICE.
    #[serde(default)]
    pub reconnecting: bool,
}

/// Why a call ended (or stopped ringing on this tab).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEnd {
    /// The callee declined.
    Declined,
    /// The caller gave up before an answer.
    Cancelled,
    /// Nobody answered in time.
    Missed,
    /// One side hung up after the answer.
    HungUp,
    /// One side's connection dropped and did not come back in time.
    Dropped,
    /// Another tab of the callee took the call (this one stops ringing).
    AnsweredElsewhere,
}

/// Why a relayed signal is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadSignal {
    #[error("a session description is at most {MAX_SDP_BYTES} bytes")]
    SdpTooLarge,
    #[error("a session description starts with v=0")]
    NotSdp,
    #[error("an ICE candidate is at most {MAX_CANDIDATE_BYTES} bytes, with an sdp_mid of at most {MAX_MID_CHARS}")]
    CandidateTooLarge,
    #[error("an ICE candidate starts with candidate:")]
    NotCandidate,
    #[error("signals hold no control characters but line breaks and tabs")]
    ControlCharacters,
}

impl Signal {
    /// The basic shape checks: sizes, the first bytes, no stray control characters.
    pub fn check(&self) -> Result<(), BadSignal> {
        match self {
            Signal::Offer { sdp } | Signal::Answer { sdp } => {
                if sdp.len() > MAX_SDP_BYTES {
                    return Err(BadSignal::SdpTooLarge);
                }
                if !sdp.starts_with("v=0") {
                    return Err(BadSignal::NotSdp);
                }
                plain(sdp)
            }
            Signal::Candidate { candidate, sdp_mid, .. } => {
                if candidate.len() > MAX_CANDIDATE_BYTES || sdp_mid.as_ref().is_some_and(|m| m.chars().count() > MAX_MID_CHARS) {
                    return Err(BadSignal::CandidateTooLarge);
                }
                if !candidate.starts_with("candidate:") {
                    return Err(BadSignal::NotCandidate);
                }
                plain(candidate)?;
                sdp_mid.as_deref().map_or(Ok(()), plain)
            }
            Signal::State(_) => Ok(()),
        }
    }
}

fn plain(text: &str) -> Result<(), BadSignal> {
    if text.chars().any(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t')) {
        return Err(BadSignal::ControlCharacters);
    }
    Ok(())
}

/// One STUN or TURN server, shaped as `RTCIceServer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    /// TURN only: `<expiry, Unix seconds>:<user id>` when the server shares a secret with Natter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Answer of `GET /api/rtc/config`: what a browser's `RTCPeerConnection`
/// is configured with. No servers: host candidates only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtcConfig {
    pub ice_servers: Vec<IceServer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(line: &str) -> Signal {
        Signal::Candidate { candidate: line.into(), sdp_mid: Some("0".into()), sdp_m_line_index: Some(0) }
    }

    #[test]
    fn signals_are_checked_for_shape_and_size() {
        assert_eq!(Signal::Offer { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into() }.check(), Ok(()));
        assert_eq!(Signal::Answer { sdp: "hello".into() }.check(), Err(BadSignal::NotSdp));
        let huge = format!("v=0\r\n{}", "a".repeat(MAX_SDP_BYTES));
        assert_eq!(Signal::Offer { sdp: huge }.check(), Err(BadSignal::SdpTooLarge));
        assert_eq!(Signal::Offer { sdp: "v=0\u{0}".into() }.check(), Err(BadSignal::ControlCharacters));
        assert_eq!(candidate("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host").check(), Ok(()));
        assert_eq!(candidate("1 1 udp").check(), Err(BadSignal::NotCandidate));
        assert_eq!(candidate(&format!("candidate:{}", "1".repeat(MAX_CANDIDATE_BYTES))).check(), Err(BadSignal::CandidateTooLarge));
        assert_eq!(Signal::State(PeerState { muted: true, ..PeerState::default() }).check(), Ok(()));
    }

    #[test]
    fn signals_are_tagged_json() {
        let json = serde_json::to_string(&Signal::State(PeerState { muted: true, ..PeerState::default() })).unwrap();
        assert_eq!(json, r#"{"kind":"state","muted":true,"camera_off":false,"reconnecting":false}"#);
        let offer: Signal = serde_json::from_str(r#"{"kind":"offer","sdp":"v=0"}"#).unwrap();
        assert_eq!(offer, Signal::Offer { sdp: "v=0".into() });
    }

    #[test]
    fn every_signal_reads_back_as_written() {
        let signals = [
            Signal::Offer { sdp: "v=0".into() },
            Signal::Answer { sdp: "v=0".into() },
            Signal::Candidate { candidate: "candidate:1".into(), sdp_mid: Some("0".into()), sdp_m_line_index: Some(1) },
            Signal::Candidate { candidate: "candidate:1".into(), sdp_mid: None, sdp_m_line_index: None },
            Signal::State(PeerState { muted: true, camera_off: false, reconnecting: true }),
        ];
        for signal in signals {
            let json = serde_json::to_string(&signal).unwrap();
            assert_eq!(serde_json::from_str::<Signal>(&json).unwrap(), signal, "{json}");
        }
        assert_eq!(serde_json::from_str::<Signal>(r#"{"kind":"state"}"#).unwrap(), Signal::State(PeerState::default()));
    }

    #[test]
    fn malformed_signals_are_refused() {
        for bad in [
            r#"{"kind":"offer"}"#,
            r#"{"kind":"answer","candidate":"candidate:1"}"#,
            r#"{"kind":"candidate","sdp":"v=0"}"#,
            r#"{"kind":"hello","sdp":"v=0"}"#,
            r#"{"sdp":"v=0"}"#,
            r#"{"kind":"offer","sdp":5}"#,
            r#"["offer","v=0"]"#,
        ] {
            assert!(serde_json::from_str::<Signal>(bad).is_err(), "{bad}");
        }
    }
}
