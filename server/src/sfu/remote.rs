//! Rooms hosted on other nodes, both ways round.
//!
//! As a participant's node: [`Elsewhere`] remembers which rooms each local
//! connection joined on which host, and the requests waiting for a reply.
//! As the host: a remote connection joins the media task like a local one,
//! under a connection id of its own (from [`REMOTE_CONNS`] up), with a
//! signals channel whose frames are relayed back to its node while it is in
//! a room. [`serve`] handles the node's inbox for both, and checks every
//! [`hosts::KEEP_EVERY`] that the hosts of the rooms joined elsewhere are
//! alive: a room whose host died ends for its participants here.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use tokio::sync::{mpsc, oneshot};
use wire::{
    model::UserId,
    protocol::{ServerFrame, WsErrorCode},
    room::{RoomLeftReason, RoomUpdate},
};

use super::{
    hosts::{self, RoomHosts},
    relay::{Relay, Relayed, Tab},
    rooms::RoomKey,
    Command, RoomError, SIGNALS,
};
use crate::hub::{ConnId, Fanout, HubEvent};

/// Connection ids the host gives remote connections: far above any of its own.
pub const REMOTE_CONNS: ConnId = 1 << 48;

type Reply = oneshot::Sender<Result<String, RoomError>>;

/// A local connection's rooms on other nodes.
struct Joined {
    user: UserId,
    signals: mpsc::Sender<ServerFrame>,
    /// Room → the node hosting it.
    rooms: HashMap<RoomKey, String>,
}

/// A participant's node's record of what its connections do elsewhere.
#[derive(Default)]
pub struct Elsewhere {
    next_request: AtomicU64,
    waiting: Mutex<HashMap<u64, Reply>>,
    joined: Mutex<HashMap<ConnId, Joined>>,
}

impl Elsewhere {
    fn joined(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, Joined>> {
        self.joined.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Reply>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new request id and where its reply will arrive.
    pub fn expect_reply(&self) -> (u64, oneshot::Receiver<Result<String, RoomError>>) {
        let id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.waiting().insert(id, reply);
        (id, answer)
    }

    /// Gives up waiting for a reply.
    pub fn forget(&self, request: u64) {
        self.waiting().remove(&request);
    }

    fn replied(&self, request: u64, result: Result<String, RoomError>) {
        if let Some(reply) = self.waiting().remove(&request) {
            let _ = reply.send(result);
        }
    }

    /// `conn` of `user` joined the room of `key` on `host`.
    pub fn entered(&self, conn: ConnId, user: UserId, signals: mpsc::Sender<ServerFrame>, key: RoomKey, host: String) {
        let mut joined = self.joined();
        let entry = joined.entry(conn).or_insert_with(|| Joined { user, signals, rooms: HashMap::new() });
        entry.rooms.insert(key, host);
    }

    /// The node hosting the room of `key` that `conn` joined, if elsewhere.
    pub fn host(&self, conn: ConnId, key: &RoomKey) -> Option<String> {
        self.joined().get(&conn)?.rooms.get(key).cloned()
    }

    /// `conn` is out of the room of `key`.
    pub fn left(&self, conn: ConnId, key: &RoomKey) {
        let mut joined = self.joined();
        if let Some(entry) = joined.get_mut(&conn) {
            entry.rooms.remove(key);
            if entry.rooms.is_empty() {
                joined.remove(&conn);
            }
        }
    }

    /// The hosts of `conn`'s rooms, which it no longer is in (it closed).
    pub fn closed(&self, conn: ConnId) -> Vec<String> {
        distinct(self.joined().remove(&conn).into_iter().flat_map(|j| j.rooms.into_values()))
    }

    /// The hosts of the rooms `user`'s connections joined in `conversation`.
    pub fn hosts_of(&self, conversation: &wire::model::ConversationId, user: &UserId) -> Vec<String> {
        let joined = self.joined();
        distinct(
            joined
                .values()
                .filter(|j| &j.user == user)
                .flat_map(|j| j.rooms.iter().filter(|(k, _)| &k.conversation == conversation).map(|(_, h)| h.clone())),
        )
    }

    /// Passes a frame from a host to the connection; its leaving is noted.
    fn deliver(&self, conn: ConnId, frame: ServerFrame) {
        let Some(signals) = self.joined().get(&conn).map(|j| j.signals.clone()) else { return };
        if let ServerFrame::RoomLeft { conversation_id, kind, .. } = &frame {
            self.left(conn, &RoomKey { conversation: conversation_id.clone(), kind: *kind });
        }
        let _ = signals.try_send(frame);
    }

    /// Every room joined elsewhere and the node hosting it.
    fn rooms(&self) -> Vec<(RoomKey, String)> {
        distinct(self.joined().values().flat_map(|j| j.rooms.iter().map(|(k, h)| (k.clone(), h.clone()))))
    }

    /// The room of `key`, hosted on `host`, is over: its connections here are told.
    fn ended(&self, key: &RoomKey, host: &str) {
        let conns: Vec<ConnId> =
            self.joined().iter().filter(|(_, j)| j.rooms.get(key).is_some_and(|h| h == host)).map(|(c, _)| *c).collect();
        for conn in conns {
            let reason = RoomLeftReason::Failed;
            self.deliver(conn, ServerFrame::RoomLeft { conversation_id: key.conversation.clone(), kind: key.kind, reason });
        }
    }
}

/// `items` in order, each once.
fn distinct<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    items.into_iter().collect::<BTreeSet<T>>().into_iter().collect()
}

/// The remote connections of rooms hosted here. Only their peers in the
/// media task hold their signals: once a connection is in no room, its
/// relaying task ends and its entry goes, even if its node never says
/// goodbye (it died).
#[derive(Default)]
struct Guests {
    by_tab: HashMap<Tab, (ConnId, mpsc::WeakSender<ServerFrame>)>,
    next: ConnId,
}

impl Guests {
    /// The id and signals of a remote connection, made anew when it is in
    /// no room: its signals go back to its node.
    fn of(&mut self, tab: &Tab, relay: &Arc<dyn Relay>) -> (ConnId, mpsc::Sender<ServerFrame>) {
        self.by_tab.retain(|_, (_, signals)| signals.strong_count() > 0);
        if let Some((conn, signals)) = self.by_tab.get(tab).and_then(|(c, s)| Some((*c, s.upgrade()?))) {
            return (conn, signals);
        }
        self.next += 1;
        let conn = REMOTE_CONNS + self.next;
        let (signals, mut frames) = mpsc::channel(SIGNALS);
        let (relay, to) = (relay.clone(), tab.clone());
        tokio::spawn(async move {
            while let Some(frame) = frames.recv().await {
                relay.send(&to.node, Relayed::Frame { conn: to.conn, frame }).await;
            }
        });
        self.by_tab.insert(tab.clone(), (conn, signals.downgrade()));
        (conn, signals)
    }

    /// The id of a remote connection in some room here.
    fn conn(&self, tab: &Tab) -> Option<ConnId> {
        self.by_tab.get(tab).filter(|(_, signals)| signals.strong_count() > 0).map(|(c, _)| *c)
    }
}

/// What [`serve`] works with.
pub struct Inbox {
    pub messages: mpsc::UnboundedReceiver<Relayed>,
    /// Weak, so that the media task stops with the server's [`super::Sfu`].
    pub commands: mpsc::WeakSender<Command>,
    pub relay: Arc<dyn Relay>,
    pub hosts: Arc<RoomHosts>,
    pub elsewhere: Arc<Elsewhere>,
    pub fanout: Arc<dyn Fanout>,
}

/// Handles the node's room messages until the server stops.
pub async fn serve(mut inbox: Inbox) {
    let mut guests = Guests::default();
    let mut check = tokio::time::interval(hosts::KEEP_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            message = inbox.messages.recv() => match (message, inbox.commands.upgrade()) {
                (Some(message), Some(commands)) => handle(&inbox, &commands, &mut guests, message).await,
                _ => return,
            },
            _ = check.tick() => match inbox.commands.upgrade() {
                Some(_) => check_hosts(&inbox).await,
                None => return,
            },
        }
    }
}

async fn handle(inbox: &Inbox, commands: &mpsc::Sender<Command>, guests: &mut Guests, message: Relayed) {
    let not_in = || RoomError::new(WsErrorCode::NoRoom, "you are not in this room");
    match message {
        Relayed::Join { request, from, key, user, role, video, offer } => {
            let (conn, signals) = guests.of(&from, &inbox.relay);
            let (reply, answer) = oneshot::channel();
            let join = Command::Join { key, user, conn, role, video, offer, signals, reply };
            commands.send(join).await.ok();
            reply_when(inbox, from, request, answer, |sdp| sdp);
        }
        Relayed::Answer { request, from, key, answer } => {
            let Some(conn) = guests.conn(&from) else { return send_reply(inbox, &from, request, Err(not_in())).await };
            let (reply, done) = oneshot::channel();
            commands.send(Command::Answer { key, conn, answer, reply }).await.ok();
            reply_when(inbox, from, request, done, |()| String::new());
        }
        Relayed::Leave { request, from, key } => {
            let Some(conn) = guests.conn(&from) else { return send_reply(inbox, &from, request, Err(not_in())).await };
            let (reply, done) = oneshot::channel();
            commands.send(Command::Leave { key, conn, reply }).await.ok();
            reply_when(inbox, from, request, done, |()| String::new());
        }
        Relayed::Gone { from } => {
            if let Some((conn, _)) = guests.by_tab.remove(&from) {
                commands.send(Command::Gone { conn }).await.ok();
            }
        }
        Relayed::CutOff { conversation, user } => {
            commands.send(Command::CutOff { conversation, user }).await.ok();
        }
        Relayed::Reply { request, result } => inbox.elsewhere.replied(request, result),
        Relayed::Frame { conn, frame } => inbox.elsewhere.deliver(conn, frame),
    }
}

async fn send_reply(inbox: &Inbox, to: &Tab, request: u64, result: Result<String, RoomError>) {
    inbox.relay.send(&to.node, Relayed::Reply { request, result }).await;
}

/// Relays the media task's answer to a request once it comes, without
/// holding up the inbox.
fn reply_when<T: Send + 'static>(
    inbox: &Inbox,
    to: Tab,
    request: u64,
    answer: oneshot::Receiver<Result<T, RoomError>>,
    ok: impl FnOnce(T) -> String + Send + 'static,
) {
    let relay = inbox.relay.clone();
    tokio::spawn(async move {
        let result = answer.await.unwrap_or_else(|_| Err(RoomError::stopped())).map(ok);
        relay.send(&to.node, Relayed::Reply { request, result }).await;
    });
}

/// Ends here the rooms whose host is gone (its keys expired) or replaced.
async fn check_hosts(inbox: &Inbox) {
    let rooms = inbox.elsewhere.rooms();
    if rooms.is_empty() {
        return;
    }
    let keys: Vec<RoomKey> = rooms.iter().map(|(key, _)| key.clone()).collect();
    let Ok(hosts_now) = inbox.hosts.of_each(&keys).await else {
        return; // cannot tell now; the next check asks again
    };
    for ((key, host), now) in rooms.into_iter().zip(hosts_now) {
        if now.as_ref().is_some_and(|h| h.node == host) {
            continue;
        }
        tracing::info!(conversation = %key.conversation, %host, "the node hosting a room is gone; the room ends here");
        inbox.elsewhere.ended(&key, &host);
        if now.is_none() {
            let update = RoomUpdate { conversation_id: key.conversation.clone(), kind: key.kind, state: None };
            inbox.fanout.publish(HubEvent::Room { update }).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use wire::{model::ConversationId, room::RoomKind};

    use super::*;

    fn key(conversation: &str, kind: RoomKind) -> RoomKey {
        RoomKey { conversation: ConversationId::from(conversation), kind }
    }

    #[tokio::test]
    async fn a_participants_node_remembers_its_rooms_elsewhere_until_they_end() {
        let elsewhere = Elsewhere::default();
        let (signals, mut frames) = mpsc::channel(8);
        let (call, live) = (key("g", RoomKind::Call), key("g", RoomKind::Live));
        elsewhere.entered(7, UserId::from("u"), signals.clone(), call.clone(), "node-a".into());
        elsewhere.entered(7, UserId::from("u"), signals, live.clone(), "node-c".into());
        assert_eq!(elsewhere.host(7, &call).as_deref(), Some("node-a"));
        assert_eq!(elsewhere.host(8, &call), None, "another connection is not in it");
        assert_eq!(elsewhere.hosts_of(&ConversationId::from("g"), &UserId::from("u")), ["node-a", "node-c"]);
        assert!(elsewhere.hosts_of(&ConversationId::from("g"), &UserId::from("v")).is_empty());

        // The host's frames reach the connection; its leaving is noted.
        let offer = ServerFrame::RoomOffer { conversation_id: call.conversation.clone(), kind: call.kind, sdp: "o".into() };
        elsewhere.deliver(7, offer.clone());
        assert_eq!(frames.recv().await, Some(offer));
        elsewhere.ended(&live, "node-b");
        assert_eq!(elsewhere.host(7, &live).as_deref(), Some("node-c"), "only its own host ends a room");
        elsewhere.ended(&live, "node-c");
        assert!(matches!(frames.recv().await, Some(ServerFrame::RoomLeft { reason: RoomLeftReason::Failed, .. })));
        assert_eq!(elsewhere.host(7, &live), None);
        assert_eq!(elsewhere.rooms(), vec![(call, "node-a".to_owned())]);
        assert_eq!(elsewhere.closed(7), ["node-a"]);
        assert!(elsewhere.rooms().is_empty());
    }

    #[tokio::test]
    async fn a_remote_connection_keeps_its_id_while_in_a_room() {
        let (outbox, mut relayed) = mpsc::unbounded_channel();
        let relay: Arc<dyn Relay> = Arc::new(super::super::relay::LocalRelay(outbox));
        let mut guests = Guests::default();
        let tab = Tab { node: "node-b".into(), conn: 7 };
        let (conn, signals) = guests.of(&tab, &relay);
        assert!(conn > REMOTE_CONNS);
        let (again, second_room) = guests.of(&tab, &relay);
        assert_eq!((again, guests.conn(&tab)), (conn, Some(conn)));
        let left = ServerFrame::RoomLeft { conversation_id: ConversationId::from("g"), kind: RoomKind::Call, reason: RoomLeftReason::Left };
        signals.send(left.clone()).await.unwrap();
        match relayed.recv().await {
            Some(Relayed::Frame { conn: 7, frame }) => assert_eq!(frame, left),
            other => panic!("{other:?}"),
        }
        drop((signals, second_room));
        assert_eq!(guests.conn(&tab), None, "in no room: gone");
        let (fresh, _signals) = guests.of(&tab, &relay);
        assert_ne!(fresh, conn);
        assert_eq!(guests.by_tab.len(), 1);
    }

    #[tokio::test]
    async fn replies_reach_their_request_once() {
        let elsewhere = Elsewhere::default();
        let (first, answer) = elsewhere.expect_reply();
        let (second, _) = elsewhere.expect_reply();
        assert_ne!(first, second);
        elsewhere.replied(first, Ok("sdp".into()));
        elsewhere.replied(first, Ok("again".into()));
        assert_eq!(answer.await.unwrap().unwrap(), "sdp");
        elsewhere.forget(second);
        assert!(elsewhere.waiting().is_empty());
    }
}
