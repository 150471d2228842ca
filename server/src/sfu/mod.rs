//! The selective forwarding unit: group calls and live broadcasts relayed by
//! the server, so a broadcaster uploads one stream however many watch.
//!
//! | module | holds |
//! |---|---|
//! | `rooms` | who is in which room and whose media goes to whom (no I/O, unit-tested) |
//! | `peer` | one client's WebRTC session (str0m's sans-IO `Rtc`) and its negotiation |
//! | `hosts` | which node hosts each room of the cluster (a registry key claimed only if absent) |
//! | `relay`, `remote` | signalling of rooms hosted on other nodes, relayed node to node |
//! | here | [`Sfu`], the handle connections use, and the task owning the UDP socket |
//!
//! One task owns one UDP socket and every session; it is the only place that
//! touches them, so nothing is locked on the media path. Datagrams go to the
//! session that accepts them (remembered by source address); a frame a
//! session receives is written to each subscriber's session. Connections
//! talk to the task through [`Command`]s; what rooms look like goes out as
//! hub events, and a room that ends is recorded as a message (`record.rs`).
//!
//! The socket is opened when the first room starts, so a node that never
//! hosts a room never binds the media port.
//!
//! In a cluster each room lives on one node, the first to claim it in
//! [`hosts::RoomHosts`]. A connection whose room is hosted elsewhere has its
//! requests relayed to the host ([`relay`]), where it joins the media task
//! like a local connection ([`remote`]); its browser sends media straight
//! to the host, whose address the answer's ICE candidate carries.

pub mod hosts;
mod peer;
pub mod probe;
mod record;
pub mod relay;
mod remote;
pub mod rooms;
pub mod settings;

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use str0m::media::KeyframeRequestKind;
use tokio::{
    net::UdpSocket,
    sync::{mpsc, oneshot},
};
use wire::{
    model::{ConversationId, UserId},
    protocol::{ServerFrame, WsErrorCode},
    room::{RoomLeftReason, RoomRole, RoomUpdate},
};

use self::{
    hosts::RoomHosts,
    peer::{Happened, Peer},
    relay::{Relay, Relayed, Tab},
    remote::Elsewhere,
    rooms::{Guest, PeerId, Refusal, RoomKey, Rooms},
    settings::MediaSettings,
};
use crate::{
    chat::Chat,
    hub::{ConnId, Fanout},
};

/// Largest datagram read (WebRTC keeps packets under the 1,200-byte MTU target).
const DATAGRAM: usize = 2000;
/// How often speaking flags are brought up to date.
const TICK: Duration = Duration::from_millis(200);
/// Frames a connection may have waiting from the media task.
pub const SIGNALS: usize = 64;
/// How long a request to the node hosting a room may take.
const REPLY_WITHIN: Duration = Duration::from_secs(10);

/// A refused room request: the code and message of its error frame.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoomError {
    pub code: WsErrorCode,
    pub message: String,
}

impl RoomError {
    fn new(code: WsErrorCode, message: impl Into<String>) -> RoomError {
        RoomError { code, message: message.into() }
    }

    fn stopped() -> RoomError {
        RoomError::new(WsErrorCode::Internal, "the media relay has stopped")
    }
}

/// What a connection asks of the media task.
pub enum Command {
    Join {
        key: RoomKey,
        user: UserId,
        conn: ConnId,
        role: RoomRole,
        video: bool,
        offer: String,
        /// Where the task sends this connection's later frames (offers, leaving).
        signals: mpsc::Sender<ServerFrame>,
        /// The SDP answer.
        reply: oneshot::Sender<Result<String, RoomError>>,
    },
    Answer { key: RoomKey, conn: ConnId, answer: String, reply: oneshot::Sender<Result<(), RoomError>> },
    Leave { key: RoomKey, conn: ConnId, reply: oneshot::Sender<Result<(), RoomError>> },
    /// The user is no longer a member of the conversation.
    CutOff { conversation: ConversationId, user: UserId },
    /// The connection closed.
    Gone { conn: ConnId },
    /// The rooms in progress in these conversations.
    InProgress { conversations: Vec<ConversationId>, reply: oneshot::Sender<Vec<RoomUpdate>> },
}

/// How this node finds and reaches rooms hosted on other nodes.
pub struct Cluster {
    pub hosts: RoomHosts,
    pub relay: Arc<dyn Relay>,
    /// What other nodes send this one.
    pub inbox: mpsc::UnboundedReceiver<Relayed>,
}

/// The handle to the media task, and to the rooms other nodes host.
pub struct Sfu {
    commands: mpsc::Sender<Command>,
    hosts: Arc<RoomHosts>,
    relay: Arc<dyn Relay>,
    elsewhere: Arc<Elsewhere>,
}

impl Sfu {
    /// Starts the media task; room changes go out through `fanout`, ended
    /// rooms are recorded as messages through `chat`.
    pub fn start(config: MediaSettings, fanout: Arc<dyn Fanout>, chat: Arc<Chat>, cluster: Cluster) -> Sfu {
        let (commands, queue) = mpsc::channel(1024);
        let (notices, outbox) = mpsc::unbounded_channel();
        let hosts = Arc::new(cluster.hosts);
        let elsewhere = Arc::new(Elsewhere::default());
        tokio::spawn(record::run(outbox, fanout.clone(), chat, hosts.clone()));
        tokio::spawn(Media::new(config, notices).run(queue));
        tokio::spawn(remote::serve(remote::Inbox {
            messages: cluster.inbox,
            commands: commands.downgrade(),
            relay: cluster.relay.clone(),
            hosts: hosts.clone(),
            elsewhere: elsewhere.clone(),
            fanout,
        }));
        Sfu { commands, hosts, relay: cluster.relay, elsewhere }
    }

    async fn send(&self, command: Command) {
        let _ = self.commands.send(command).await;
    }

    /// Sends a command and waits for its answer.
    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.send(command(reply)).await;
        answer.await.ok()
    }

    fn tab(&self, conn: ConnId) -> Tab {
        Tab { node: self.hosts.me().node.clone(), conn }
    }

    /// Sends a request to the node hosting a room and waits for its reply.
    async fn request(&self, node: &str, message: impl FnOnce(u64) -> Relayed) -> Result<String, RoomError> {
        let (request, reply) = self.elsewhere.expect_reply();
        self.relay.send(node, message(request)).await;
        match tokio::time::timeout(REPLY_WITHIN, reply).await {
            Ok(Ok(result)) => result,
            _ => {
                self.elsewhere.forget(request);
                Err(RoomError::new(WsErrorCode::MediaUnavailable, "the server hosting this room does not answer"))
            }
        }
    }

    /// Joins `guest` to the room of `key` on whichever node hosts it (this
    /// one if none does and the guest may start it); the SDP answer. The
    /// connection's later frames (offers, leaving) go to `signals`.
    pub async fn join(
        &self,
        key: RoomKey,
        guest: Guest,
        offer: String,
        signals: mpsc::Sender<ServerFrame>,
    ) -> Result<String, RoomError> {
        let host = match guest.role {
            RoomRole::Viewer => self.hosts.of(&key).await,
            _ => self.hosts.claim(&key).await.map(Some),
        };
        let host = host.map_err(|e| {
            tracing::warn!(error = %e, "cannot tell where a room is hosted");
            RoomError::new(WsErrorCode::Retry, "cannot reach this room now; try again")
        })?;
        let Guest { user, conn, role, video } = guest;
        match host {
            Some(host) if host.node != self.hosts.me().node => {
                // Known before the request, so that offers overtaking the reply reach the connection.
                let rejoining = self.elsewhere.host(conn, &key).is_some();
                self.elsewhere.entered(conn, user.clone(), signals, key.clone(), host.node.clone());
                let from = self.tab(conn);
                let k = key.clone();
                let join = |request| Relayed::Join { request, from, key: k, user, role, video, offer };
                let answer = self.request(&host.node, join).await;
                if answer.is_err() && !rejoining {
                    self.elsewhere.left(conn, &key);
                }
                answer
            }
            _ => self
                .ask(|reply| Command::Join { key, user, conn, role, video, offer, signals, reply })
                .await
                .unwrap_or_else(|| Err(RoomError::stopped())),
        }
    }

    /// The connection's answer to the last offer of its room.
    pub async fn answer(&self, key: RoomKey, conn: ConnId, answer: String) -> Result<(), RoomError> {
        match self.elsewhere.host(conn, &key) {
            Some(node) => {
                let from = self.tab(conn);
                self.request(&node, |request| Relayed::Answer { request, from, key, answer }).await.map(drop)
            }
            None => self.ask(|reply| Command::Answer { key, conn, answer, reply }).await.unwrap_or(Ok(())),
        }
    }

    /// The connection leaves the room of `key`.
    pub async fn leave(&self, key: RoomKey, conn: ConnId) -> Result<(), RoomError> {
        match self.elsewhere.host(conn, &key) {
            Some(node) => {
                let from = self.tab(conn);
                self.request(&node, |request| Relayed::Leave { request, from, key }).await.map(drop)
            }
            None => self.ask(|reply| Command::Leave { key, conn, reply }).await.unwrap_or(Ok(())),
        }
    }

    /// The connection closed: it is out of every room, wherever hosted.
    pub async fn gone(&self, conn: ConnId) {
        self.send(Command::Gone { conn }).await;
        for node in self.elsewhere.closed(conn) {
            self.relay.send(&node, Relayed::Gone { from: self.tab(conn) }).await;
        }
    }

    /// The user is no longer a member of the conversation: out of its rooms.
    pub async fn cut_off(&self, conversation: ConversationId, user: UserId) {
        for node in self.elsewhere.hosts_of(&conversation, &user) {
            self.relay.send(&node, Relayed::CutOff { conversation: conversation.clone(), user: user.clone() }).await;
        }
        self.send(Command::CutOff { conversation, user }).await;
    }

    /// The rooms in progress in these conversations, on any node.
    pub async fn in_progress(&self, conversations: Vec<ConversationId>) -> Vec<RoomUpdate> {
        let elsewhere = self.hosts.elsewhere(&conversations).await.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "cannot list the rooms other nodes host");
            Vec::new()
        });
        let mut rooms = self.ask(|reply| Command::InProgress { conversations, reply }).await.unwrap_or_default();
        let here = |r: &RoomUpdate| rooms.iter().any(|l| l.conversation_id == r.conversation_id && l.kind == r.kind);
        let others: Vec<RoomUpdate> = elsewhere.into_iter().filter(|r| !here(r)).collect();
        rooms.extend(others);
        rooms
    }
}

/// What the media task reports for others to do: publish and record.
pub enum Notice {
    Update(RoomUpdate),
    Ended(rooms::Ended),
    /// A join that would have started the room failed: nothing is hosted.
    Vacant(RoomKey),
}

struct Member {
    peer: Peer,
    signals: mpsc::Sender<ServerFrame>,
}

/// The media task's state.
struct Media {
    config: MediaSettings,
    socket: Option<Arc<UdpSocket>>,
    rooms: Rooms,
    members: HashMap<PeerId, Member>,
    /// Which peer each remote address belongs to, learnt from `Rtc::accepts`.
    by_source: HashMap<SocketAddr, PeerId>,
    /// Peers with something to send or tell.
    due: BTreeSet<PeerId>,
    notices: mpsc::UnboundedSender<Notice>,
}

impl Media {
    fn new(config: MediaSettings, notices: mpsc::UnboundedSender<Notice>) -> Media {
        Media {
            config,
            socket: None,
            rooms: Rooms::default(),
            members: HashMap::new(),
            by_source: HashMap::new(),
            due: BTreeSet::new(),
            notices,
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut buf = vec![0u8; DATAGRAM];
        let mut tick = tokio::time::interval(TICK);
        loop {
            let wake = self.members.values().map(|m| m.peer.wakes_at).min();
            let wake = wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let socket = self.socket.clone();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.command(command).await,
                    None => break,
                },
                received = async { socket.as_ref().expect("guarded").recv_from(&mut buf).await }, if socket.is_some() => {
                    match received {
                        Ok((n, source)) => self.receive(source, &buf[..n]),
                        Err(e) => tracing::debug!(error = %e, "media socket read failed"),
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => self.wake(Instant::now()),
                _ = tick.tick() => self.tick(Instant::now()),
            }
            self.settle();
        }
        for member in self.members.values_mut() {
            member.peer.close();
        }
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Join { key, user, conn, role, video, offer, signals, reply } => {
                let answer = self.join(key.clone(), Guest { user, conn, role, video }, &offer, signals).await;
                if answer.is_err() && !self.rooms.holds(&key) {
                    let _ = self.notices.send(Notice::Vacant(key));
                }
                let _ = reply.send(answer);
            }
            Command::Answer { key, conn, answer, reply } => {
                let _ = reply.send(self.answer(&key, conn, &answer));
            }
            Command::Leave { key, conn, reply } => {
                let result = match self.rooms.peer_in(conn, &key) {
                    Some(peer) => {
                        self.drop_peer(peer, Some(RoomLeftReason::Left));
                        Ok(())
                    }
                    None => Err(RoomError::new(WsErrorCode::NoRoom, "you are not in this room")),
                };
                let _ = reply.send(result);
            }
            Command::CutOff { conversation, user } => {
                for peer in self.rooms.peers_of_user(&conversation, &user) {
                    self.drop_peer(peer, Some(RoomLeftReason::Removed));
                }
            }
            Command::Gone { conn } => {
                for peer in self.rooms.peers_of_conn(conn) {
                    self.drop_peer(peer, None);
                }
            }
            Command::InProgress { conversations, reply } => {
                let _ = reply.send(self.rooms.in_progress(&conversations));
            }
        }
    }

    async fn join(
        &mut self,
        key: RoomKey,
        guest: Guest,
        offer: &str,
        signals: mpsc::Sender<ServerFrame>,
    ) -> Result<String, RoomError> {
        let socket = self.socket().await?;
        let local = socket.local_addr().map_err(|e| RoomError::new(WsErrorCode::MediaUnavailable, e.to_string()))?;
        let announce = SocketAddr::new(self.config.announce.ip(), match self.config.announce.port() {
            0 => local.port(),
            port => port,
        });
        let now = Instant::now();
        let (peer, answer) =
            Peer::accept(offer, announce, now).map_err(|e| RoomError::new(WsErrorCode::BadSdp, e.to_string()))?;
        for displaced in self.rooms.displaced_by(&key, &guest) {
            self.drop_peer(displaced, Some(RoomLeftReason::Elsewhere));
        }
        let joined = self.rooms.join(&key, guest, now, crate::clock::now_millis()).map_err(|r| match r {
            Refusal::NoRoom => RoomError::new(WsErrorCode::NoRoom, "nobody is broadcasting in this conversation"),
            Refusal::Full => RoomError::new(WsErrorCode::RoomFull, "someone else broadcasts here, or the call is full"),
            Refusal::BadRole => RoomError::new(WsErrorCode::BadRequest, "this role does not fit this kind of room"),
        })?;
        if let Some(old) = joined.replaced {
            for (id, member) in &mut self.members {
                member.peer.unsubscribe(old);
                self.due.insert(*id);
            }
            self.forget(old, None);
        }
        let mut member = Member { peer, signals };
        for source in self.rooms.sources(joined.peer) {
            let (Some(source_user), Some(from)) = (self.rooms.user_of(source), self.members.get(&source)) else { continue };
            for (mid, kind) in from.peer.published() {
                member.peer.subscribe(source, source_user, mid, kind);
            }
        }
        self.members.insert(joined.peer, member);
        self.due.insert(joined.peer);
        metrics::gauge!("natter_sfu_peers").set(self.members.len() as f64);
        Ok(answer)
    }

    fn answer(&mut self, key: &RoomKey, conn: ConnId, answer: &str) -> Result<(), RoomError> {
        let peer = self.rooms.peer_in(conn, key).ok_or_else(|| RoomError::new(WsErrorCode::NoRoom, "you are not in this room"))?;
        let member = self.members.get_mut(&peer).expect("a joined peer has a session");
        let opened = member.peer.accept_answer(answer).map_err(|e| RoomError::new(WsErrorCode::BadSdp, e.to_string()))?;
        self.due.insert(peer);
        let now = Instant::now();
        for (source, mid) in opened {
            self.keyframe(source, mid, KeyframeRequestKind::Pli, now);
        }
        Ok(())
    }

    /// Opens the media socket the first time a room starts.
    async fn socket(&mut self) -> Result<Arc<UdpSocket>, RoomError> {
        if let Some(socket) = &self.socket {
            return Ok(socket.clone());
        }
        let socket = UdpSocket::bind(self.config.bind).await.map_err(|e| {
            tracing::error!(error = %e, addr = %self.config.bind, "cannot open the media UDP port");
            RoomError::new(WsErrorCode::MediaUnavailable, "the server cannot relay media now")
        })?;
        let socket = Arc::new(socket);
        tracing::info!(addr = %self.config.bind, announce = %self.config.announce, "media UDP port open");
        self.socket = Some(socket.clone());
        Ok(socket)
    }

    fn receive(&mut self, source: SocketAddr, data: &[u8]) {
        let Some(local) = self.socket.as_ref().and_then(|s| s.local_addr().ok()) else { return };
        let now = Instant::now();
        let Some(input) = peer::datagram(local, source, data, now) else { return };
        let known = self.by_source.get(&source).copied().filter(|p| self.members.get(p).is_some_and(|m| m.peer.accepts(&input)));
        let found = known.or_else(|| self.members.iter().find(|(_, m)| m.peer.accepts(&input)).map(|(p, _)| *p));
        let Some(peer) = found else { return };
        self.by_source.insert(source, peer);
        if let Some(member) = self.members.get_mut(&peer) {
            member.peer.handle(input);
            self.due.insert(peer);
        }
    }

    fn wake(&mut self, now: Instant) {
        for (id, member) in &mut self.members {
            if member.peer.wakes_at <= now {
                member.peer.handle(str0m::Input::Timeout(now));
                self.due.insert(*id);
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        self.rooms.tick(now);
        let dead: Vec<PeerId> = self.members.iter().filter(|(_, m)| m.peer.is_dead(now)).map(|(p, _)| *p).collect();
        for peer in dead {
            tracing::debug!(peer, "media session ended or never connected");
            self.drop_peer(peer, Some(RoomLeftReason::Failed));
        }
        self.report();
    }

    /// Lets every due session send and tell what happened, and passes that
    /// on, until no session has anything more.
    fn settle(&mut self) {
        let Some(socket) = self.socket.clone() else {
            self.report();
            return;
        };
        let now = Instant::now();
        while let Some(id) = self.due.pop_first() {
            let Some(member) = self.members.get_mut(&id) else { continue };
            for happened in member.peer.poll(&socket) {
                self.pass_on(id, happened, now);
            }
        }
        self.report();
    }

    fn pass_on(&mut self, from: PeerId, happened: Happened, now: Instant) {
        match happened {
            Happened::Published { mid, kind } => {
                let Some(user) = self.rooms.user_of(from).cloned() else { return };
                for sub in self.rooms.subscribers(from) {
                    if let Some(member) = self.members.get_mut(&sub) {
                        member.peer.subscribe(from, &user, mid, kind);
                        self.due.insert(sub);
                    }
                }
            }
            Happened::Media(data) => {
                if !data.contiguous {
                    self.keyframe(from, data.mid, KeyframeRequestKind::Fir, now);
                }
                for sub in self.rooms.subscribers(from) {
                    if let Some(member) = self.members.get_mut(&sub) {
                        member.peer.forward(from, &data);
                        self.due.insert(sub);
                    }
                }
            }
            Happened::KeyframeWanted { source, source_mid, kind } => self.keyframe(source, source_mid, kind, now),
            Happened::Connected => {
                let Some(member) = self.members.get(&from) else { return };
                for (source, mid) in member.peer.video_sources() {
                    self.keyframe(source, mid, KeyframeRequestKind::Pli, now);
                }
            }
            Happened::Offer(sdp) => {
                let (Some(key), Some(member)) = (self.rooms.key_of(from), self.members.get(&from)) else { return };
                let frame = ServerFrame::RoomOffer { conversation_id: key.conversation.clone(), kind: key.kind, sdp };
                if member.signals.try_send(frame).is_err() {
                    self.drop_peer(from, None);
                }
            }
            Happened::Heard => self.rooms.heard(from, now),
        }
    }

    fn keyframe(&mut self, source: PeerId, mid: str0m::media::Mid, kind: KeyframeRequestKind, now: Instant) {
        if let Some(member) = self.members.get_mut(&source) {
            member.peer.request_keyframe(mid, kind, now);
            self.due.insert(source);
        }
    }

    /// Takes a peer out of its room; its subscribers stop receiving it, and
    /// a broadcaster's viewers are out too. `reason` is told to the client
    /// (not when its connection is gone).
    fn drop_peer(&mut self, peer: PeerId, reason: Option<RoomLeftReason>) {
        let subscribers = self.rooms.subscribers(peer);
        let key = self.rooms.key_of(peer).cloned();
        let kicked = self.rooms.leave(peer, Instant::now());
        for sub in subscribers {
            if let Some(member) = self.members.get_mut(&sub) {
                member.peer.unsubscribe(peer);
                self.due.insert(sub);
            }
        }
        let Some(key) = key else { return };
        self.forget(peer, reason.map(|r| (&key, r)));
        for viewer in kicked {
            self.forget(viewer, Some((&key, RoomLeftReason::Ended)));
        }
        metrics::gauge!("natter_sfu_peers").set(self.members.len() as f64);
    }

    /// Closes a peer's session (already out of its room) and tells its client.
    fn forget(&mut self, peer: PeerId, told: Option<(&RoomKey, RoomLeftReason)>) {
        let Some(mut member) = self.members.remove(&peer) else { return };
        member.peer.close();
        self.by_source.retain(|_, p| *p != peer);
        if let Some((key, reason)) = told {
            let frame = ServerFrame::RoomLeft { conversation_id: key.conversation.clone(), kind: key.kind, reason };
            let _ = member.signals.try_send(frame);
        }
    }

    fn report(&mut self) {
        let (updates, ended) = self.rooms.take_changes();
        for update in updates {
            let _ = self.notices.send(Notice::Update(update));
        }
        for ended in ended {
            let _ = self.notices.send(Notice::Ended(ended));
        }
    }
}
