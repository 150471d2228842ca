//! A session's 1:1 call frames and events: the call its tab is in, and the
//! signals relayed to the other side's tab. Decisions are [`crate::calls::Calls`]'.

use wire::{
    call::{CallEnd, CallId, CallMedia, Signal},
    model::{ConversationId, UserId},
    protocol::{ServerFrame, WsErrorCode},
};

use super::{End, Session};
use crate::{calls::Refused, hub::HubEvent, ratelimit::budgets::Action};

/// The call a tab is in, and where the other side's tab is.
pub(super) struct InCall {
    pub call_id: CallId,
    peer: UserId,
    /// The other tab, once the call is answered.
    peer_endpoint: Option<String>,
}

impl Session {
    pub(super) async fn on_call_invite(
        &mut self,
        conversation_id: ConversationId,
        callee: UserId,
        media: CallMedia,
    ) -> Result<(), End> {
        if self.call.is_some() {
            return self.error(WsErrorCode::Busy, "this tab is in a call already", None).await;
        }
        let calls = self.state.calls.clone();
        match calls.invite(&self.user.user_id, &self.endpoint, conversation_id, callee.clone(), media).await {
            Ok(call) => {
                self.state.pushes.call(call.clone());
                self.call = Some(InCall { call_id: call.call_id.clone(), peer: callee, peer_endpoint: None });
                self.send(&ServerFrame::CallRinging { call }).await
            }
            Err(refused) => self.call_error(refused).await,
        }
    }

    pub(super) async fn on_call_accept(&mut self, call_id: CallId) -> Result<(), End> {
        match self.state.calls.accept(&self.user.user_id, &self.endpoint, &call_id).await {
            Ok(state) => {
                let peer = state.info.caller.id;
                self.call = Some(InCall { call_id, peer, peer_endpoint: Some(state.caller_endpoint) });
                Ok(())
            }
            Err(refused) => self.call_error(refused).await,
        }
    }

    pub(super) async fn on_call_decline(&mut self, call_id: CallId) -> Result<(), End> {
        let declined = self.state.calls.decline(&self.user.user_id, &call_id).await;
        self.call_result(declined).await
    }

    pub(super) async fn on_call_hangup(&mut self, call_id: CallId) -> Result<(), End> {
        let ended = self.state.calls.hang_up(&self.user.user_id, &self.endpoint, &call_id).await;
        // Over for this tab now, before the ending's event comes round.
        if ended.is_ok() && self.call.as_ref().is_some_and(|c| c.call_id == call_id) {
            self.call = None;
        }
        self.call_result(ended).await
    }

    pub(super) async fn on_call_rejoin(&mut self, call_id: CallId) -> Result<(), End> {
        match self.state.calls.rejoin(&self.user.user_id, &self.endpoint, &call_id).await {
            Ok(state) => {
                let caller = state.info.caller.id == self.user.user_id;
                let (peer, peer_endpoint) = if caller {
                    (state.info.callee_id, state.callee_endpoint)
                } else {
                    (state.info.caller.id, Some(state.caller_endpoint))
                };
                self.call = Some(InCall { call_id, peer, peer_endpoint });
                Ok(())
            }
            Err(refused) => self.call_error(refused).await,
        }
    }

    /// Relays a signal to the other tab of this tab's call.
    pub(super) async fn on_call_signal(&mut self, call_id: CallId, signal: Signal) -> Result<(), End> {
        let to = self.call.as_ref().filter(|c| c.call_id == call_id).and_then(|c| Some((c.peer.clone(), c.peer_endpoint.clone()?)));
        let Some((to_user, to_endpoint)) = to else {
            return self.call_error(Refused::NotInCall).await;
        };
        if let Err(bad) = signal.check() {
            return self.error(WsErrorCode::BadSignal, bad.to_string(), None).await;
        }
        if self.state.budgets.spend(Action::Signal, &self.user.user_id).await.is_err() {
            return self.error(WsErrorCode::RateLimited, "signalling too fast; slow down", None).await;
        }
        self.state.calls.signal(call_id, to_user, to_endpoint, signal).await;
        Ok(())
    }

    /// Renews the keys of this tab's call, so it outlives no crashed node.
    pub(super) async fn keep_call(&mut self) -> Result<(), End> {
        if let Some(call) = &self.call {
            self.state.calls.keep(&self.user.user_id, &call.call_id).await;
        }
        Ok(())
    }

    async fn call_result(&mut self, result: Result<(), Refused>) -> Result<(), End> {
        match result {
            Ok(()) => Ok(()),
            Err(refused) => self.call_error(refused).await,
        }
    }

    async fn call_error(&mut self, refused: Refused) -> Result<(), End> {
        let message = refused.to_string();
        let code = match refused {
            Refused::CannotCall(_) => WsErrorCode::CannotCall,
            Refused::Busy(_) => WsErrorCode::Busy,
            Refused::NotInCall => WsErrorCode::NotInCall,
            Refused::TooFast(_) => WsErrorCode::CallRateLimited,
            Refused::Chat(e) => return self.chat_error(e, None).await,
            Refused::Registry(e) => {
                tracing::warn!(error = %e, "a call request failed in the registry");
                WsErrorCode::Retry
            }
        };
        self.error(code, message, None).await
    }

    /// What a call event means for this tab.
    pub(super) async fn on_call_event(&mut self, event: &HubEvent) -> Result<(), End> {
        match event {
            HubEvent::CallRing { call } => self.send(&ServerFrame::CallIncoming { call: call.clone() }).await,
            HubEvent::CallAnswered { call_id, callee_id, caller_endpoint, callee_endpoint, .. } => {
                if *caller_endpoint == self.endpoint {
                    if let Some(call) = self.call.as_mut().filter(|c| c.call_id == *call_id) {
                        call.peer_endpoint = Some(callee_endpoint.clone());
                    }
                    self.send(&ServerFrame::CallAccepted { call_id: call_id.clone() }).await
                } else if *callee_endpoint == self.endpoint {
                    self.send(&ServerFrame::CallAccepted { call_id: call_id.clone() }).await
                } else if *callee_id == self.user.user_id {
                    let frame = ServerFrame::CallEnded { call_id: call_id.clone(), reason: CallEnd::AnsweredElsewhere, duration_ms: None };
                    self.send(&frame).await
                } else {
                    Ok(())
                }
            }
            HubEvent::CallRejoined { call_id, user_id, endpoint, .. } => {
                if let Some(call) = self.call.as_mut().filter(|c| c.call_id == *call_id && c.peer == *user_id) {
                    call.peer_endpoint = Some(endpoint.clone());
                }
                Ok(())
            }
            HubEvent::CallSignal { call_id, to_endpoint, signal, .. } if *to_endpoint == self.endpoint => {
                self.send(&ServerFrame::CallSignal { call_id: call_id.clone(), signal: signal.clone() }).await
            }
            HubEvent::CallEnded { call_id, reason, duration_ms, .. } => {
                if self.call.as_ref().is_some_and(|c| c.call_id == *call_id) {
                    self.call = None;
                }
                let frame = ServerFrame::CallEnded { call_id: call_id.clone(), reason: *reason, duration_ms: *duration_ms };
                self.send(&frame).await
            }
            _ => Ok(()),
        }
    }
}
