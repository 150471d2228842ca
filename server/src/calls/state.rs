//! A call's shared state and the decisions made from it, with no I/O: who
//! may do what, and what an ending records. `mod.rs` wraps it with the
//! registry, the fan-out and the writer; tests drive it directly.

use serde::{Deserialize, Serialize};
use wire::{
    call::{CallEnd, CallInfo, CallMedia},
    model::{CallOutcome, CallRecord, Millis, MessageKind, UserId},
};

/// One tab of one node: `<node id>/<connection id>`. Signals go to a tab,
/// not to a user, since a user may have several tabs open.
pub type Endpoint = String;

/// What the registry keeps of a call under `<call id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallState {
    pub info: CallInfo,
    pub caller_endpoint: Endpoint,
    /// The callee's tab that took the call, once one did.
    pub callee_endpoint: Option<Endpoint>,
    pub answered_ms: Option<Millis>,
}

/// Which side of a call a user is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Caller,
    Callee,
}

/// How a call stopped ringing: the value of its `answer` key. The first
/// of these to be claimed decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Accepted(Endpoint),
    Declined,
    Cancelled,
    Missed,
}

impl Answer {
    pub fn key_value(&self) -> String {
        match self {
            Answer::Accepted(endpoint) => format!("accepted {endpoint}"),
            Answer::Declined => "declined".into(),
            Answer::Cancelled => "cancelled".into(),
            Answer::Missed => "missed".into(),
        }
    }

    /// How a call ends that stopped ringing this way without an answer.
    pub fn ending(&self) -> Option<CallEnd> {
        match self {
            Answer::Accepted(_) => None,
            Answer::Declined => Some(CallEnd::Declined),
            Answer::Cancelled => Some(CallEnd::Cancelled),
            Answer::Missed => Some(CallEnd::Missed),
        }
    }
}

impl CallState {
    pub fn side_of(&self, user: &UserId) -> Option<Side> {
        if *user == self.info.caller.id {
            Some(Side::Caller)
        } else if *user == self.info.callee_id {
            Some(Side::Callee)
        } else {
            None
        }
    }

    /// The tab holding `side` now (none for a callee before the answer).
    pub fn endpoint(&self, side: Side) -> Option<&Endpoint> {
        match side {
            Side::Caller => Some(&self.caller_endpoint),
            Side::Callee => self.callee_endpoint.as_ref(),
        }
    }

    /// Whether `endpoint` is `user`'s tab in the call; answers the side.
    pub fn holder(&self, user: &UserId, endpoint: &str) -> Option<Side> {
        self.side_of(user).filter(|&side| self.endpoint(side).is_some_and(|e| e == endpoint))
    }

    /// What a tab of `side` ending the call means before the answer: the
    /// caller cancels, the callee declines.
    pub fn unanswered_end(side: Side) -> Answer {
        match side {
            Side::Caller => Answer::Cancelled,
            Side::Callee => Answer::Declined,
        }
    }

    pub fn message_kind(&self) -> MessageKind {
        match self.info.media {
            CallMedia::Voice => MessageKind::VoiceCall,
            CallMedia::Video => MessageKind::VideoCall,
        }
    }

    /// How long the call has lasted since the answer.
    pub fn duration_ms(&self, now: Millis) -> Option<u64> {
        self.answered_ms.map(|at| now.saturating_sub(at).max(0) as u64)
    }

    /// What the conversation records of a call that ended so at `now`.
    pub fn record(&self, end: CallEnd, now: Millis) -> CallRecord {
        let outcome = match end {
            CallEnd::Declined => CallOutcome::Declined,
            CallEnd::Cancelled => CallOutcome::Cancelled,
            CallEnd::Missed => CallOutcome::Missed,
            CallEnd::HungUp | CallEnd::Dropped | CallEnd::AnsweredElsewhere => CallOutcome::Ended,
        };
        CallRecord { outcome, duration_ms: self.duration_ms(now).filter(|_| outcome == CallOutcome::Ended) }
    }
}

#[cfg(test)]
mod tests {
    use wire::{api::PublicProfile, model::{ConversationId, Gender}};

    use super::*;

    fn call(answered: bool) -> CallState {
        CallState {
            info: CallInfo {
                call_id: "c1".into(),
                conversation_id: ConversationId::from("p-a-b"),
                caller: PublicProfile {
                    id: UserId::from("a"),
                    nickname: "Ada".into(),
                    gender: Gender::Female,
                    avatar: None,
                    pinyin: String::new(),
                },
                callee_id: UserId::from("b"),
                media: CallMedia::Video,
                created_ms: 1_000,
            },
            caller_endpoint: "n1/1".into(),
            callee_endpoint: answered.then(|| "n2/7".into()),
            answered_ms: answered.then_some(2_000),
        }
    }

    #[test]
    fn only_the_tabs_holding_a_side_are_in_the_call() {
        let ringing = call(false);
        assert_eq!(ringing.holder(&UserId::from("a"), "n1/1"), Some(Side::Caller));
        assert_eq!(ringing.holder(&UserId::from("a"), "n1/2"), None, "another tab of the caller");
        assert_eq!(ringing.holder(&UserId::from("b"), "n2/7"), None, "nobody answered yet");
        assert_eq!(ringing.side_of(&UserId::from("b")), Some(Side::Callee));
        assert_eq!(ringing.side_of(&UserId::from("c")), None);
        let answered = call(true);
        assert_eq!(answered.holder(&UserId::from("b"), "n2/7"), Some(Side::Callee));
        assert_eq!(answered.holder(&UserId::from("a"), "n2/7"), None, "a tab of the callee is not the caller's");
    }

    #[test]
    fn endings_record_an_outcome_and_answered_calls_their_length() {
        let ringing = call(false);
        assert_eq!(ringing.message_kind(), MessageKind::VideoCall);
        for (answer, outcome) in [
            (CallState::unanswered_end(Side::Caller), CallOutcome::Cancelled),
            (CallState::unanswered_end(Side::Callee), CallOutcome::Declined),
            (Answer::Missed, CallOutcome::Missed),
        ] {
            let record = ringing.record(answer.ending().unwrap(), 50_000);
            assert_eq!(record, CallRecord { outcome, duration_ms: None });
        }
        assert_eq!(Answer::Accepted("n2/7".into()).ending(), None);
        assert_eq!(Answer::Accepted("n2/7".into()).key_value(), "accepted n2/7");
        let answered = call(true);
        assert_eq!(answered.record(CallEnd::HungUp, 63_500), CallRecord { outcome: CallOutcome::Ended, duration_ms: Some(61_500) });
        assert_eq!(answered.record(CallEnd::Dropped, 1_500).duration_ms, Some(0), "clocks of two nodes may differ a little");
    }
}
