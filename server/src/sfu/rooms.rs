//! Who is in which room and whose media goes to whom, with no sockets, no
//! WebRTC and no clock of its own: the media task tells it who joined, who
//! left and who was heard, and asks it where each peer's media goes and what
//! the conversation's members should see. Tests drive it directly.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    time::{Duration, Instant},
};

use wire::{
    model::{ConversationId, Millis, UserId},
    room::{RoomKind, RoomParticipant, RoomRole, RoomState, RoomUpdate},
};

use crate::hub::ConnId;

/// One joined client (one websocket connection in one room).
pub type PeerId = u64;

/// Most participants of one call (the grid is built for 8 and more).
pub const MAX_CALL_PARTICIPANTS: usize = 16;
/// Most viewers of one broadcast on one node.
pub const MAX_VIEWERS: usize = 1000;
/// A participant shows as speaking until this long after their last loud audio.
const SPEAKING_HOLDS: Duration = Duration::from_millis(700);

/// A conversation holds at most one room of each kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct RoomKey {
    pub conversation: ConversationId,
    pub kind: RoomKind,
}

#[derive(Debug)]
struct Member {
    user: UserId,
    conn: ConnId,
    role: RoomRole,
    /// When the member's microphone last carried sound.
    heard_at: Option<Instant>,
    speaking: bool,
}

#[derive(Debug)]
struct Room {
    video: bool,
    started_ms: Millis,
    started: Instant,
    /// Who started it: the sender of the message that records it.
    host: UserId,
    members: BTreeMap<PeerId, Member>,
}

/// Why a join is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A viewer asked to watch a broadcast that is not on.
    NoRoom,
    /// Someone else broadcasts already, or the room is full.
    Full,
    /// The role does not fit the kind of room (a viewer of a call, say).
    BadRole,
}

/// Who asks to join, and how.
#[derive(Clone, Debug)]
pub struct Guest {
    pub user: UserId,
    pub conn: ConnId,
    pub role: RoomRole,
    /// For a call it starts: a video call.
    pub video: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Joined {
    pub peer: PeerId,
    /// The same connection's earlier join of this room, now over.
    pub replaced: Option<PeerId>,
}

/// A room that ended: what the message recording it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub key: RoomKey,
    pub host: UserId,
    pub video: bool,
    pub started_ms: Millis,
    pub duration_ms: u64,
}

#[derive(Debug, Default)]
pub struct Rooms {
    rooms: HashMap<RoomKey, Room>,
    peers: HashMap<PeerId, RoomKey>,
    next_peer: PeerId,
    /// Rooms whose state changed since [`Rooms::take_changes`].
    changed: BTreeSet<RoomKey>,
    ended: Vec<Ended>,
}

impl Rooms {
    /// Adds a client to the room of `key`, starting the room when a call
    /// participant or a broadcaster comes first.
    pub fn join(&mut self, key: &RoomKey, guest: Guest, now: Instant, now_ms: Millis) -> Result<Joined, Refusal> {
        let Guest { user, conn, role, video } = guest;
        let fits = match key.kind {
            RoomKind::Call => role == RoomRole::Participant,
            RoomKind::Live => role != RoomRole::Participant,
        };
        if !fits {
            return Err(Refusal::BadRole);
        }
        let replaced = self.peer_in(conn, key);
        // Everyone else in the room (the replaced join is on its way out).
        let others: Option<Vec<&Member>> = self
            .rooms
            .get(key)
            .map(|r| r.members.iter().filter(|(p, _)| Some(**p) != replaced).map(|(_, m)| m).collect());
        let broadcasting = others.as_ref().is_some_and(|o| o.iter().any(|m| m.role == RoomRole::Broadcaster));
        let count = others.as_ref().map_or(0, Vec::len);
        match role {
            RoomRole::Viewer if !broadcasting => return Err(Refusal::NoRoom),
            RoomRole::Viewer if count > MAX_VIEWERS => return Err(Refusal::Full),
            RoomRole::Broadcaster if broadcasting => return Err(Refusal::Full),
            RoomRole::Participant if count >= MAX_CALL_PARTICIPANTS => return Err(Refusal::Full),
            _ => {}
        }
        if let Some(old) = replaced {
            // The connection joins again (its media connection failed, say):
            // the older peer goes quietly.
            let room = self.rooms.get_mut(key).expect("the replaced peer's room");
            room.members.remove(&old);
            self.peers.remove(&old);
        }
        self.next_peer += 1;
        let peer = self.next_peer;
        let room = self.rooms.entry(key.clone()).or_insert_with(|| Room {
            video: video || key.kind == RoomKind::Live,
            started_ms: now_ms,
            started: now,
            host: user.clone(),
            members: BTreeMap::new(),
        });
        room.members.insert(peer, Member { user, conn, role, heard_at: None, speaking: false });
        self.peers.insert(peer, key.clone());
        self.changed.insert(key.clone());
        Ok(Joined { peer, replaced })
    }

    /// Takes a peer out of its room. Returns the other peers that are out
    /// with it: a broadcaster's viewers, since the broadcast ends.
    pub fn leave(&mut self, peer: PeerId, now: Instant) -> Vec<PeerId> {
        let Some(key) = self.peers.remove(&peer) else { return Vec::new() };
        let room = self.rooms.get_mut(&key).expect("a peer's room exists");
        let Some(member) = room.members.remove(&peer) else { return Vec::new() };
        self.changed.insert(key.clone());
        let mut out = Vec::new();
        if member.role == RoomRole::Broadcaster {
            out = room.members.keys().copied().collect();
            for p in &out {
                self.peers.remove(p);
            }
            room.members.clear();
        }
        if room.members.is_empty() {
            let room = self.rooms.remove(&key).expect("the room");
            let duration_ms = now.saturating_duration_since(room.started).as_millis() as u64;
            self.ended.push(Ended { key, host: room.host, video: room.video, started_ms: room.started_ms, duration_ms });
        }
        out
    }

    /// Whether the room of `key` is on.
    pub fn holds(&self, key: &RoomKey) -> bool {
        self.rooms.contains_key(key)
    }

    /// The peer of this connection in this room.
    pub fn peer_in(&self, conn: ConnId, key: &RoomKey) -> Option<PeerId> {
        let room = self.rooms.get(key)?;
        room.members.iter().find(|(_, m)| m.conn == conn).map(|(p, _)| *p)
    }

    /// The places a guest joining `key` takes over, to be left first: a
    /// connection is in one room at a time, and a user has one place in a
    /// room (joining from another tab or device moves it). The connection's
    /// own earlier join of this room is not among them: it is replaced.
    pub fn displaced_by(&self, key: &RoomKey, guest: &Guest) -> Vec<PeerId> {
        let elsewhere = self.members().filter(|(p, m)| m.conn == guest.conn && self.peers.get(p) != Some(key));
        let other_tabs = self.rooms.get(key).into_iter().flat_map(|r| {
            r.members.iter().filter(|(_, m)| m.user == guest.user && m.conn != guest.conn).map(|(p, m)| (*p, m))
        });
        elsewhere.chain(other_tabs).map(|(p, _)| p).collect()
    }

    /// Every peer of a connection, in any room.
    pub fn peers_of_conn(&self, conn: ConnId) -> Vec<PeerId> {
        self.members().filter(|(_, m)| m.conn == conn).map(|(p, _)| p).collect()
    }

    /// Every peer of a user in the rooms of a conversation.
    pub fn peers_of_user(&self, conversation: &ConversationId, user: &UserId) -> Vec<PeerId> {
        self.rooms
            .iter()
            .filter(|(k, _)| &k.conversation == conversation)
            .flat_map(|(_, r)| r.members.iter().filter(|(_, m)| &m.user == user).map(|(p, _)| *p))
            .collect()
    }

    fn members(&self) -> impl Iterator<Item = (PeerId, &Member)> {
        self.rooms.values().flat_map(|r| r.members.iter().map(|(p, m)| (*p, m)))
    }

    fn member(&self, peer: PeerId) -> Option<(&Room, &Member)> {
        let room = self.rooms.get(self.peers.get(&peer)?)?;
        Some((room, room.members.get(&peer)?))
    }

    pub fn key_of(&self, peer: PeerId) -> Option<&RoomKey> {
        self.peers.get(&peer)
    }

    pub fn user_of(&self, peer: PeerId) -> Option<&UserId> {
        self.member(peer).map(|(_, m)| &m.user)
    }

    pub fn conn_of(&self, peer: PeerId) -> Option<ConnId> {
        self.member(peer).map(|(_, m)| m.conn)
    }

    /// Whether what this peer sends is forwarded at all (viewers send nothing).
    pub fn publishes(&self, peer: PeerId) -> bool {
        self.member(peer).is_some_and(|(_, m)| m.role != RoomRole::Viewer)
    }

    /// The peers that receive what `peer` publishes.
    pub fn subscribers(&self, peer: PeerId) -> Vec<PeerId> {
        if !self.publishes(peer) {
            return Vec::new();
        }
        let Some((room, _)) = self.member(peer) else { return Vec::new() };
        room.members.iter().filter(|(p, m)| **p != peer && m.role != RoomRole::Broadcaster).map(|(p, _)| *p).collect()
    }

    /// The peers whose media `peer` receives.
    pub fn sources(&self, peer: PeerId) -> Vec<PeerId> {
        let Some((room, me)) = self.member(peer) else { return Vec::new() };
        if me.role == RoomRole::Broadcaster {
            return Vec::new();
        }
        room.members.iter().filter(|(p, m)| **p != peer && m.role != RoomRole::Viewer).map(|(p, _)| *p).collect()
    }

    /// The peer's microphone carried sound at `now`.
    pub fn heard(&mut self, peer: PeerId, now: Instant) {
        let Some(key) = self.peers.get(&peer) else { return };
        if let Some(m) = self.rooms.get_mut(key).and_then(|r| r.members.get_mut(&peer)) {
            m.heard_at = Some(now);
            if !m.speaking {
                m.speaking = true;
                self.changed.insert(key.clone());
            }
        }
    }

    /// Lets speaking flags of those no longer heard expire.
    pub fn tick(&mut self, now: Instant) {
        for (key, room) in &mut self.rooms {
            for m in room.members.values_mut() {
                let speaking = m.heard_at.is_some_and(|at| now.saturating_duration_since(at) < SPEAKING_HOLDS);
                if speaking != m.speaking {
                    m.speaking = speaking;
                    self.changed.insert(key.clone());
                }
            }
        }
    }

    /// What changed since the last call: the rooms' new states (`None` for
    /// the ones that ended) and the ended rooms to record.
    pub fn take_changes(&mut self) -> (Vec<RoomUpdate>, Vec<Ended>) {
        let updates = std::mem::take(&mut self.changed).into_iter().map(|key| self.update(&key)).collect();
        (updates, std::mem::take(&mut self.ended))
    }

    /// The rooms in progress in these conversations.
    pub fn in_progress(&self, conversations: &[ConversationId]) -> Vec<RoomUpdate> {
        let mut keys: Vec<&RoomKey> = self.rooms.keys().filter(|k| conversations.contains(&k.conversation)).collect();
        keys.sort();
        keys.into_iter().map(|k| self.update(k)).collect()
    }

    fn update(&self, key: &RoomKey) -> RoomUpdate {
        let state = self.rooms.get(key).map(|room| RoomState {
            video: room.video,
            started_ms: room.started_ms,
            participants: room
                .members
                .values()
                .filter(|m| m.role != RoomRole::Viewer)
                .map(|m| RoomParticipant { user_id: m.user.clone(), speaking: m.speaking })
                .collect(),
            viewers: room.members.values().filter(|m| m.role == RoomRole::Viewer).count() as u32,
        });
        RoomUpdate { conversation_id: key.conversation.clone(), kind: key.kind, state }
    }

    /// Number of peers in all rooms.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: RoomKind) -> RoomKey {
        RoomKey { conversation: ConversationId::from("g"), kind }
    }

    fn guest(user: &str, conn: ConnId, role: RoomRole, video: bool) -> Guest {
        Guest { user: UserId::from(user), conn, role, video }
    }

    fn join(rooms: &mut Rooms, kind: RoomKind, user: &str, conn: ConnId, role: RoomRole) -> Result<PeerId, Refusal> {
        rooms.join(&key(kind), guest(user, conn, role, true), Instant::now(), 1000).map(|j| j.peer)
    }

    #[test]
    fn call_participants_receive_each_other_and_the_last_to_leave_ends_it() {
        let mut rooms = Rooms::default();
        let start = Instant::now();
        let a = rooms.join(&key(RoomKind::Call), guest("a", 1, RoomRole::Participant, false), start, 1000).unwrap();
        let b = join(&mut rooms, RoomKind::Call, "b", 2, RoomRole::Participant).unwrap();
        let c = join(&mut rooms, RoomKind::Call, "c", 3, RoomRole::Participant).unwrap();
        assert_eq!(a.replaced, None);
        assert_eq!(rooms.subscribers(a.peer), vec![b, c]);
        assert_eq!(rooms.sources(b), vec![a.peer, c]);
        let (updates, ended) = rooms.take_changes();
        let state = updates[0].state.as_ref().unwrap();
        assert_eq!(state.participants.len(), 3);
        assert!(!state.video, "the first joiner chose a voice call");
        assert!(ended.is_empty());

        assert!(rooms.leave(b, start).is_empty());
        assert_eq!(rooms.subscribers(a.peer), vec![c]);
        rooms.leave(a.peer, start);
        rooms.leave(c, start + Duration::from_secs(90));
        let (updates, ended) = rooms.take_changes();
        assert_eq!(updates, vec![RoomUpdate { conversation_id: ConversationId::from("g"), kind: RoomKind::Call, state: None }]);
        let record = Ended { key: key(RoomKind::Call), host: UserId::from("a"), video: false, started_ms: 1000, duration_ms: 90_000 };
        assert_eq!(ended, vec![record]);
        assert_eq!(rooms.peer_count(), 0);
    }

    #[test]
    fn a_broadcast_goes_to_its_viewers_only_and_ends_with_its_broadcaster() {
        let mut rooms = Rooms::default();
        assert_eq!(join(&mut rooms, RoomKind::Live, "v", 9, RoomRole::Viewer), Err(Refusal::NoRoom));
        let b = join(&mut rooms, RoomKind::Live, "b", 1, RoomRole::Broadcaster).unwrap();
        assert_eq!(join(&mut rooms, RoomKind::Live, "x", 2, RoomRole::Broadcaster), Err(Refusal::Full));
        assert_eq!(join(&mut rooms, RoomKind::Live, "x", 2, RoomRole::Participant), Err(Refusal::BadRole));
        let v1 = join(&mut rooms, RoomKind::Live, "v1", 3, RoomRole::Viewer).unwrap();
        let v2 = join(&mut rooms, RoomKind::Live, "v2", 4, RoomRole::Viewer).unwrap();
        assert_eq!(rooms.subscribers(b), vec![v1, v2]);
        assert!(rooms.subscribers(v1).is_empty(), "viewers send nothing");
        assert_eq!(rooms.sources(v2), vec![b]);
        assert!(rooms.sources(b).is_empty());
        let (updates, _) = rooms.take_changes();
        let state = updates[0].state.as_ref().unwrap();
        assert_eq!((state.participants.len(), state.viewers), (1, 2));

        assert_eq!(rooms.leave(b, Instant::now()), vec![v1, v2]);
        let (updates, ended) = rooms.take_changes();
        assert_eq!(updates[0].state, None);
        assert_eq!(ended.len(), 1);
        assert!(ended[0].video && ended[0].host == UserId::from("b"));
        assert_eq!(rooms.peer_count(), 0);
        assert!(rooms.leave(v1, Instant::now()).is_empty(), "leaving twice is harmless");
    }

    #[test]
    fn rejoining_on_one_connection_replaces_the_older_peer() {
        let mut rooms = Rooms::default();
        let first = join(&mut rooms, RoomKind::Call, "a", 1, RoomRole::Participant).unwrap();
        let again = rooms.join(&key(RoomKind::Call), guest("a", 1, RoomRole::Participant, true), Instant::now(), 0);
        let again = again.unwrap();
        assert_eq!(again.replaced, Some(first));
        assert_eq!(rooms.peer_count(), 1);
        assert_eq!(rooms.peers_of_conn(1), vec![again.peer]);
        let (_, ended) = rooms.take_changes();
        assert!(ended.is_empty(), "the room went on");
    }

    #[test]
    fn calls_are_capped_and_users_found_by_conversation() {
        let mut rooms = Rooms::default();
        for i in 0..MAX_CALL_PARTICIPANTS as u64 {
            join(&mut rooms, RoomKind::Call, &format!("u{i}"), i, RoomRole::Participant).unwrap();
        }
        assert_eq!(join(&mut rooms, RoomKind::Call, "late", 99, RoomRole::Participant), Err(Refusal::Full));
        let u3 = rooms.peers_of_user(&ConversationId::from("g"), &UserId::from("u3"));
        assert_eq!(u3.len(), 1);
        assert_eq!(rooms.user_of(u3[0]), Some(&UserId::from("u3")));
        assert!(rooms.peers_of_user(&ConversationId::from("other"), &UserId::from("u3")).is_empty());
    }

    #[test]
    fn speaking_shows_while_heard_and_expires() {
        let mut rooms = Rooms::default();
        let a = join(&mut rooms, RoomKind::Call, "a", 1, RoomRole::Participant).unwrap();
        rooms.take_changes();
        let t = Instant::now();
        rooms.heard(a, t);
        let (updates, _) = rooms.take_changes();
        assert!(updates[0].state.as_ref().unwrap().participants[0].speaking);
        rooms.heard(a, t + Duration::from_millis(100));
        rooms.tick(t + Duration::from_millis(300));
        assert!(rooms.take_changes().0.is_empty(), "no change while still speaking");
        rooms.tick(t + Duration::from_secs(2));
        let (updates, _) = rooms.take_changes();
        assert!(!updates[0].state.as_ref().unwrap().participants[0].speaking);
        assert_eq!(rooms.in_progress(&[ConversationId::from("g")]).len(), 1);
        assert!(rooms.in_progress(&[ConversationId::from("h")]).is_empty());
    }

    #[test]
    fn a_connection_is_in_one_room_and_a_user_has_one_place_in_each() {
        let mut rooms = Rooms::default();
        let other = RoomKey { conversation: ConversationId::from("h"), kind: RoomKind::Call };
        let first = join(&mut rooms, RoomKind::Call, "a", 1, RoomRole::Participant).unwrap();
        let elsewhere = rooms.join(&other, guest("a", 1, RoomRole::Participant, false), Instant::now(), 1000).unwrap();
        let _b = join(&mut rooms, RoomKind::Call, "b", 2, RoomRole::Participant).unwrap();
        assert_eq!(rooms.displaced_by(&key(RoomKind::Call), &guest("a", 1, RoomRole::Participant, false)), vec![elsewhere.peer]);
        assert_eq!(rooms.displaced_by(&key(RoomKind::Call), &guest("a", 3, RoomRole::Participant, false)), vec![first]);
        assert_eq!(rooms.displaced_by(&key(RoomKind::Call), &guest("c", 4, RoomRole::Participant, false)), Vec::<PeerId>::new());
    }
}
