//! 1:1 calls: signalling between two browser tabs, cluster-wide call state,
//! and the message that records how each call ended.
//!
//! A call's state lives in [`Leases`] (memory on one node, Redis
//! in a cluster), so whichever node a frame arrives at can act on it:
//!
//! - `user:<id>` → the call a user is in (ringing or answered): an invite
//!   claims both users' keys, and finds either taken → busy.
//! - `<call id>` → the [`CallState`] (JSON).
//! - `<call id>:answer` → how it stopped ringing: the first of an accepting
//!   tab, a decline, a cancel or the ring timeout to claim it decides, so two
//!   tabs accepting on two nodes at the same moment get one winner.
//! - `<call id>:end` → claimed by the first hang-up or drop of an answered call.
//!
//! Whoever decides an ending removes the keys, tells both users through the
//! [`Fanout`] and stores one call message through [`Chat::record`] (its client
//! id derives from the call id, so it is stored once). The ring timer runs
//! on the caller's node; a tab that drops is given a grace period to come
//! back (`call_rejoin`) before its call ends. Websocket connections
//! (`session/calls.rs`) hold which call their tab is in and relay signals.

pub mod ice;
pub mod state;

use std::{sync::Arc, time::Duration};

use wire::{
    call::{CallEnd, CallId, CallInfo, CallMedia, Signal},
    model::{ConversationId, ConversationKind, UserId},
    protocol::{ApiError, ErrorCode},
};

use self::state::{Answer, CallState, Endpoint, Side};
use crate::{
    chat::{Chat, ChatError},
    clock::now_millis,
    hub::{Fanout, HubEvent},
    lease::{Leases, Unavailable},
    ratelimit::budgets::{Action, UserBudgets},
    store::{messages::MessageDraft, new_id, DynStore, StoreError},
};

/// How long a call's keys live without renewal; tabs in a call renew them every [`KEEP_EVERY`].
const KEY_TTL: Duration = Duration::from_secs(60);
pub const KEEP_EVERY: Duration = Duration::from_secs(20);

/// Why a call request is refused; each maps to a websocket error code.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    CannotCall(&'static str),
    #[error("{0}")]
    Busy(&'static str),
    #[error("no such call, or this tab is not in it")]
    NotInCall,
    /// The caller placed calls too often; one is allowed again after the wait.
    #[error("calling too often; wait a moment")]
    TooFast(Duration),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Registry(#[from] Unavailable),
}

/// For the HTTP side of calls (a push notification's Decline).
impl From<Refused> for ApiError {
    fn from(e: Refused) -> Self {
        match e {
            Refused::NotInCall => ApiError::new(ErrorCode::NotFound, e.to_string()),
            Refused::CannotCall(why) | Refused::Busy(why) => ApiError::new(ErrorCode::Conflict, why),
            Refused::TooFast(wait) => ApiError::rate_limited(e.to_string(), wait),
            Refused::Chat(e) => e.into(),
            Refused::Registry(_) => ApiError::new(ErrorCode::StoreUnavailable, "calls are unavailable; try again shortly"),
        }
    }
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Chat(e.into())
    }
}

pub struct Calls {
    registry: Arc<dyn Leases>,
    store: DynStore,
    fanout: Arc<dyn Fanout>,
    chat: Arc<Chat>,
    budgets: Arc<UserBudgets>,
    /// How long a call rings before it counts as missed.
    ring: Duration,
    /// How long a dropped tab has to come back before its call ends.
    grace: Duration,
}

fn user_key(user: &UserId) -> String {
    format!("user:{user}")
}

fn answer_key(call: &str) -> String {
    format!("{call}:answer")
}

fn end_key(call: &str) -> String {
    format!("{call}:end")
}

impl Calls {
    pub fn new(
        registry: Arc<dyn Leases>,
        store: DynStore,
        fanout: Arc<dyn Fanout>,
        chat: Arc<Chat>,
        budgets: Arc<UserBudgets>,
        ring: Duration,
        grace: Duration,
    ) -> Calls {
        Calls { registry, store, fanout, chat, budgets, ring, grace }
    }

    async fn state(&self, call: &str) -> Result<Option<CallState>, Unavailable> {
        let Some(json) = self.registry.get(call).await? else { return Ok(None) };
        Ok(serde_json::from_str(&json).ok())
    }

    async fn put_state(&self, state: &CallState) -> Result<(), Unavailable> {
        let json = serde_json::to_string(state).expect("call states serialize");
        self.registry.put(&state.info.call_id, &json, KEY_TTL).await
    }

    /// The call ringing for `user` as its callee, if any: a tab opened
    /// while it rings (from a call's push) rings too.
    pub async fn ringing_for(&self, user: &UserId) -> Option<CallInfo> {
        let call = self.registry.get(&user_key(user)).await.ok()??;
        let state = self.state(&call).await.ok()??;
        let answered = self.registry.get(&answer_key(&call)).await.ok()?.is_some();
        (state.info.callee_id == *user && !answered).then_some(state.info)
    }

    /// Passes a signal (an offer, an answer, a candidate, a state) to the other side's tab.
    pub async fn signal(&self, call_id: CallId, to_user: UserId, to_endpoint: String, signal: Signal) {
        self.fanout.publish(HubEvent::CallSignal { call_id, to_user, to_endpoint, signal }).await;
    }

    /// `caller`'s tab `endpoint` calls `callee` in their private chat: every
    /// tab of the callee rings, and after the ring time the call is missed.
    pub async fn invite(
        self: &Arc<Self>,
        caller: &UserId,
        endpoint: &str,
        conversation_id: ConversationId,
        callee: UserId,
        media: CallMedia,
    ) -> Result<CallInfo, Refused> {
        self.chat.require_member(&conversation_id, caller).await?;
        if callee == *caller {
            return Err(Refused::CannotCall("you cannot call yourself"));
        }
        match self.store.conversation(&conversation_id).await? {
            Some(c) if c.kind == ConversationKind::Private => {}
            _ => return Err(Refused::CannotCall("calls are made in private chats; groups have group calls")),
        }
        match self.chat.require_member(&conversation_id, &callee).await {
            Ok(_) => {}
            Err(ChatError::NotMember) => return Err(Refused::CannotCall("the callee is not in this chat")),
            Err(e) => return Err(e.into()),
        }
        self.chat.require_unblocked(caller, &callee).await?;
        // Every call rings all of the callee's tabs and is recorded.
        self.budgets.spend(Action::Call, caller).await.map_err(Refused::TooFast)?;
        let Some(profile) = self.store.user_by_id(caller).await? else { return Err(ChatError::NotMember.into()) };
        let info = CallInfo {
            call_id: new_id(),
            conversation_id,
            caller: profile.public(),
            callee_id: callee,
            media,
            created_ms: now_millis(),
        };
        let id = &info.call_id;
        if self.registry.claim(&user_key(caller), id, KEY_TTL).await? != *id {
            return Err(Refused::Busy("you are in another call"));
        }
        if self.registry.claim(&user_key(&info.callee_id), id, KEY_TTL).await? != *id {
            self.registry.release(&user_key(caller), id).await?;
            let state = CallState { info, caller_endpoint: endpoint.to_owned(), callee_endpoint: None, answered_ms: None };
            let record = wire::model::CallRecord { outcome: wire::model::CallOutcome::Busy, duration_ms: None };
            self.store_record(&state, record).await;
            return Err(Refused::Busy("the callee is in another call"));
        }
        let state = CallState { info: info.clone(), caller_endpoint: endpoint.to_owned(), callee_endpoint: None, answered_ms: None };
        self.put_state(&state).await?;
        self.fanout.publish(HubEvent::CallRing { call: info.clone() }).await;
        let (calls, call) = (self.clone(), info.call_id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(calls.ring).await;
            if let Err(e) = calls.stop_ringing(&call, Answer::Missed).await {
                tracing::warn!(error = %e, %call, "could not end an unanswered call");
            }
        });
        metrics::counter!("natter_calls_started_total").increment(1);
        Ok(info)
    }

    /// The callee's tab `endpoint` takes the call; the first tab to do so wins.
    pub async fn accept(&self, user: &UserId, endpoint: &str, call: &CallId) -> Result<CallState, Refused> {
        let Some(mut state) = self.state(call).await? else { return Err(Refused::NotInCall) };
        if state.side_of(user) != Some(Side::Callee) {
            return Err(Refused::NotInCall);
        }
        let mine = Answer::Accepted(endpoint.to_owned()).key_value();
        if self.registry.claim(&answer_key(call), &mine, KEY_TTL).await? != mine {
            return Err(Refused::NotInCall); // answered on another tab, or it stopped ringing
        }
        state.callee_endpoint = Some(endpoint.to_owned());
        state.answered_ms = Some(now_millis());
        self.put_state(&state).await?;
        let event = HubEvent::CallAnswered {
            call_id: call.clone(),
            caller_id: state.info.caller.id.clone(),
            callee_id: state.info.callee_id.clone(),
            caller_endpoint: state.caller_endpoint.clone(),
            callee_endpoint: endpoint.to_owned(),
        };
        self.fanout.publish(event).await;
        Ok(state)
    }

    /// A tab of the callee declines the ringing call.
    pub async fn decline(&self, user: &UserId, call: &CallId) -> Result<(), Refused> {
        match self.state(call).await? {
            Some(state) if state.side_of(user) == Some(Side::Callee) => {
                self.stop_ringing(call, Answer::Declined).await?;
                Ok(())
            }
            _ => Err(Refused::NotInCall),
        }
    }

    /// The tab `endpoint` ends its call: a cancel (caller) or a decline
    /// (callee) while it rings, a hang-up once answered.
    pub async fn hang_up(&self, user: &UserId, endpoint: &str, call: &CallId) -> Result<(), Refused> {
        let Some(state) = self.state(call).await? else { return Err(Refused::NotInCall) };
        match (state.holder(user, endpoint), state.side_of(user)) {
            (Some(side), _) => self.leave(&state, side, CallEnd::HungUp).await,
            (None, Some(Side::Callee)) if state.callee_endpoint.is_none() => self.leave(&state, Side::Callee, CallEnd::HungUp).await,
            _ => Err(Refused::NotInCall),
        }
    }

    /// `side` leaves: before the answer that stops the ringing, after it the call ends with `end`.
    async fn leave(&self, state: &CallState, side: Side, end: CallEnd) -> Result<(), Refused> {
        let call = &state.info.call_id;
        if state.answered_ms.is_none() {
            let Some(Answer::Accepted(_)) = self.stop_ringing(call, CallState::unanswered_end(side)).await? else {
                return Ok(());
            };
            // Answered in the meantime: this is a hang-up.
        }
        let reason = if end == CallEnd::Dropped { "dropped" } else { "hung_up" };
        if self.registry.claim(&end_key(call), reason, KEY_TTL).await? == reason {
            self.finish(call, end).await?;
        }
        Ok(())
    }

    /// Claims the call's answer with `answer`. When that wins and is no
    /// acceptance, the call ends; answers what had been claimed instead
    /// when it lost (`None` when it won or the call is gone).
    async fn stop_ringing(&self, call: &str, answer: Answer) -> Result<Option<Answer>, Unavailable> {
        let value = answer.key_value();
        let held = self.registry.claim(&answer_key(call), &value, KEY_TTL).await?;
        if held != value {
            let accepted = held.strip_prefix("accepted ").map(|e| Answer::Accepted(e.to_owned()));
            return Ok(accepted);
        }
        if let Some(end) = answer.ending() {
            self.finish(call, end).await?;
        }
        Ok(None)
    }

    /// Ends the call (the caller of this won the right to): removes its
    /// keys, tells both users, stores the call message.
    async fn finish(&self, call: &str, end: CallEnd) -> Result<(), Unavailable> {
        let Some(state) = self.state(call).await? else {
            // Gone already: what this claimed must not outlive it.
            self.registry.remove(&[answer_key(call), end_key(call)]).await?;
            return Ok(());
        };
        let now = now_millis();
        self.registry.remove(&[call.to_owned()]).await?;
        for user in [&state.info.caller.id, &state.info.callee_id] {
            self.registry.release(&user_key(user), call).await?;
        }
        self.registry.remove(&[answer_key(call), end_key(call)]).await?;
        let event = HubEvent::CallEnded {
            call_id: call.to_owned(),
            caller_id: state.info.caller.id.clone(),
            callee_id: state.info.callee_id.clone(),
            reason: end,
            duration_ms: state.duration_ms(now),
        };
        self.fanout.publish(event).await;
        self.store_record(&state, state.record(end, now)).await;
        Ok(())
    }

    async fn store_record(&self, state: &CallState, record: wire::model::CallRecord) {
        let outcome = format!("{:?}", record.outcome).to_lowercase();
        let info = &state.info;
        let draft =
            MessageDraft::call_record(info.conversation_id.clone(), info.caller.id.clone(), state.message_kind(), &info.call_id, record);
        if let Err(e) = self.chat.record(draft).await {
            tracing::warn!(error = %e, call = %info.call_id, "could not record how a call ended");
        }
        metrics::counter!("natter_calls_ended_total", "outcome" => outcome).increment(1);
    }

    /// After a reconnection, `user`'s tab `endpoint` takes its side back.
    pub async fn rejoin(&self, user: &UserId, endpoint: &str, call: &CallId) -> Result<CallState, Refused> {
        let Some(mut state) = self.state(call).await? else { return Err(Refused::NotInCall) };
        let side = match state.side_of(user) {
            Some(Side::Caller) => {
                state.caller_endpoint = endpoint.to_owned();
                Side::Caller
            }
            Some(Side::Callee) if state.callee_endpoint.is_some() => {
                state.callee_endpoint = Some(endpoint.to_owned());
                Side::Callee
            }
            _ => return Err(Refused::NotInCall),
        };
        self.put_state(&state).await?;
        let peer = match side {
            Side::Caller => state.info.callee_id.clone(),
            Side::Callee => state.info.caller.id.clone(),
        };
        let event =
            HubEvent::CallRejoined { call_id: call.clone(), user_id: user.clone(), peer_id: peer, endpoint: endpoint.to_owned() };
        self.fanout.publish(event).await;
        Ok(state)
    }

    /// The tab `endpoint`, in `call`, has closed: unless it (or another tab
    /// of the user) takes its side back within the grace period, the call ends.
    pub fn dropped(self: &Arc<Self>, user: UserId, endpoint: Endpoint, call: CallId) {
        let calls = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(calls.grace).await;
            let result = match calls.state(&call).await {
                Ok(Some(state)) => match state.holder(&user, &endpoint) {
                    Some(side) => calls.leave(&state, side, CallEnd::Dropped).await,
                    None => Ok(()), // taken back by a new connection, or never held
                },
                Ok(None) => Ok(()),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, %call, "could not end the call of a dropped tab");
            }
        });
    }

    /// Renews the keys of `user`'s call while a tab of theirs is in it.
    pub async fn keep(&self, user: &UserId, call: &CallId) {
        let keys = [user_key(user), call.clone(), answer_key(call), end_key(call)];
        if let Err(e) = self.registry.keep(&keys, KEY_TTL).await {
            tracing::warn!(error = %e, %call, "could not renew a call's state");
        }
    }
}
