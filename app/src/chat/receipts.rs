//! How far the other members of a conversation have received and read it:
//! loaded when a chat opens (`GET …/receipts`), kept current by `receipt`
//! frames. And this device's own side: it tells the server what it has
//! received, a moment after messages arrive rather than once for each.

use std::{collections::HashMap, time::Duration};

use leptos::prelude::*;
use wire::{
    api::{Receipt, Receipts},
    endpoint,
    model::{ConversationId, UserId},
};

use crate::client;

/// How long received messages wait before this device says it has them:
/// a burst is told in one frame.
const DELIVERED_AFTER: Duration = Duration::from_millis(800);

/// What the chat shows of others' receipts, and what this device still has to tell.
#[derive(Clone, Copy)]
pub struct ReceiptBook {
    /// Per conversation, each other member's receipt; a conversation is
    /// absent until loaded, and stays absent when the server keeps none for
    /// the user (receipts switched off, or a group too large).
    known: RwSignal<HashMap<ConversationId, HashMap<UserId, Receipt>>>,
    /// The newest seq received per conversation, not told yet.
    untold: StoredValue<HashMap<ConversationId, u64>>,
}

impl ReceiptBook {
    pub fn new() -> ReceiptBook {
        ReceiptBook { known: RwSignal::new(HashMap::new()), untold: StoredValue::new(HashMap::new()) }
    }

    /// Loads a conversation's receipts (again); without any when the server keeps none for the user.
    pub async fn load(self, conversation: ConversationId) {
        match client::get::<Receipts>(&endpoint::conversation_receipts(&conversation)).await {
            Ok(Receipts { receipts }) => self.known.update(|known| {
                known.insert(conversation, receipts.into_iter().map(|r| (r.user_id.clone(), r)).collect());
            }),
            Err(_) => self.known.update(|known| {
                known.remove(&conversation);
            }),
        }
    }

    /// A member's receipt moved; positions only ever go forward.
    pub fn note(self, conversation: &ConversationId, receipt: Receipt) {
        self.known.update(|known| {
            let Some(members) = known.get_mut(conversation) else { return };
            let entry = members.entry(receipt.user_id.clone()).or_insert_with(|| receipt.clone());
            entry.delivered_seq = entry.delivered_seq.max(receipt.delivered_seq).max(receipt.read_seq);
            entry.read_seq = entry.read_seq.max(receipt.read_seq);
        });
    }

    /// The other members' receipts in a conversation, `None` when none are
    /// kept for the user; reactive.
    pub fn of(self, conversation: &ConversationId) -> Option<Vec<Receipt>> {
        self.known.with(|known| known.get(conversation).map(|m| m.values().cloned().collect()))
    }

    /// This device has received the conversation up to `seq`: `tell` is
    /// called with everything received once the burst is over.
    pub fn received(self, conversation: ConversationId, seq: u64, tell: impl Fn(ConversationId, u64) + 'static) {
        let first = self.untold.with_value(HashMap::is_empty);
        self.untold.update_value(|untold| {
            let newest = untold.entry(conversation).or_default();
            *newest = (*newest).max(seq);
        });
        if first {
            set_timeout(
                move || {
                    let untold = self.untold.try_update_value(std::mem::take).unwrap_or_default();
                    untold.into_iter().for_each(|(conversation, seq)| tell(conversation, seq));
                },
                DELIVERED_AFTER,
            );
        }
    }
}
