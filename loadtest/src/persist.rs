//! Scenarios 6 and 7 measure the store alone, through the server's own
//! repositories (`natter_server::store`), with no network in between.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use clap::Parser;
use natter_server::{
    config::Cli,
    store::{self, messages::MessageDraft, DynStore},
};
use wire::model::{ConversationId, MessageKind, UserId};

use crate::ledger::histogram;

/// Opens the store the server would open with these settings, prepared.
pub async fn open(data_dir: &Path, secret_file: &Path, mongodb: Option<(&str, &str)>) -> Result<DynStore, String> {
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let mut args = vec![
        "natter-server".to_owned(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--jwt-secret-file".into(),
        secret_file.display().to_string(),
    ];
    if let Some((uri, db)) = mongodb {
        args.extend(["--mongodb-uri".into(), uri.into(), "--mongodb-db".into(), db.into()]);
    }
    let config = Cli::try_parse_from(args).map_err(|e| e.to_string())?.validate().await.map_err(|e| e.to_string())?;
    let store = store::open(config.mongodb.as_ref(), &config.data_dir).await.map_err(|e| e.to_string())?;
    store.prepare().await.map_err(|e| e.to_string())?;
    Ok(store)
}

fn draft(conversation: &ConversationId, i: u64) -> MessageDraft {
    MessageDraft {
        conversation_id: conversation.clone(),
        sender_id: UserId("bench-sender".into()),
        client_id: format!("c{i}"),
        kind: MessageKind::Text,
        content: format!("message {i}: about as long as what people usually write"),
        ..Default::default()
    }
}

/// Appends messages round robin over `conversations` fresh conversations,
/// `batch` per write (1: one `append_message` each), until `total` or
/// `limit` elapsed; messages per second.
pub async fn append_rate(store: &DynStore, tag: &str, batch: usize, total: u64, limit: Duration) -> Result<f64, String> {
    const CONVERSATIONS: u64 = 16;
    let ids: Vec<ConversationId> = (0..CONVERSATIONS).map(|c| ConversationId(format!("bench-{tag}-{c}"))).collect();
    let start = Instant::now();
    let mut done = 0u64;
    while done < total && start.elapsed() < limit {
        if batch == 1 {
            store.append_message(draft(&ids[(done % CONVERSATIONS) as usize], done)).await.map_err(|e| e.to_string())?;
            done += 1;
            continue;
        }
        let drafts: Vec<_> = (done..done + batch as u64).map(|i| draft(&ids[(i % CONVERSATIONS) as usize], i)).collect();
        for result in store.append_messages(drafts).await {
            result.map_err(|e| e.to_string())?;
        }
        done += batch as u64;
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// Fills `conversation` up to `total` messages (it keeps what it has).
pub async fn fill(store: &DynStore, conversation: &ConversationId, total: u64) -> Result<(), String> {
    let mut have = store.last_seq(conversation).await.map_err(|e| e.to_string())?;
    if have < total {
        eprintln!("  filling the history conversation: {have} → {total} messages (kept for later runs)");
    }
    while have < total {
        let n = (total - have).min(128);
        let drafts: Vec<_> = (have..have + n).map(|i| draft(conversation, i)).collect();
        for result in store.append_messages(drafts).await {
            result.map_err(|e| e.to_string())?;
        }
        have += n;
        if have % 100_000 < n {
            eprintln!("  … {have}");
        }
    }
    Ok(())
}

/// p50 and p99 (ms) of fetching `times` pages of `page` messages before `before`.
pub async fn page_latency(
    store: &DynStore,
    conversation: &ConversationId,
    before: Option<u64>,
    page: u32,
    times: usize,
) -> Result<(f64, f64), String> {
    let mut h = histogram();
    for _ in 0..times {
        let start = Instant::now();
        let got = store.messages_before(conversation, before, page).await.map_err(|e| e.to_string())?;
        let _ = h.record((start.elapsed().as_micros() as u64).max(1));
        if got.len() != page as usize {
            return Err(format!("a page before {before:?} held {} messages, not {page}", got.len()));
        }
    }
    Ok((h.value_at_quantile(0.5) as f64 / 1000.0, h.value_at_quantile(0.99) as f64 / 1000.0))
}
