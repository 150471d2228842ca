//! A connection's mailbox: the events this node's hub hands one websocket
//! session, bounded so that a slow reader costs bounded memory, yet never
//! closed for being slow while it still reads.
//!
//! Up to [`CAPACITY`] events queue in order. Past that, what can be had
//! again later is not queued:
//! - a message (or change) of a conversation is skipped, and the mailbox
//!   notes that the conversation has more from that seq; further messages
//!   of that conversation are skipped too until the session has taken the
//!   note, which it does once it has drained the queue, and then fills the
//!   skipped range from the store in order (the same cursors as a resume);
//! - presence, read positions and receipts keep only the latest per
//!   conversation (and user), since a later one supersedes an earlier one;
//! - typing is dropped: it shows for a few seconds only.
//!
//! Everything else (joins, leaves, sign-outs, calls, rooms) cannot be
//! fetched again and has a [`RESERVE`] beyond the capacity. A reader that
//! overflows the reserve, or has been skipping for [`BEHIND_LIMIT`]
//! without once draining, has truly stopped: its mailbox closes and the
//! session ends with 1013 (the client resumes on reconnect). One that
//! stops reading altogether is also caught by the session's write timeout.
//!
//! Long before that, a mailbox whose oldest event has waited [`LATE`] is
//! late until it is nearly drained: the node counts late mailboxes (see
//! `pressure.rs`), so that it can hold its senders while most of its
//! readers are late, before any falls behind.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use tokio::sync::Notify;
use wire::model::{ConversationId, UserId};

use super::{delivery::Delivery, event::HubEvent, pressure::Pressure};

/// Events a mailbox queues before it starts skipping what can be fetched again.
pub const CAPACITY: usize = 1024;
/// Events that cannot be fetched again, queued beyond [`CAPACITY`].
pub const RESERVE: usize = 64;
/// Queue slots a drained mailbox keeps: what a burst grew it to is given
/// back, since an idle connection holds its mailbox for hours.
const KEPT_WHEN_EMPTY: usize = 16;
/// How long a mailbox may skip messages without its session once draining it.
pub const BEHIND_LIMIT: Duration = Duration::from_secs(30);
/// How long the oldest queued event may wait before the mailbox is late;
/// it is on time again once the oldest has waited less than half of it.
pub const LATE: Duration = Duration::from_millis(250);

/// What a session takes from its mailbox next.
pub enum Next {
    Event(Arc<Delivery>),
    /// Messages were skipped: per conversation, the first seq skipped. The
    /// session fills each from the store, from its cursor to the end.
    Behind(Vec<(ConversationId, u64)>),
    /// The reader stopped (or the hub let the connection go): end the session.
    Closed,
}

/// Events of which only the latest counts, held apart while the queue is full.
#[derive(Debug, Hash, PartialEq, Eq)]
enum Latest {
    Presence(UserId, ConversationId),
    Read(ConversationId),
    Receipt(ConversationId, UserId),
}

#[derive(Default)]
struct State {
    /// Events in order, each with when it was queued.
    queue: VecDeque<(Arc<Delivery>, Instant)>,
    latest: HashMap<Latest, Arc<Delivery>>,
    /// Conversations whose messages are being skipped, from this seq.
    behind: HashMap<ConversationId, u64>,
    /// When the mailbox started skipping, until the session takes the notes.
    behind_since: Option<Instant>,
    /// Counted late by the node (see [`LATE`]).
    late: bool,
    closed: bool,
}

pub struct Mailbox {
    state: Mutex<State>,
    ready: Notify,
    pressure: Arc<Pressure>,
}

impl Mailbox {
    pub fn new(pressure: Arc<Pressure>) -> Mailbox {
        Mailbox { state: Mutex::default(), ready: Notify::new(), pressure }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands the session an event. False when the mailbox is closed, now
    /// or before: the reader stopped, and the hub lets it go.
    pub fn push(&self, delivery: &Arc<Delivery>, now: Instant) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        if state.behind_since.is_some_and(|since| now.duration_since(since) > BEHIND_LIMIT) {
            self.shut(&mut state);
            return false;
        }
        let full = state.queue.len() >= CAPACITY;
        match &delivery.event {
            HubEvent::Message { message } if full || state.behind.contains_key(&message.conversation_id) => {
                let from = state.behind.entry(message.conversation_id.clone()).or_insert(message.seq);
                *from = (*from).min(message.seq);
                if state.behind_since.is_none() {
                    state.behind_since = Some(now);
                    self.pressure.behind.up();
                }
                metrics::counter!("natter_ws_skipped_total").increment(1);
                return true;
            }
            HubEvent::Typing { .. } if full => return true,
            event if full => match latest(event) {
                Some(keys) => {
                    for (key, delivery) in keys.into_iter().zip(split(delivery)) {
                        state.latest.insert(key, delivery);
                    }
                    metrics::counter!("natter_ws_coalesced_total").increment(1);
                }
                None if state.queue.len() >= CAPACITY + RESERVE => {
                    self.shut(&mut state);
                    return false;
                }
                None => state.queue.push_back((delivery.clone(), now)),
            },
            _ => state.queue.push_back((delivery.clone(), now)),
        }
        if !state.late && is_late(&state.queue, now, LATE) {
            state.late = true;
            self.pressure.late.up();
        }
        drop(state);
        self.ready.notify_one();
        true
    }

    /// The next thing for the session: queued events in order, then the
    /// latest of those kept apart, then the notes of what was skipped.
    pub fn try_next(&self) -> Option<Next> {
        let mut state = self.lock();
        if state.closed {
            return Some(Next::Closed);
        }
        if state.queue.is_empty() && !state.latest.is_empty() {
            let now = Instant::now();
            let latest: Vec<_> = state.latest.drain().map(|(_, d)| (d, now)).collect();
            state.queue.extend(latest);
        }
        if let Some((delivery, _)) = state.queue.pop_front() {
            if state.queue.is_empty() {
                state.queue.shrink_to(KEPT_WHEN_EMPTY);
            }
            if state.late && !is_late(&state.queue, Instant::now(), LATE / 2) {
                state.late = false;
                self.pressure.late.down();
            }
            return Some(Next::Event(delivery));
        }
        if state.behind.is_empty() {
            return None;
        }
        if state.behind_since.take().is_some() {
            self.pressure.behind.down();
        }
        Some(Next::Behind(state.behind.drain().collect()))
    }

    /// Waits for [`Mailbox::try_next`] to have something. Cancel-safe.
    pub async fn recv(&self) -> Next {
        loop {
            if let Some(next) = self.try_next() {
                return next;
            }
            self.ready.notified().await;
        }
    }

    /// Whether nothing waits for the session.
    pub fn is_empty(&self) -> bool {
        let state = self.lock();
        state.queue.is_empty() && state.latest.is_empty() && state.behind.is_empty()
    }

    /// Closes the mailbox: the session ends at its next look.
    pub fn close(&self) {
        let mut state = self.lock();
        self.empty(&mut state);
    }

    /// Closes the mailbox of a reader that stopped.
    fn shut(&self, state: &mut State) {
        self.empty(state);
        metrics::counter!("natter_ws_dropped_slow_total").increment(1);
    }

    /// Drops what is waiting, closed for good.
    fn empty(&self, state: &mut State) {
        if state.behind_since.take().is_some() {
            self.pressure.behind.down();
        }
        if state.late {
            self.pressure.late.down();
        }
        *state = State { closed: true, ..State::default() };
        self.ready.notify_one();
    }
}

/// Whether the oldest of `queue` has waited `wait` or longer by `now`.
fn is_late(queue: &VecDeque<(Arc<Delivery>, Instant)>, now: Instant, wait: Duration) -> bool {
    queue.front().is_some_and(|(_, queued)| now.saturating_duration_since(*queued) >= wait)
}

/// Which kept-apart slots an event fills, if only the latest of it counts.
fn latest(event: &HubEvent) -> Option<Vec<Latest>> {
    match event {
        HubEvent::Presence { user_id, shown } => {
            Some(shown.iter().map(|(c, _)| Latest::Presence(user_id.clone(), c.clone())).collect())
        }
        HubEvent::Read { conversation_id, .. } => Some(vec![Latest::Read(conversation_id.clone())]),
        HubEvent::Receipt { conversation_id, receipt, .. } => {
            Some(vec![Latest::Receipt(conversation_id.clone(), receipt.user_id.clone())])
        }
        _ => None,
    }
}

/// The event as one delivery per slot of [`latest`]: a presence change of
/// several conversations is superseded conversation by conversation.
fn split(delivery: &Arc<Delivery>) -> Vec<Arc<Delivery>> {
    match &delivery.event {
        HubEvent::Presence { user_id, shown } if shown.len() > 1 => shown
            .iter()
            .map(|one| {
                let event = HubEvent::Presence { user_id: user_id.clone(), shown: vec![one.clone()] };
                Arc::new(Delivery::new(event))
            })
            .collect(),
        _ => vec![delivery.clone()],
    }
}

#[cfg(test)]
mod tests {
    use wire::model::{Message, MessageId, MessageKind, Presence};

    use super::*;

    fn message(conversation: &str, seq: u64) -> Arc<Delivery> {
        let message = Message {
            id: MessageId(format!("m{seq}")),
            conversation_id: ConversationId::from(conversation),
            seq,
            sender_id: UserId::from("a"),
            client_id: format!("k{seq}"),
            kind: MessageKind::Text,
            content: "hi".into(),
            created_ms: 0,
            ..Default::default()
        };
        Arc::new(Delivery::new(HubEvent::Message { message }))
    }

    fn event(event: HubEvent) -> Arc<Delivery> {
        Arc::new(Delivery::new(event))
    }

    /// A mailbox offered messages 1 to `count` of conversation "c" now.
    fn offered(count: u64) -> (Mailbox, Arc<Pressure>, Instant) {
        let pressure = Arc::new(Pressure::default());
        let (mailbox, now) = (Mailbox::new(pressure.clone()), Instant::now());
        for s in 1..=count {
            assert!(mailbox.push(&message("c", s), now));
        }
        (mailbox, pressure, now)
    }

    fn seq(next: Option<Next>) -> u64 {
        match next {
            Some(Next::Event(d)) => match &d.event {
                HubEvent::Message { message } => message.seq,
                other => panic!("not a message: {other:?}"),
            },
            _ => panic!("not an event"),
        }
    }

    #[test]
    fn a_full_mailbox_skips_messages_and_notes_where_they_resume() {
        let (mailbox, pressure, now) = offered(CAPACITY as u64 + 10);
        assert_eq!(pressure.behind.get(), 1);
        // Room again, but the conversation keeps skipping until the note is taken.
        assert_eq!(seq(mailbox.try_next()), 1);
        assert!(mailbox.push(&message("c", CAPACITY as u64 + 11), now));
        assert!(mailbox.push(&message("d", 1), now), "another conversation queues again");
        for s in 2..=CAPACITY as u64 {
            assert_eq!(seq(mailbox.try_next()), s);
        }
        assert_eq!(seq(mailbox.try_next()), 1, "d's message");
        match mailbox.try_next() {
            Some(Next::Behind(notes)) => assert_eq!(notes, vec![(ConversationId::from("c"), CAPACITY as u64 + 1)]),
            _ => panic!("not the notes"),
        }
        assert_eq!(pressure.behind.get(), 0);
        assert!(mailbox.try_next().is_none());
        assert!(mailbox.push(&message("c", CAPACITY as u64 + 12), now));
        assert_eq!(seq(mailbox.try_next()), CAPACITY as u64 + 12, "queued again once the note was taken");
    }

    #[test]
    fn a_mailbox_is_late_from_when_its_oldest_event_waited_too_long_until_it_is_nearly_drained() {
        let pressure = Arc::new(Pressure::default());
        let mailbox = Mailbox::new(pressure.clone());
        let now = Instant::now();
        let old = now.checked_sub(LATE).expect("the clock is past LATE");
        for s in 1..=3 {
            assert!(mailbox.push(&message("c", s), old));
        }
        assert_eq!(pressure.late.get(), 0, "nothing had waited when the last came");
        assert!(mailbox.push(&message("c", 4), now));
        assert_eq!(pressure.late.get(), 1);
        assert_eq!(seq(mailbox.try_next()), 1);
        assert_eq!(seq(mailbox.try_next()), 2);
        assert_eq!(pressure.late.get(), 1, "the oldest left has waited long still");
        assert_eq!(seq(mailbox.try_next()), 3);
        assert_eq!(pressure.late.get(), 0, "the oldest left came just now");
        assert!(mailbox.push(&message("c", 5), now + LATE));
        assert_eq!(pressure.late.get(), 1);
        mailbox.close();
        assert_eq!(pressure.late.get(), 0, "a closed mailbox counts as late no more");
    }

    #[test]
    fn superseded_events_keep_the_latest_and_typing_is_dropped() {
        let (mailbox, _, now) = offered(CAPACITY as u64);
        let (c, d, u) = (ConversationId::from("c"), ConversationId::from("d"), UserId::from("u"));
        let presence = |p| HubEvent::Presence { user_id: u.clone(), shown: vec![(c.clone(), p), (d.clone(), p)] };
        mailbox.push(&event(presence(Presence::Online)), now);
        mailbox.push(&event(HubEvent::Presence { user_id: u.clone(), shown: vec![(c.clone(), Presence::Away)] }), now);
        mailbox.push(&event(HubEvent::Typing { conversation_id: c.clone(), user_id: u.clone() }), now);
        for s in 1..=CAPACITY as u64 {
            assert_eq!(seq(mailbox.try_next()), s);
        }
        let mut shown = Vec::new();
        while let Some(Next::Event(d)) = mailbox.try_next() {
            let HubEvent::Presence { shown: one, .. } = &d.event else { panic!("{:?}", d.event) };
            shown.extend(one.iter().cloned());
        }
        shown.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
        assert_eq!(shown, vec![(c, Presence::Away), (d, Presence::Online)]);
    }

    #[test]
    fn a_reader_that_overflows_the_reserve_or_stays_behind_is_closed() {
        let (full, _, now) = offered(CAPACITY as u64);
        let joined = event(HubEvent::Joined { conversation_id: ConversationId::from("e"), user_id: UserId::from("u") });
        for _ in 0..RESERVE {
            assert!(full.push(&joined, now), "the reserve takes what cannot be fetched again");
        }
        assert!(!full.push(&joined, now));
        assert!(matches!(full.try_next(), Some(Next::Closed)));

        let (late, pressure, now) = offered(CAPACITY as u64 + 1);
        assert!(late.push(&message("c", CAPACITY as u64 + 2), now + BEHIND_LIMIT));
        assert!(!late.push(&message("c", CAPACITY as u64 + 3), now + BEHIND_LIMIT + Duration::from_secs(1)));
        assert!(matches!(late.try_next(), Some(Next::Closed)));
        assert_eq!(pressure.behind.get(), 0, "a closed mailbox counts as behind no more");
    }
}
