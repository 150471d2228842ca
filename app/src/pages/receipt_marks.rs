//! How far the user's own message got: in a private chat ticks — sent
//! (stored), delivered (on one of the other's devices), read; in a group
//! "seen by N", with who on click. Nothing shows when the server keeps no
//! receipts for the user (switched off, or a group over the limit), nor
//! before the chat is known to be private or a group.

use leptos::prelude::*;
use wire::{api::Receipt, model::ConversationId};

use crate::{
    chat::use_live,
    i18n::{use_i18n, Msg},
};

/// Where one message stands with the other person of a private chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tick {
    Sent,
    Delivered,
    Read,
}

impl Tick {
    fn of(receipt: &Receipt, seq: u64) -> Tick {
        if receipt.read_seq >= seq {
            Tick::Read
        } else if receipt.delivered_seq >= seq {
            Tick::Delivered
        } else {
            Tick::Sent
        }
    }
}

#[component]
pub fn ReceiptMark(conversation: ConversationId, seq: u64, group: Signal<Option<bool>>) -> impl IntoView {
    let live = use_live();
    let receipts = Memo::new(move |_| live.receipts(&conversation));
    move || {
        let group = group.get()?;
        let receipts = receipts.get()?;
        Some(if group {
            view! { <SeenBy receipts seq/> }.into_any()
        } else {
            view! { <Ticks tick=receipts.first().map_or(Tick::Sent, |r| Tick::of(r, seq))/> }.into_any()
        })
    }
}

#[component]
fn Ticks(tick: Tick) -> impl IntoView {
    let i18n = use_i18n();
    let (marks, label, state) = match tick {
        Tick::Sent => ("✓", Msg::ReceiptSent, "sent"),
        Tick::Delivered => ("✓✓", Msg::ReceiptDelivered, "delivered"),
        Tick::Read => ("✓✓", Msg::ReceiptRead, "read"),
    };
    view! {
        <span
            class="ticks"
            class:read=tick == Tick::Read
            data-testid="receipt"
            data-state=state
            title=i18n.tr(label)
            aria-label=i18n.tr(label)
        >
            {marks}
        </span>
    }
}

#[component]
fn SeenBy(receipts: Vec<Receipt>, seq: u64) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let readers: Vec<_> = receipts.into_iter().filter(|r| r.read_seq >= seq).map(|r| r.user_id).collect();
    if readers.is_empty() {
        return ().into_any();
    }
    let count = readers.len();
    let open = RwSignal::new(false);
    let names = move || {
        readers.iter().map(|u| live.profile(u).map(|p| p.nickname).unwrap_or_default()).collect::<Vec<_>>().join(", ")
    };
    view! {
        <button
            type="button"
            class="link-button seen-by"
            data-testid="seen-by"
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|o| *o = !*o)
        >
            {i18n.tr(Msg::SeenBy)} " " {count}
        </button>
        <Show when=move || open.get()>
            <span class="seen-by-list" data-testid="seen-by-list" role="status">{names.clone()}</span>
        </Show>
    }
    .into_any()
}
