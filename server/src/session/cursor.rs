//! The ordering guarantee of a connection, without I/O: per conversation,
//! the highest sequence number the client has, and for each live message
//! whether to skip it, send it, or first fill the gap before it from the store.
//!
//! Catch-up and the live stream go through these same cursors, so they
//! cannot race: a live message at or below the cursor was delivered already
//! (by a fill, or by another node's copy of the event); one past the next
//! number waits until the missing ones are filled. Resuming is setting the
//! cursor and filling to the end.

use std::collections::HashMap;

use wire::model::ConversationId;

/// What to do with a live message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The client has it already.
    Skip,
    /// The next one: send it (the cursor has moved to it).
    Send,
    /// Messages `after + 1 ..= upto` are missing: fill them from the store,
    /// then offer this one again.
    Fill { after: u64, upto: u64 },
}

#[derive(Default)]
pub struct Cursors {
    at: HashMap<ConversationId, u64>,
}

impl Cursors {
    /// The client has everything of `conversation` up to `seq`.
    pub fn resume(&mut self, conversation: &ConversationId, seq: u64) {
        self.at.insert(conversation.clone(), seq);
    }

    /// Resumes `conversation` from the client's `position`, leaving at most
    /// `allowance` messages up to `last` to replay: when more are missing,
    /// the earlier ones are skipped. Answers where the skip ends, if any.
    pub fn resume_within(&mut self, conversation: &ConversationId, position: u64, last: u64, allowance: u64) -> Option<u64> {
        let from = position.max(last.saturating_sub(allowance));
        self.resume(conversation, from);
        (from > position).then_some(from)
    }

    /// Whether the client follows `conversation`'s sequence: it resumed it,
    /// or had a live message of it.
    pub fn follows(&self, conversation: &ConversationId) -> bool {
        self.at.contains_key(conversation)
    }

    /// A conversation the client did not resume, and received nothing of
    /// yet, starts at `seq` (as with [`Cursors::offer`]).
    pub fn start_before(&mut self, conversation: &ConversationId, seq: u64) {
        self.at.entry(conversation.clone()).or_insert(seq.saturating_sub(1));
    }

    /// The client no longer follows `conversation` (it left).
    pub fn forget(&mut self, conversation: &ConversationId) {
        self.at.remove(conversation);
    }

    /// Decides about live message `seq`. A conversation the client did not
    /// resume starts at its first live message.
    pub fn offer(&mut self, conversation: &ConversationId, seq: u64) -> Step {
        // Every delivery comes here: the id is cloned only for a conversation new to the client.
        let Some(cursor) = self.at.get_mut(conversation) else {
            self.at.insert(conversation.clone(), seq);
            return Step::Send;
        };
        if seq <= *cursor {
            Step::Skip
        } else if seq == *cursor + 1 {
            *cursor = seq;
            Step::Send
        } else {
            Step::Fill { after: *cursor, upto: seq - 1 }
        }
    }

    /// Where a fill up to `upto` goes on from: `Some(after)` while messages
    /// up to `upto` are missing.
    pub fn fill_from(&self, conversation: &ConversationId, upto: u64) -> Option<u64> {
        let cursor = self.at.get(conversation).copied().unwrap_or(0);
        (cursor < upto).then_some(cursor)
    }

    /// A stored message read by a fill: whether to send it (it is newer than
    /// what the client has; the cursor moves to it).
    pub fn filled(&mut self, conversation: &ConversationId, seq: u64) -> bool {
        let cursor = self.at.entry(conversation.clone()).or_default();
        if seq <= *cursor {
            return false;
        }
        *cursor = seq;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> ConversationId {
        ConversationId("c".into())
    }

    /// Runs a fill as a connection does, from a store holding `1..=stored`.
    fn fill(cursors: &mut Cursors, upto: u64, stored: u64) -> Vec<u64> {
        let mut sent = Vec::new();
        while let Some(after) = cursors.fill_from(&c(), upto) {
            let page: Vec<u64> = (after + 1..=stored.min(after + 3)).collect();
            if page.is_empty() {
                break;
            }
            for seq in page.into_iter().take_while(|s| *s <= upto) {
                if cursors.filled(&c(), seq) {
                    sent.push(seq);
                }
            }
        }
        sent
    }

    #[test]
    fn the_first_live_message_starts_a_conversation_not_resumed() {
        let mut cursors = Cursors::default();
        assert_eq!(cursors.offer(&c(), 7), Step::Send);
        assert_eq!(cursors.offer(&c(), 8), Step::Send);
    }

    #[test]
    fn a_duplicate_is_skipped() {
        let mut cursors = Cursors::default();
        assert_eq!(cursors.offer(&c(), 1), Step::Send);
        assert_eq!(cursors.offer(&c(), 1), Step::Skip);
        assert_eq!(cursors.offer(&c(), 2), Step::Send);
        assert_eq!(cursors.offer(&c(), 2), Step::Skip);
    }

    #[test]
    fn a_gap_is_filled_before_the_message_after_it() {
        let mut cursors = Cursors::default();
        cursors.resume(&c(), 3);
        assert_eq!(cursors.offer(&c(), 9), Step::Fill { after: 3, upto: 8 });
        assert_eq!(fill(&mut cursors, 8, 9), [4, 5, 6, 7, 8], "in pages, in order, up to the message");
        assert_eq!(cursors.offer(&c(), 9), Step::Send);
    }

    #[test]
    fn a_fill_that_fails_leaves_the_message_waiting() {
        let mut cursors = Cursors::default();
        cursors.resume(&c(), 3);
        assert_eq!(cursors.offer(&c(), 6), Step::Fill { after: 3, upto: 5 });
        // The store gave nothing (unavailable): the message is not sent out of order.
        assert_eq!(cursors.offer(&c(), 6), Step::Fill { after: 3, upto: 5 });
        assert_eq!(fill(&mut cursors, 5, 6), [4, 5], "the store is back");
        assert_eq!(cursors.offer(&c(), 6), Step::Send);
    }

    #[test]
    fn out_of_order_events_are_sent_once_in_order() {
        let mut cursors = Cursors::default();
        cursors.resume(&c(), 4);
        // 7 overtook 5 and 6 (two nodes publishing): 5 and 6 come from the store first.
        assert_eq!(cursors.offer(&c(), 7), Step::Fill { after: 4, upto: 6 });
        assert_eq!(fill(&mut cursors, 6, 7), [5, 6]);
        assert_eq!(cursors.offer(&c(), 7), Step::Send);
        // Their own events arrive late and are skipped.
        assert_eq!(cursors.offer(&c(), 5), Step::Skip);
        assert_eq!(cursors.offer(&c(), 6), Step::Skip);
        assert_eq!(cursors.offer(&c(), 8), Step::Send);
    }

    #[test]
    fn resume_racing_live_messages_sends_each_once() {
        let mut cursors = Cursors::default();
        // The client had 2; while its resume fills 3..=10 from the store,
        // live events for 9, 10 and 11 queue up.
        cursors.resume(&c(), 2);
        assert_eq!(fill(&mut cursors, u64::MAX, 10), [3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(cursors.offer(&c(), 9), Step::Skip);
        assert_eq!(cursors.offer(&c(), 10), Step::Skip);
        assert_eq!(cursors.offer(&c(), 11), Step::Send);
    }

    #[test]
    fn skipped_messages_are_filled_from_the_cursor_or_from_the_first_skipped() {
        let mut cursors = Cursors::default();
        cursors.resume(&c(), 3);
        cursors.start_before(&c(), 9);
        assert_eq!(fill(&mut cursors, 10, 10), [4, 5, 6, 7, 8, 9, 10], "the client had 3");
        let mut cursors = Cursors::default();
        cursors.start_before(&c(), 9);
        assert_eq!(fill(&mut cursors, 10, 10), [9, 10], "nothing received before the skip");
    }

    #[test]
    fn a_conversation_left_starts_afresh() {
        let mut cursors = Cursors::default();
        cursors.resume(&c(), 5);
        cursors.forget(&c());
        assert_eq!(cursors.offer(&c(), 9), Step::Send, "as a conversation never resumed");
    }

    #[test]
    fn a_resume_replays_at_most_its_allowance_and_skips_the_rest() {
        let mut cursors = Cursors::default();
        assert_eq!(cursors.resume_within(&c(), 10, 500, 200), Some(300), "messages 11 to 300 are skipped");
        assert_eq!(cursors.fill_from(&c(), 500), Some(300));
        assert_eq!(cursors.resume_within(&c(), 450, 500, 200), None, "50 missing: all replayed");
        assert_eq!(cursors.fill_from(&c(), 500), Some(450));
        assert_eq!(cursors.resume_within(&c(), 0, 500, 0), Some(500), "no allowance left: nothing replayed");
        assert_eq!(cursors.fill_from(&c(), 500), None);
    }
}
