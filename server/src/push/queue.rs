//! The two bounded queues between a stored message and a push service, so
//! that neither the writer nor one slow push service holds anything up:
//! stored messages wait for their decision (`Pushes::pushes_for`), decided
//! pushes for one of a few senders. A full queue drops what comes and
//! counts it; a push retried after backoff keeps its sender meanwhile.

use std::sync::Arc;

use tokio::sync::{mpsc, Mutex};
use wire::model::Message;

use super::{
    reach,
    send::{self, Outcome, Push},
    Pushes,
};
use crate::{backoff::Backoff, clock::now_millis};

/// Stored messages waiting for their decision.
pub const MESSAGES: usize = 4096;
/// Decided pushes waiting for a sender.
pub const PUSHES: usize = 4096;
/// Pushes sent at once.
pub const SENDERS: usize = 8;
/// Tries of one push, the first included.
pub const ATTEMPTS: u32 = 3;

pub(super) const QUEUED: &str = "natter_push_queue";
pub(super) const SENT: &str = "natter_push_sent_total";
pub(super) const FAILED: &str = "natter_push_failed_total";
pub(super) const PRUNED: &str = "natter_push_pruned_total";
pub(super) const DROPPED: &str = "natter_push_dropped_total";
pub(super) const COALESCED: &str = "natter_push_coalesced_total";

/// Says what each metric counts (in `/metrics`).
pub(super) fn describe() {
    metrics::describe_gauge!(QUEUED, "Pushes waiting for a sender");
    metrics::describe_counter!(SENT, "Pushes a push service took");
    metrics::describe_counter!(FAILED, "Pushes given up: refused, or still failing after every try");
    metrics::describe_counter!(PRUNED, "Subscriptions removed because their push service said they are gone");
    metrics::describe_counter!(DROPPED, "Messages or pushes dropped because a push queue was full");
    metrics::describe_counter!(COALESCED, "Pushes left out because one went for the conversation moments before");
}

/// Decides for each stored message in turn and queues its pushes.
pub(super) async fn decide(pushes: Arc<Pushes>, mut messages: mpsc::Receiver<Message>, queue: mpsc::Sender<Push>) {
    while let Some(message) = messages.recv().await {
        let decided = match pushes.pushes_for(&message).await {
            Ok(decided) => decided,
            Err(e) => {
                tracing::warn!(error = %e, conversation = %message.conversation_id, "could not decide pushes");
                continue;
            }
        };
        for push in decided {
            match queue.try_send(push) {
                Ok(()) => metrics::gauge!(QUEUED).increment(1.0),
                Err(_) => metrics::counter!(DROPPED).increment(1),
            }
        }
    }
}

/// Starts the senders; they end when the queue's last sender is dropped.
pub(super) fn start_senders(pushes: Arc<Pushes>, queue: mpsc::Receiver<Push>) {
    let queue = Arc::new(Mutex::new(queue));
    for _ in 0..SENDERS {
        let (pushes, queue) = (pushes.clone(), queue.clone());
        tokio::spawn(async move {
            loop {
                let Some(push) = queue.lock().await.recv().await else { return };
                metrics::gauge!(QUEUED).decrement(1.0);
                deliver(&pushes, push).await;
            }
        });
    }
}

/// Sends one push, retrying what may succeed later, and counts how it ended.
async fn deliver(pushes: &Pushes, push: Push) {
    let mut backoff = Backoff::default();
    for attempt in 1..=ATTEMPTS {
        let now_secs = (now_millis() / 1000) as u64;
        let outcome = match send::request(&push, &pushes.settings.key, &pushes.settings.contact, now_secs) {
            // Kept from before a check was added, or from a run with the test flag.
            Ok(request) if !reach::allowed(request.url(), pushes.settings.insecure_endpoints) => {
                Outcome::Failed("the endpoint is not a public address".into())
            }
            Ok(request) => send::post(&pushes.client, request).await,
            Err(why) => Outcome::Failed(why),
        };
        let s = &push.subscription;
        match outcome {
            Outcome::Sent => {
                metrics::counter!(SENT).increment(1);
                return;
            }
            Outcome::Gone => {
                metrics::counter!(PRUNED).increment(1);
                if let Err(e) = pushes.store.remove_push_subscription(&s.user_id, &s.device_id, Some(&s.endpoint)).await {
                    tracing::warn!(error = %e, "could not remove an expired push subscription");
                }
                return;
            }
            Outcome::Retry(wait) if attempt < ATTEMPTS => {
                let wait = wait.unwrap_or_else(|| backoff.take());
                tokio::time::sleep(wait).await;
            }
            Outcome::Retry(_) => break,
            Outcome::Failed(why) => {
                tracing::info!(%why, user = %s.user_id, "push refused");
                break;
            }
        }
    }
    metrics::counter!(FAILED).increment(1);
}
