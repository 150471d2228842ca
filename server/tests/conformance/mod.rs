//! The store conformance suite: one body per behaviour, written once against
//! the repository traits. `store_conformance.rs` runs every body on the
//! embedded store and on MongoDB (FerretDB in the test run).
//!
//! Each body gets two handles to one fresh, empty store, `a` and `b`, which
//! stand for two server nodes sharing it.

use std::collections::BTreeSet;

use app::model::{ConversationId, Gender, MessageKind, UserId};
use natter_server::store::{
    messages::{MessageDraft, MAX_PAGE},
    new_id, now_millis,
    users::UserRecord,
    DynStore, StoreError,
};

fn user(email: &str) -> UserRecord {
    UserRecord {
        id: UserId(new_id()),
        email: email.to_owned(),
        nickname: "Ada".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        gender: Gender::Female,
        avatar: Some("/avatars/a.webp".to_owned()),
        created_ms: now_millis(),
    }
}

fn draft(conversation: &str, sender: &str, client_id: &str, text: &str) -> MessageDraft {
    MessageDraft {
        conversation_id: ConversationId::from(conversation),
        sender_id: UserId::from(sender),
        client_id: client_id.to_owned(),
        kind: MessageKind::Text,
        content: text.to_owned(),
    }
}

async fn fill(store: &DynStore, conversation: &str, n: usize) {
    for i in 0..n {
        store.append_message(draft(conversation, "u1", &format!("c{i}"), &format!("m{i}"))).await.unwrap();
    }
}

pub async fn store_answers_and_prepares_twice(a: &DynStore, _b: &DynStore) {
    a.ping().await.unwrap();
    a.prepare().await.unwrap();
    a.prepare().await.unwrap();
}

pub async fn users_round_trip(a: &DynStore, b: &DynStore) {
    let u = user("ada@example.org");
    a.insert_user(&u).await.unwrap();
    assert_eq!(b.user_by_id(&u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(b.user_by_email("ada@example.org").await.unwrap(), Some(u));
}

pub async fn users_email_ignores_case(a: &DynStore, b: &DynStore) {
    let u = user("Grace.Hopper@Example.ORG");
    a.insert_user(&u).await.unwrap();
    let found = b.user_by_email("grace.hopper@example.org").await.unwrap().expect("found");
    assert_eq!(found.id, u.id);
    assert_eq!(found.email, "grace.hopper@example.org", "stored lower-cased");
    let found = b.user_by_email("GRACE.HOPPER@EXAMPLE.ORG").await.unwrap().expect("found");
    assert_eq!(found.id, u.id);
}

pub async fn users_duplicate_email_conflicts_and_changes_nothing(a: &DynStore, b: &DynStore) {
    let first = user("linus@example.org");
    a.insert_user(&first).await.unwrap();
    let second = user("LINUS@example.org");
    let err = b.insert_user(&second).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    assert_eq!(a.user_by_id(&second.id).await.unwrap(), None);
    assert_eq!(a.user_by_email("linus@example.org").await.unwrap().unwrap().id, first.id);
}

pub async fn users_unknown_is_none(a: &DynStore, _b: &DynStore) {
    assert_eq!(a.user_by_id(&UserId::from("nobody")).await.unwrap(), None);
    assert_eq!(a.user_by_email("nobody@example.org").await.unwrap(), None);
}

pub async fn messages_are_numbered_per_conversation(a: &DynStore, b: &DynStore) {
    assert_eq!(a.last_seq(&ConversationId::from("c1")).await.unwrap(), 0);
    let m1 = a.append_message(draft("c1", "u1", "x1", "hello")).await.unwrap();
    let m2 = b.append_message(draft("c1", "u2", "x1", "你好")).await.unwrap();
    let other = a.append_message(draft("c2", "u1", "x2", "elsewhere")).await.unwrap();
    assert_eq!((m1.message.seq, m2.message.seq, other.message.seq), (1, 2, 1));
    assert!(!m1.duplicate && !m2.duplicate && !other.duplicate);
    assert_eq!(m2.message.content, "你好");
    assert_eq!(m2.message.sender_id, UserId::from("u2"));
    assert_eq!(b.last_seq(&ConversationId::from("c1")).await.unwrap(), 2);
}

pub async fn messages_keep_every_field(a: &DynStore, b: &DynStore) {
    for kind in MessageKind::ALL {
        let mut d = draft("kinds", "u1", &format!("{kind:?}"), "  <b>as sent</b> \n");
        d.kind = kind;
        let stored = a.append_message(d).await.unwrap().message;
        let read = b.messages_after(&ConversationId::from("kinds"), stored.seq - 1, 1).await.unwrap();
        assert_eq!(read, vec![stored]);
    }
}

pub async fn messages_resent_with_same_client_id_are_stored_once(a: &DynStore, b: &DynStore) {
    let first = a.append_message(draft("c", "u1", "same", "once")).await.unwrap();
    let again = b.append_message(draft("c", "u1", "same", "once")).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.message, first.message);
    // The same client id from another sender is another message.
    let other = a.append_message(draft("c", "u2", "same", "mine")).await.unwrap();
    assert!(!other.duplicate);
    assert_eq!(other.message.seq, 2);
    assert_eq!(a.last_seq(&ConversationId::from("c")).await.unwrap(), 2);
}

pub async fn history_pages_cover_everything_once(a: &DynStore, b: &DynStore) {
    fill(a, "h", 45).await;
    let conv = ConversationId::from("h");
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = b.messages_before(&conv, before, 20).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 20);
        assert!(page.windows(2).all(|w| w[0].seq == w[1].seq + 1), "newest first, no gap");
        before = page.last().map(|m| m.seq);
        seen.extend(page.into_iter().map(|m| m.seq));
    }
    assert_eq!(seen, (1..=45).rev().collect::<Vec<u64>>());

    let missed = b.messages_after(&conv, 40, 100).await.unwrap();
    assert_eq!(missed.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![41, 42, 43, 44, 45]);
    assert_eq!(missed[0].content, "m40");
    assert!(b.messages_after(&conv, 45, 10).await.unwrap().is_empty());
    assert!(b.messages_before(&conv, Some(1), 10).await.unwrap().is_empty());
}

pub async fn history_pages_are_bounded(a: &DynStore, _b: &DynStore) {
    fill(a, "big", MAX_PAGE as usize + 5).await;
    let conv = ConversationId::from("big");
    assert_eq!(a.messages_before(&conv, None, 10_000).await.unwrap().len(), MAX_PAGE as usize);
    assert_eq!(a.messages_after(&conv, 0, 10_000).await.unwrap().len(), MAX_PAGE as usize);
    assert_eq!(a.messages_before(&conv, None, 0).await.unwrap().len(), 1, "a page holds at least one");
}

/// The cluster decision: two nodes storing into one conversation at once
/// still number its messages 1..=n with no gap and no repeat.
pub async fn racing_writers_on_two_nodes_get_unique_gap_free_numbers(a: &DynStore, b: &DynStore) {
    const WRITERS: usize = 4;
    const EACH: usize = 25;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let d = draft("race", &format!("w{w}"), &format!("{i}"), "x");
                seqs.push(store.append_message(d).await.unwrap().message.seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one writer's messages keep its order");
        all.extend(seqs);
    }
    let unique: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(unique.len(), WRITERS * EACH, "no number given twice");
    assert_eq!(unique, (1..=(WRITERS * EACH) as u64).collect(), "no gap");
    let stored = a.messages_after(&ConversationId::from("race"), 0, 100).await.unwrap();
    assert_eq!(stored.len(), WRITERS * EACH);
}
