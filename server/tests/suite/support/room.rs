//! Clients in group calls and live broadcasts: a websocket doing the
//! signalling and a str0m client (`sfu::probe`) sending and receiving media
//! on loopback.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::atomic::Ordering::Relaxed,
    time::Duration,
};

use natter_server::sfu::probe::{Probe, ProbeStats, Publish};
use wire::{
    model::ConversationId,
    protocol::{ClientFrame, ServerFrame, WsErrorCode},
    room::{RoomKind, RoomRole, RoomState},
};

use super::chat::{Client, User};

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// About what a phone's camera sends.
pub const VIDEO_BPS: u64 = 600_000;

/// One client in a room: its websocket and its media session.
pub struct Joined {
    pub ws: Client,
    pub probe: Probe,
    /// The last room state heard, whatever read it.
    pub room: Option<RoomState>,
    conversation: ConversationId,
    kind: RoomKind,
}

/// Connects `user` and joins the room, publishing `publish` (a call it
/// starts is a video call when that has video).
pub async fn join(user: &User<'_>, conversation: &ConversationId, kind: RoomKind, role: RoomRole, publish: Publish) -> Joined {
    join_via(user, user.server.addr, conversation, kind, role, publish).await
}

/// [`join`] through the node of a cluster at `node`.
pub async fn join_via(
    user: &User<'_>,
    node: SocketAddr,
    conversation: &ConversationId,
    kind: RoomKind,
    role: RoomRole,
    publish: Publish,
) -> Joined {
    let mut ws = user.connect_to(node, vec![]).await;
    let (probe, sdp) = Probe::start(LOOPBACK, publish).await.unwrap();
    let video = matches!(publish, Publish::Video(_));
    ws.send(&ClientFrame::RoomJoin { conversation_id: conversation.clone(), kind, role, video, sdp }).await;
    loop {
        match ws.next().await {
            ServerFrame::RoomJoined { sdp, .. } => {
                probe.answer(sdp).await.unwrap();
                return Joined { ws, probe, room: None, conversation: conversation.clone(), kind };
            }
            ServerFrame::Error { code, message, .. } => panic!("joining failed: {code:?} {message}"),
            _ => {}
        }
    }
}

impl Joined {
    /// Says it leaves the room (the answer is for the caller to read).
    pub async fn leave(&mut self) {
        self.ws.send(&ClientFrame::RoomLeave { conversation_id: self.conversation.clone(), kind: self.kind }).await;
    }

    /// Reads frames, answering the server's offers, until one passes `wanted`.
    pub async fn until(&mut self, mut wanted: impl FnMut(&ServerFrame) -> bool) -> ServerFrame {
        loop {
            let frame = self.ws.next().await;
            if wanted(&frame) {
                return frame;
            }
            self.answer_offer(&frame).await;
        }
    }

    pub async fn answer_offer(&mut self, frame: &ServerFrame) {
        if let ServerFrame::Room { room } = frame {
            self.room = room.state.clone();
        }
        if let ServerFrame::Error { code: WsErrorCode::BadSdp, message, .. } = frame {
            panic!("the server refused an answer: {message}");
        }
        if let ServerFrame::RoomOffer { conversation_id, kind, sdp } = frame {
            let sdp = self.probe.offer(sdp.clone()).await.unwrap();
            self.ws.send(&ClientFrame::RoomAnswer { conversation_id: conversation_id.clone(), kind: *kind, sdp }).await;
        }
    }

    /// Reads until the room's state (last heard or new) passes `wanted`.
    pub async fn room_where(&mut self, wanted: impl Fn(&RoomState) -> bool) -> RoomState {
        loop {
            if let Some(state) = self.room.as_ref().filter(|s| wanted(s)) {
                return state.clone();
            }
            let frame = self.ws.next().await;
            self.answer_offer(&frame).await;
        }
    }

    /// Answers offers until the probe has received `frames` video frames.
    pub async fn receives_video(&mut self, frames: u64) {
        self.receives(|s| s.video_frames.load(Relaxed) >= frames).await;
    }

    /// Answers offers until what the probe received passes `enough` (within 20 s).
    pub async fn receives(&mut self, enough: impl Fn(&ProbeStats) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !enough(&self.probe.stats) {
            assert!(tokio::time::Instant::now() < deadline, "not enough arrived: {:?}", self.probe.stats);
            if let Some(frame) = self.ws.next_within(Duration::from_millis(50)).await {
                self.answer_offer(&frame).await;
            }
        }
    }
}

/// Every one of `joined` answers its offers at once (and its websocket
/// stays read, pings answered), until what each probe received passes
/// `enough` for it (within 45 s).
pub async fn all_receive(joined: &mut [Joined], enough: impl Fn(usize, &ProbeStats) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    loop {
        let waiting: Vec<usize> = (0..joined.len()).filter(|&i| !enough(i, &joined[i].probe.stats)).collect();
        let Some(&first) = waiting.first() else { return };
        let stats = &joined[first].probe.stats;
        assert!(tokio::time::Instant::now() < deadline, "not enough arrived at {first}: {stats:?}");
        for one in joined.iter_mut() {
            if let Some(frame) = one.ws.next_within(Duration::from_millis(10)).await {
                one.answer_offer(&frame).await;
            }
        }
    }
}

/// Reads until a room update of `kind`; its state.
pub async fn room_update(ws: &mut Client, kind: RoomKind) -> Option<RoomState> {
    loop {
        if let ServerFrame::Room { room } = ws.next().await {
            if room.kind == kind {
                return room.state;
            }
        }
    }
}
