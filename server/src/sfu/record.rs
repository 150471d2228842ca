//! What the media task reports, done off its loop: room changes go to the
//! conversation's members through the fan-out, in order, and into the
//! cluster's record of hosted rooms (renewed while they live); each room
//! that ends is stored as a message recording it.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use tokio::sync::mpsc;
use wire::{
    model::{CallOutcome, CallRecord, MessageKind},
    room::RoomKind,
};

use super::{
    hosts::{self, RoomHosts},
    rooms::{Ended, RoomKey},
    Notice,
};
use crate::{
    chat::Chat,
    hub::{Fanout, HubEvent},
    lease::Unavailable,
    store::{messages::MessageDraft, StoreError},
};

/// Tries to store a record while the store is away, with this pause between.
const RECORD_ATTEMPTS: u32 = 5;
const RECORD_RETRY: Duration = Duration::from_secs(2);

pub async fn run(
    mut notices: mpsc::UnboundedReceiver<Notice>,
    fanout: Arc<dyn Fanout>,
    chat: Arc<Chat>,
    hosts: Arc<RoomHosts>,
) {
    let mut hosted = BTreeSet::new();
    let mut keep = tokio::time::interval(hosts::KEEP_EVERY);
    keep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            notice = notices.recv() => match notice {
                Some(Notice::Update(update)) => {
                    let key = RoomKey { conversation: update.conversation_id.clone(), kind: update.kind };
                    if update.state.is_some() {
                        hosted.insert(key);
                    } else {
                        hosted.remove(&key);
                    }
                    fanout.publish(HubEvent::Room { update: update.clone() }).await;
                    registered(hosts.record(&update).await);
                }
                Some(Notice::Vacant(key)) if !hosted.contains(&key) => registered(hosts.vacate(&key).await),
                Some(Notice::Vacant(_)) => {}
                // Stored in its own task so that a slow store holds no room update back.
                Some(Notice::Ended(ended)) => drop(tokio::spawn(record(chat.clone(), ended))),
                None => return,
            },
            _ = keep.tick(), if !hosted.is_empty() => {
                let keys: Vec<RoomKey> = hosted.iter().cloned().collect();
                registered(hosts.keep(&keys).await);
            }
        }
    }
}

/// A registry that is away misses this change; the next one, or the next
/// renewal, brings it up to date.
fn registered(result: Result<(), Unavailable>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot record a room in the registry");
    }
}

/// The message recording an ended room: a voice or video call or a live
/// broadcast, sent by whoever started it, with its length.
pub fn draft(ended: &Ended) -> MessageDraft {
    let kind = match (ended.key.kind, ended.video) {
        (RoomKind::Live, _) => MessageKind::LiveStream,
        (RoomKind::Call, true) => MessageKind::VideoCall,
        (RoomKind::Call, false) => MessageKind::VoiceCall,
    };
    // One room of a kind per conversation at a time: its start names it.
    let event_id = format!("room:{:?}:{}", ended.key.kind, ended.started_ms).to_lowercase();
    let record = CallRecord { outcome: CallOutcome::Ended, duration_ms: Some(ended.duration_ms) };
    MessageDraft::call_record(ended.key.conversation.clone(), ended.host.clone(), kind, &event_id, record)
}

async fn record(chat: Arc<Chat>, ended: Ended) {
    let draft = draft(&ended);
    for attempt in 1..=RECORD_ATTEMPTS {
        match chat.record(draft.clone()).await {
            Ok(_) => return,
            Err(StoreError::Unavailable(e)) if attempt < RECORD_ATTEMPTS => {
                tracing::debug!(error = %e, "cannot record a room yet; retrying");
                tokio::time::sleep(RECORD_RETRY).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, conversation = %ended.key.conversation, "cannot record an ended room");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use wire::model::{ConversationId, UserId};

    use super::*;
    use crate::sfu::rooms::RoomKey;

    #[test]
    fn ended_rooms_become_call_and_broadcast_records() {
        let ended = |kind, video| Ended {
            key: RoomKey { conversation: ConversationId::from("g"), kind },
            host: UserId::from("h"),
            video,
            started_ms: 77,
            duration_ms: 61_000,
        };
        let live = draft(&ended(RoomKind::Live, true));
        assert_eq!(live.kind, MessageKind::LiveStream);
        assert_eq!(live.sender_id, UserId::from("h"));
        assert_eq!(live.call.as_deref(), Some(&CallRecord { outcome: CallOutcome::Ended, duration_ms: Some(61_000) }));
        assert_eq!(draft(&ended(RoomKind::Call, false)).kind, MessageKind::VoiceCall);
        let video = draft(&ended(RoomKind::Call, true));
        assert_eq!(video.kind, MessageKind::VideoCall);
        assert_ne!(video.client_id, live.client_id, "a call and a broadcast at once are two records");
    }
}
