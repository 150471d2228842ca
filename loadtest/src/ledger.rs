//! The accounting of one websocket client: latencies, counts, errors, and per
//! conversation the highest sequence number received, from which lost and
//! duplicated messages are counted.
//!
//! Every send carries its send time in its client id, so the sender's ack and
//! every recipient's copy give a latency without any shared table.

use std::{
    borrow::Cow,
    collections::{BTreeMap, HashMap},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, LazyLock, Mutex,
    },
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use hdrhistogram::Histogram;
use serde::Deserialize;
use wire::model::{ConversationId, Message, Millis};

/// When the tool started: the instant latencies count from, and the wall
/// clock then (Unix ms), so that one clock read at a delivery gives both.
static EPOCH: LazyLock<(Instant, u64)> = LazyLock::new(|| {
    (Instant::now(), SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64))
});

/// Microseconds since the tool started.
pub fn now_us() -> u64 {
    EPOCH.0.elapsed().as_micros() as u64
}

/// The wall clock (Unix ms) at `us` microseconds since the tool started.
fn unix_ms(us: u64) -> u64 {
    EPOCH.1 + us / 1000
}

/// A client id that says who sent it and when: `<sender>-<n>-<µs>`.
pub fn client_id(sender: usize, n: u64) -> String {
    format!("{sender}-{n}-{}", now_us())
}

/// The client id of a change (an edit or a reaction): `c<sender>-<n>-<µs>`,
/// so that its ack is not taken for a message one may change.
pub fn change_id(sender: usize, n: u64) -> String {
    format!("c{}", client_id(sender, n))
}

fn sent_at(client_id: &str) -> Option<u64> {
    client_id.rsplit('-').next()?.parse().ok()
}

/// What the ledger reads of a delivered message: the fields it checks.
/// Read from a frame's text straight, borrowing its strings, since reading
/// each frame whole was most of this tool's CPU under fan-out (its strings
/// allocated, and the internally tagged frame buffered by serde first).
#[derive(Deserialize)]
pub struct Delivered<'a> {
    #[serde(borrow)]
    pub conversation_id: Cow<'a, str>,
    pub seq: u64,
    #[serde(borrow)]
    pub client_id: Cow<'a, str>,
    #[serde(default)]
    pub created_ms: Millis,
}

impl<'a> Delivered<'a> {
    /// The message of a `message` frame, or `None` for any other frame. The
    /// server writes compact JSON with the frame's type first. Read as
    /// bytes: the websocket checked the frame's UTF-8 already, and the scan
    /// checks only the strings it keeps.
    pub fn from_frame(text: &'a [u8]) -> Option<serde_json::Result<Delivered<'a>>> {
        let message = text.strip_prefix(br#"{"type":"message","message":"#)?.strip_suffix(b"}")?;
        Some(Delivered::scan(message).map_or_else(|| serde_json::from_slice(message), Ok))
    }

    /// The four fields read in one pass over the message as the server
    /// writes it, its fields in their declared order, without reading the
    /// rest: serde skipping the other fields' strings was 17% of the
    /// generator's CPU at 600,000 deliveries/s (and searching for each key, 7%).
    /// `None` when the text is not laid out so, or an id has an escape; serde reads those.
    fn scan(message: &'a [u8]) -> Option<Delivered<'a>> {
        let mut text = Cursor(message);
        text.skip_string(r#"{"id":"#)?;
        let conversation_id = text.plain_string(r#","conversation_id":"#)?;
        let seq = text.number(r#","seq":"#)?;
        text.number(r#","shown":"#)?;
        text.skip_string(r#","sender_id":"#)?;
        let client_id = text.plain_string(r#","client_id":"#)?;
        text.skip_string(r#","kind":"#)?;
        text.skip_string(r#","content":"#)?;
        let created_ms = Millis::try_from(text.number(r#","created_ms":"#)?).ok()?;
        Some(Delivered { conversation_id: Cow::Borrowed(conversation_id), seq, client_id: Cow::Borrowed(client_id), created_ms })
    }
}

/// What is left of a message being scanned.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    /// Past `key` (with its colon), which must come next.
    fn key(&mut self, key: &str) -> Option<()> {
        self.0 = self.0.strip_prefix(key.as_bytes())?;
        Some(())
    }

    /// The string after `key`, if it has no escape.
    fn plain_string(&mut self, key: &str) -> Option<&'a str> {
        self.key(key)?;
        let rest = self.0.strip_prefix(b"\"")?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        (rest[end] == b'"').then_some(())?;
        self.0 = &rest[end + 1..];
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// Past the string after `key`, escapes and all.
    fn skip_string(&mut self, key: &str) -> Option<()> {
        self.key(key)?;
        let bytes = self.0.strip_prefix(b"\"")?;
        let mut at = 0;
        loop {
            at += memchr::memchr2(b'"', b'\\', &bytes[at..])?;
            if bytes[at] == b'"' {
                self.0 = &bytes[at + 1..];
                return Some(());
            }
            at += 2; // the backslash and the character it escapes
            if at > bytes.len() {
                return None;
            }
        }
    }

    /// The unsigned integer after `key`.
    fn number(&mut self, key: &str) -> Option<u64> {
        self.key(key)?;
        let digits = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        let (number, rest) = self.0.split_at(digits);
        self.0 = rest;
        std::str::from_utf8(number).ok()?.parse().ok()
    }
}

impl<'a> From<&'a Message> for Delivered<'a> {
    fn from(message: &'a Message) -> Self {
        Delivered {
            conversation_id: Cow::Borrowed(&message.conversation_id.0),
            seq: message.seq,
            client_id: Cow::Borrowed(&message.client_id),
            created_ms: message.created_ms,
        }
    }
}

/// Counters every client bumps, read by the progress line.
pub static SENT: AtomicU64 = AtomicU64::new(0);
pub static ACKED: AtomicU64 = AtomicU64::new(0);
pub static DELIVERED: AtomicU64 = AtomicU64::new(0);

/// A latency histogram in µs, to 2 significant digits (within 1%), sized
/// to the largest value recorded yet: when each client kept three at 3
/// digits up to 10 minutes, 180 KB each, recording missed the cache at every
/// delivery and starting a window zeroed 540 MB (together a fifth of the
/// generator's CPU in `perf`). Now a fleet keeps three ([`Window`]).
pub fn histogram() -> Histogram<u64> {
    Histogram::new(2).expect("valid precision")
}

/// What a window of time measured; merged over clients.
#[derive(Clone)]
pub struct Tally {
    /// send → ack, µs.
    pub ack: Histogram<u64>,
    /// send → deliver, µs.
    pub deliver: Histogram<u64>,
    /// stored → deliver (the message's `created_ms` to its arrival), µs: how
    /// late readers are, without the time a send waited to be stored.
    pub stored: Histogram<u64>,
    pub acks: u64,
    pub deliveries: u64,
    pub errors: BTreeMap<String, u64>,
}

impl Default for Tally {
    fn default() -> Self {
        let errors = BTreeMap::new();
        Tally { ack: histogram(), deliver: histogram(), stored: histogram(), acks: 0, deliveries: 0, errors }
    }
}

impl Tally {
    pub fn merge(&mut self, other: &Tally) {
        self.ack.add(&other.ack).expect("same bounds");
        self.deliver.add(&other.deliver).expect("same bounds");
        self.stored.add(&other.stored).expect("same bounds");
        self.acks += other.acks;
        self.deliveries += other.deliveries;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
    }

    pub fn error(&mut self, code: impl Into<String>) {
        *self.errors.entry(code.into()).or_default() += 1;
    }
}

/// The acks one client got in one conversation.
#[derive(Clone, Copy, Default, Debug)]
pub struct Acked {
    pub count: u64,
    pub max_seq: u64,
}

/// What a fleet's clients measured since it was last taken, one for all
/// of them: a thousand clients with three histograms each missed the cache
/// at nearly every delivery recorded (6% of the generator's CPU), and
/// windows are only ever merged.
pub type Window = Arc<Mutex<Tally>>;

/// One client's whole account.
#[derive(Default)]
pub struct Ledger {
    /// Shared with the other clients of its fleet.
    pub window: Window,
    /// Per conversation (its id), the highest sequence number received in
    /// order. A client is in one or two: comparing their ids costs less than
    /// hashing one at every delivery.
    pub cursors: BTreeMap<String, u64>,
    pub acked: HashMap<ConversationId, Acked>,
    /// Messages that arrived past a gap: the skipped ones are lost.
    pub skipped: u64,
    /// Messages that arrived at or below the cursor: a repeat (or out of order).
    pub duplicated: u64,
    /// The server closed this client (code), or the socket failed (0).
    pub closed: Option<u16>,
    /// Sends answered with an ack or an error.
    pub answered: u64,
    /// Sends refused with a time to wait (`retry`, `rate_limited`), sent again after it.
    pub pushed_back: u64,
    /// Per conversation, the seq of this client's newest acked message (not
    /// a change): what its edits and reactions change.
    pub own_newest: HashMap<ConversationId, u64>,
}

impl Ledger {
    pub fn on_ack(&mut self, client_id: &str, conversation: &ConversationId, seq: u64, duplicate: bool) {
        let mut window = self.window.lock().unwrap();
        if duplicate {
            window.error("duplicate_ack");
        }
        if let Some(at) = sent_at(client_id) {
            let _ = window.ack.record(now_us().saturating_sub(at).max(1));
        }
        window.acks += 1;
        drop(window);
        self.answered += 1;
        ACKED.fetch_add(1, Ordering::Relaxed);
        let acked = self.acked.entry(conversation.clone()).or_default();
        acked.count += 1;
        acked.max_seq = acked.max_seq.max(seq);
        if !client_id.starts_with('c') {
            let newest = self.own_newest.entry(conversation.clone()).or_default();
            *newest = (*newest).max(seq);
        }
    }

    pub fn on_message(&mut self, message: &Delivered) {
        let now = now_us();
        let mut window = self.window.lock().unwrap();
        if let Some(at) = sent_at(&message.client_id) {
            let _ = window.deliver.record(now.saturating_sub(at).max(1));
        }
        if message.created_ms > 0 {
            let _ = window.stored.record(unix_ms(now).saturating_sub(message.created_ms as u64).max(1) * 1000);
        }
        window.deliveries += 1;
        drop(window);
        DELIVERED.fetch_add(1, Ordering::Relaxed);
        let conversation = message.conversation_id.as_ref();
        let cursor = match self.cursors.get_mut(conversation) {
            Some(cursor) => cursor,
            None => self.cursors.entry(conversation.to_owned()).or_insert(0),
        };
        if message.seq <= *cursor {
            self.duplicated += 1;
            return;
        }
        self.skipped += message.seq - *cursor - 1;
        *cursor = message.seq;
    }

    /// An error frame; one that names a send answers it.
    pub fn on_error(&mut self, code: String, answers_send: bool) {
        self.window.lock().unwrap().error(code);
        self.answered += u64::from(answers_send);
    }

    /// A ledger that measures into `window`.
    pub fn new(window: Window) -> Ledger {
        Ledger { window, ..Ledger::default() }
    }
}

/// What was measured into `window` since it was last taken, by any of the
/// clients sharing it.
pub fn take_window(window: &Window) -> Tally {
    std::mem::take(&mut *window.lock().unwrap())
}

#[cfg(test)]
mod tests {
    use wire::model::{MessageId, MessageKind, UserId};

    use super::*;

    fn message(seq: u64) -> Message {
        Message {
            id: MessageId(format!("m{seq}")),
            conversation_id: ConversationId("c".into()),
            seq,
            sender_id: UserId("u".into()),
            client_id: client_id(1, seq),
            kind: MessageKind::Text,
            content: "hi".into(),
            created_ms: 0,
            ..Default::default()
        }
    }

    #[test]
    fn in_order_deliveries_count_nothing_lost() {
        let mut ledger = Ledger::default();
        (1..=3).for_each(|seq| ledger.on_message(&(&message(seq)).into()));
        assert_eq!((ledger.skipped, ledger.duplicated), (0, 0));
        assert_eq!(ledger.cursors["c"], 3);
        assert_eq!(take_window(&ledger.window).deliveries, 3);
        assert_eq!(take_window(&ledger.window).deliveries, 0, "a window starts afresh");
    }

    #[test]
    fn gaps_are_lost_and_repeats_duplicated() {
        let mut ledger = Ledger::default();
        for seq in [1, 2, 5, 5, 3, 6] {
            ledger.on_message(&(&message(seq)).into());
        }
        assert_eq!(ledger.skipped, 2, "3 and 4 skipped (3 arriving late does not undo it)");
        assert_eq!(ledger.duplicated, 2, "the second 5, and 3 after 5");
    }

    #[test]
    fn acks_record_latency_and_the_highest_seq() {
        let mut ledger = Ledger::default();
        let conversation = ConversationId("c".into());
        ledger.on_ack(&client_id(1, 1), &conversation, 7, false);
        ledger.on_ack(&client_id(1, 2), &conversation, 4, true);
        ledger.on_error("rate_limited".into(), true);
        ledger.on_ack(&change_id(1, 3), &conversation, 9, false);
        let acked = ledger.acked[&conversation];
        assert_eq!((acked.count, acked.max_seq, ledger.answered), (3, 9, 4));
        assert_eq!(ledger.own_newest[&conversation], 7, "a change is no message to change");
        let window = take_window(&ledger.window);
        assert_eq!(window.ack.len(), 3);
        assert_eq!(window.errors["duplicate_ack"], 1);
        assert_eq!(window.errors["rate_limited"], 1);
    }

    #[test]
    fn a_message_frame_is_read_as_the_full_frame_reads_it() {
        let mut message = message(7);
        message.conversation_id = ConversationId("c\"quoted\"".into());
        message.created_ms = 1234;
        let text = serde_json::to_string(&wire::protocol::ServerFrame::Message { message: message.clone() }).unwrap();
        let delivered = Delivered::from_frame(text.as_bytes()).expect("a message frame").unwrap();
        let full = Delivered::from(&message);
        assert_eq!((delivered.conversation_id, delivered.seq), (full.conversation_id, full.seq));
        assert_eq!((delivered.client_id, delivered.created_ms), (full.client_id, full.created_ms));
        let ack = r#"{"type":"ack","client_id":"1-2-3","conversation_id":"c","seq":1}"#;
        assert!(Delivered::from_frame(ack.as_bytes()).is_none(), "other frames are read whole");
    }

    #[test]
    fn the_scan_reads_what_serde_reads_or_leaves_it_to_serde() {
        let plain = Message { created_ms: 1_700_000_000_000, ..message(42) };
        // Text that looks like the keys, escaped as JSON escapes it, and a file after the fields.
        let mut tricky = Message { content: r#"{"seq":1,"client_id":"x"} \ "#.into(), ..message(43) };
        tricky.attachment = Some(Box::new(wire::model::Attachment {
            file_id: wire::model::FileId("f".into()),
            name: "seq.txt".into(),
            mime: "text/plain".into(),
            size: 9,
            sha256: "0".repeat(64),
            width: None,
            height: None,
            duration_ms: Some(5),
            thumbnail: false,
        }));
        let escaped = Message { client_id: "a\\b".into(), ..message(44) };
        for (message, scanned) in [(plain, true), (tricky, true), (escaped, false)] {
            let text = serde_json::to_string(&message).unwrap();
            let by_serde: Delivered = serde_json::from_str(&text).unwrap();
            let by_scan = Delivered::scan(text.as_bytes());
            assert_eq!(by_scan.is_some(), scanned, "{text}");
            if let Some(d) = by_scan {
                assert_eq!((&d.conversation_id, d.seq, &d.client_id, d.created_ms), (&by_serde.conversation_id, by_serde.seq, &by_serde.client_id, by_serde.created_ms));
            }
        }
    }

    #[test]
    fn client_ids_carry_their_send_time() {
        let id = client_id(12, 34);
        assert!(id.starts_with("12-34-"));
        assert!(id.len() <= wire::protocol::MAX_CLIENT_ID_CHARS);
        assert!(sent_at(&id).unwrap() <= now_us());
    }
}
