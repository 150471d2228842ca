//! The store conformance suite: one body per behaviour, written once against
//! the repository traits. `store_conformance.rs` runs every body on the
//! embedded store and on MongoDB (FerretDB in the test run).
//!
//! Each body gets two handles to one fresh, empty store, `a` and `b`, which
//! stand for two server nodes sharing it.

use std::collections::BTreeSet;

use natter_server::clock::now_millis;
use natter_server::store::{
    conversations::{ConversationPatch, Membership, Mentioned, Moves},
    devices::DeviceRecord,
    files::{BlobRecord, FileRecord},
    friends::{FriendLink, LinkState},
    messages::{MessageDraft, Tip, MAX_PAGE},
    new_id,
    signup::InviteRecord,
    users::{UserPatch, UserRecord},
    DynStore, StoreError,
};
use natter_server::text::search_fold::KeyQuery;
use wire::api::{ContactPolicy, Privacy};
use wire::model::{
    CallOutcome, CallRecord, Conversation, ConversationId, ConversationKind, FileId, Gender, JoinPolicy, MessageKind, MessagePreview, Role, UserId,
    Visibility,
};

fn user(email: &str) -> UserRecord {
    UserRecord {
        id: UserId(new_id()),
        email: email.to_owned(),
        nickname: "Ada".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        gender: Gender::Female,
        avatar: Some("0123456789abcdef".to_owned()),
        created_ms: now_millis(),
        last_login_ms: None,
        login_count: 0,
    }
}

fn draft(conversation: &str, sender: &str, client_id: &str, text: &str) -> MessageDraft {
    MessageDraft {
        conversation_id: ConversationId::from(conversation),
        sender_id: UserId::from(sender),
        client_id: client_id.to_owned(),
        kind: MessageKind::Text,
        content: text.to_owned(),
        ..Default::default()
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

pub async fn users_update_and_count_sign_ins(a: &DynStore, b: &DynStore) {
    let u = user("patch@example.org");
    a.insert_user(&u).await.unwrap();
    let patch = UserPatch { nickname: Some("新名字".into()), gender: Some(Gender::Male), ..UserPatch::default() };
    let updated = b.update_user(&u.id, &patch).await.unwrap().unwrap();
    assert_eq!((updated.nickname.as_str(), updated.gender), ("新名字", Gender::Male));
    assert_eq!(updated.password_hash, u.password_hash, "untouched fields stay");
    for at in [1_000, 2_000] {
        let login = UserPatch { login_at: Some(at), ..UserPatch::default() };
        a.update_user(&u.id, &login).await.unwrap();
    }
    let read = b.user_by_id(&u.id).await.unwrap().unwrap();
    assert_eq!((read.login_count, read.last_login_ms), (2, Some(2_000)));
    let other = UserPatch { avatar: Some("v2".into()), password_hash: Some("h2".into()), ..UserPatch::default() };
    let read = a.update_user(&u.id, &other).await.unwrap().unwrap();
    assert_eq!((read.avatar.as_deref(), read.password_hash.as_str()), (Some("v2"), "h2"));
    assert_eq!(read.nickname, "新名字");
    assert_eq!(a.update_user(&UserId::from("nobody"), &patch).await.unwrap(), None);
}

pub async fn users_search_by_any_part_folded(a: &DynStore, b: &DynStore) {
    for (email, nickname) in [
        ("ada@example.org", "Ada"),
        ("adam@example.org", "adam"),
        ("bob@example.org", "Bob"),
        ("pct@example.org", "100%_sure"),
        ("dot@example.org", "a.b"),
        ("zsf@example.org", "張三豐"),
        ("zs@example.org", "张三"),
        ("abc@example.org", "ＡＢＣ"),
        ("re@example.org", "x(.*)"),
    ] {
        let mut u = user(email);
        u.nickname = nickname.into();
        a.insert_user(&u).await.unwrap();
    }
    let search = |q: &str, limit| {
        let q = KeyQuery::new(q).unwrap();
        async move { b.search_users(&q, limit).await.unwrap().into_iter().map(|u| u.nickname).collect::<Vec<_>>() }
    };
    assert_eq!(search("ADA", 10).await, vec!["Ada", "adam"], "exact, then prefix");
    assert_eq!(search("a", 10).await, vec!["a.b", "ＡＢＣ", "Ada", "adam", "张三", "張三豐"],
        "prefixes (of nicknames or pinyin) by folded nickname, then parts");
    assert_eq!(search("三", 10).await, vec!["张三", "張三豐"], "any part; by folded nickname");
    assert_eq!(search("三丰", 10).await, vec!["張三豐"], "simplified finds traditional");
    assert_eq!(search("張三", 10).await, vec!["张三", "張三豐"], "traditional finds simplified; exact first");
    assert_eq!(search("zhang", 10).await, vec!["张三", "張三豐"], "by pinyin");
    assert_eq!(search("zsf", 10).await, vec!["張三豐"], "by initials");
    assert_eq!(search("abc", 10).await, vec!["ＡＢＣ"], "width and case");
    assert!(search("Bob@Example.org", 10).await.is_empty(), "nicknames only");
    assert_eq!(search("100%", 10).await, vec!["100%_sure"]);
    assert!(search("1%", 10).await.is_empty(), "% is literal");
    assert!(search("%_", 10).await.len() == 1, "_ is literal");
    assert_eq!(search("(.*)", 10).await, vec!["x(.*)"], "no pattern syntax");
    assert!(search(".*", 10).await.iter().all(|n| n == "x(.*)"), ". and * are literal");
    assert!(search("nobody", 10).await.is_empty());
    assert_eq!(search("a", 1).await, vec!["a.b"], "limit");

    let ada = b.search_users(&KeyQuery::new("ada").unwrap(), 1).await.unwrap().remove(0);
    let renamed = UserPatch { nickname: Some("李小龍".into()), ..UserPatch::default() };
    a.update_user(&ada.id, &renamed).await.unwrap();
    assert_eq!(search("小龙", 10).await, vec!["李小龍"], "the key follows a new nickname");
    assert_eq!(search("lixiao", 10).await, vec!["李小龍"]);
    assert_eq!(search("ada", 10).await, vec!["adam"], "the old one is gone");
}

pub async fn users_by_ids_skips_unknown(a: &DynStore, b: &DynStore) {
    let (x, y) = (user("x@example.org"), user("y@example.org"));
    a.insert_user(&x).await.unwrap();
    a.insert_user(&y).await.unwrap();
    let mut found = b.users_by_ids(&[y.id.clone(), UserId::from("nobody"), x.id.clone()]).await.unwrap();
    found.sort_by(|p, q| p.email.cmp(&q.email));
    assert_eq!(found, vec![x, y]);
    assert!(b.users_by_ids(&[]).await.unwrap().is_empty());
}

fn device(user: &UserId, id: &str, token: &str, at: i64) -> DeviceRecord {
    DeviceRecord {
        user_id: user.clone(),
        device_id: id.into(),
        token_id: token.into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64)".into(),
        signed_in_ms: at,
        last_seen_ms: at,
        previous_token_id: None,
        rotated_ms: 0,
    }
}

pub async fn token_rotation_keeps_the_previous_id(a: &DynStore, b: &DynStore) {
    let u = UserId::from("u");
    a.put_device(&device(&u, "laptop", "t1", 1_000)).await.unwrap();
    assert!(b.rotate_token(&u, "laptop", "t1", "t2", 5_000).await.unwrap());
    let d = a.device(&u, "laptop").await.unwrap().unwrap();
    assert_eq!((d.token_id.as_str(), d.previous_token_id.as_deref(), d.rotated_ms), ("t2", Some("t1"), 5_000));
    assert_eq!((d.signed_in_ms, d.last_seen_ms), (1_000, 1_000), "the session itself is unchanged");
    // A second rotation from the same id loses: another request rotated first.
    assert!(!a.rotate_token(&u, "laptop", "t1", "t3", 6_000).await.unwrap());
    assert_eq!(b.device(&u, "laptop").await.unwrap().unwrap().token_id, "t2");
    assert!(a.rotate_token(&u, "laptop", "t2", "t3", 7_000).await.unwrap());
    let d = b.device(&u, "laptop").await.unwrap().unwrap();
    assert_eq!((d.token_id.as_str(), d.previous_token_id.as_deref(), d.rotated_ms), ("t3", Some("t2"), 7_000));
    assert!(!a.rotate_token(&u, "nope", "t3", "t4", 8_000).await.unwrap(), "no such device");
    // Signing in again starts afresh.
    b.put_device(&device(&u, "laptop", "t9", 9_000)).await.unwrap();
    let d = a.device(&u, "laptop").await.unwrap().unwrap();
    assert_eq!((d.previous_token_id, d.rotated_ms), (None, 0));
}

pub async fn devices_hold_one_token_each(a: &DynStore, b: &DynStore) {
    let (u, v) = (UserId::from("u"), UserId::from("v"));
    a.put_device(&device(&u, "laptop", "t1", 1_000)).await.unwrap();
    a.put_device(&device(&u, "phone", "t2", 2_000)).await.unwrap();
    a.put_device(&device(&v, "laptop", "t3", 3_000)).await.unwrap();
    // Signing in again on the laptop replaces its token.
    b.put_device(&device(&u, "laptop", "t4", 4_000)).await.unwrap();
    assert_eq!(a.device(&u, "laptop").await.unwrap().unwrap().token_id, "t4");
    assert_eq!(a.device(&v, "laptop").await.unwrap().unwrap().token_id, "t3", "another user's device is apart");
    let ids = |ds: Vec<DeviceRecord>| ds.into_iter().map(|d| d.device_id).collect::<Vec<_>>();
    assert_eq!(ids(b.devices_of(&u).await.unwrap()), vec!["laptop", "phone"], "newest sign-in first");

    b.touch_device(&u, "phone", 9_000).await.unwrap();
    b.touch_device(&u, "phone", 5_000).await.unwrap();
    assert_eq!(a.device(&u, "phone").await.unwrap().unwrap().last_seen_ms, 9_000, "never goes back");

    assert!(a.remove_device(&u, "phone").await.unwrap());
    assert!(!a.remove_device(&u, "phone").await.unwrap());
    a.put_device(&device(&u, "tablet", "t5", 6_000)).await.unwrap();
    b.remove_other_devices(&u, "tablet").await.unwrap();
    assert_eq!(ids(a.devices_of(&u).await.unwrap()), vec!["tablet"]);
    assert_eq!(ids(a.devices_of(&v).await.unwrap()), vec!["laptop"]);
    assert_eq!(a.device(&u, "nope").await.unwrap(), None);
}

pub async fn friend_links_round_trip(a: &DynStore, b: &DynStore) {
    let (u, v, w) = (UserId::from("u"), UserId::from("v"), UserId::from("w"));
    let link = |owner: &UserId, other: &UserId, state, since_ms| FriendLink {
        owner: owner.clone(),
        other: other.clone(),
        state,
        since_ms,
    };
    a.put_link(&link(&u, &v, LinkState::Outgoing, 1)).await.unwrap();
    a.put_link(&link(&v, &u, LinkState::Incoming, 1)).await.unwrap();
    a.put_link(&link(&u, &w, LinkState::Friends, 2)).await.unwrap();
    assert_eq!(b.link(&v, &u).await.unwrap().unwrap().state, LinkState::Incoming);
    b.put_link(&link(&u, &v, LinkState::Friends, 3)).await.unwrap();
    let states: Vec<_> = a.links_of(&u).await.unwrap().into_iter().map(|l| (l.other, l.state)).collect();
    assert_eq!(states, vec![(w.clone(), LinkState::Friends), (v.clone(), LinkState::Friends)], "oldest first");
    a.remove_link(&u, &v).await.unwrap();
    assert_eq!(b.link(&u, &v).await.unwrap(), None);
    assert_eq!(b.link(&v, &u).await.unwrap().unwrap().state, LinkState::Incoming, "each side is its own link");
    // Blocks are links too, either way.
    a.put_link(&link(&u, &w, LinkState::Blocked, 4)).await.unwrap();
    a.put_link(&link(&w, &u, LinkState::BlockedBy, 4)).await.unwrap();
    assert_eq!(b.link(&u, &w).await.unwrap().unwrap().state, LinkState::Blocked);
    assert_eq!(b.link(&w, &u).await.unwrap().unwrap().state, LinkState::BlockedBy);
}

pub async fn privacy_default_then_round_trip(a: &DynStore, b: &DynStore) {
    let (ann, bob) = (UserId::from("ann"), UserId::from("bob"));
    assert_eq!(a.privacy(&ann).await.unwrap(), Privacy::default());
    assert!(Privacy::default().read_receipts, "receipts are on unless turned off");
    let closed = Privacy { contact: ContactPolicy::Friends, findable_by_email: true, read_receipts: false };
    a.put_privacy(&ann, &closed).await.unwrap();
    assert_eq!(b.privacy(&ann).await.unwrap(), closed);
    assert_eq!(b.privacy(&bob).await.unwrap(), Privacy::default(), "per user");
    let some = [ann.clone(), bob.clone(), UserId::from("cat")];
    assert_eq!(a.receipts_off(&some).await.unwrap(), [ann.clone()], "bob never set his: on");
    assert!(a.receipts_off(&[]).await.unwrap().is_empty());
    b.put_privacy(&ann, &Privacy::default()).await.unwrap();
    assert_eq!(a.privacy(&ann).await.unwrap(), Privacy::default(), "replaced");
    assert!(b.receipts_off(&some).await.unwrap().is_empty());
}

pub async fn first_user_is_the_earliest_created(a: &DynStore, b: &DynStore) {
    assert_eq!(a.first_user().await.unwrap(), None);
    let (mut early, mut late) = (user("early@example.org"), user("late@example.org"));
    late.created_ms = 2_000;
    early.created_ms = 1_000;
    a.insert_user(&late).await.unwrap();
    b.insert_user(&early).await.unwrap();
    assert_eq!(a.first_user().await.unwrap(), Some(early.id));
}

fn invite(id: &str, created_ms: i64, max_uses: u32) -> InviteRecord {
    let expires_ms = created_ms + 1000;
    InviteRecord { id: id.to_owned(), created_by: UserId::from("ann"), created_ms, expires_ms, max_uses }
}

pub async fn invites_round_trip_with_their_uses(a: &DynStore, b: &DynStore) {
    let (old, new) = (invite("old", 1_000, 3), invite("new", 2_000, 1));
    a.insert_invite(&old).await.unwrap();
    a.insert_invite(&new).await.unwrap();
    assert!(matches!(b.insert_invite(&old).await, Err(StoreError::Conflict(_))));
    assert_eq!(b.invite("old").await.unwrap(), Some(old.clone()));
    assert_eq!(b.invite("none").await.unwrap(), None);
    assert!(a.claim_use("old", 1, 5).await.unwrap());
    assert!(b.claim_use("old", 2, 5).await.unwrap());
    assert!(!b.claim_use("old", 2, 6).await.unwrap(), "a slot is taken once");
    assert_eq!(a.uses("old").await.unwrap(), 2);
    assert_eq!(b.invites().await.unwrap(), vec![(new.clone(), 0), (old.clone(), 2)], "newest first");
    b.release_use("old", 1).await.unwrap();
    assert_eq!(a.uses("old").await.unwrap(), 1);
    assert!(a.claim_use("old", 1, 7).await.unwrap(), "a slot given back is free again");

    assert!(b.remove_invite("old").await.unwrap());
    assert!(!a.remove_invite("old").await.unwrap());
    assert_eq!(a.invite("old").await.unwrap(), None);
    assert_eq!(a.uses("old").await.unwrap(), 0, "its uses went with it");
    assert_eq!(a.invites().await.unwrap(), vec![(new, 0)]);
}

/// Sign-ups on two nodes racing for the slots of one invitation: each slot
/// goes to exactly one of them.
pub async fn racing_claims_take_each_slot_once(a: &DynStore, b: &DynStore) {
    const RACERS: usize = 8;
    const SLOTS: u32 = 3;
    a.insert_invite(&invite("race", 1_000, SLOTS)).await.unwrap();
    let mut tasks = Vec::new();
    for r in 0..RACERS {
        let store = if r % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            for n in 1..=SLOTS {
                if store.claim_use("race", n, 1).await.unwrap() {
                    return Some(n);
                }
            }
            None
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        won.extend(t.await.unwrap());
    }
    won.sort();
    assert_eq!(won, (1..=SLOTS).collect::<Vec<_>>(), "every slot taken, none twice");
    assert_eq!(b.uses("race").await.unwrap(), SLOTS);
}

fn group(id: &str, visibility: Visibility, activity: i64) -> Conversation {
    Conversation {
        id: ConversationId::from(id),
        kind: ConversationKind::Group,
        visibility,
        join_policy: JoinPolicy::Open,
        name: format!("群 {id}"),
        description: "about".into(),
        creator_id: UserId::from("u"),
        peer_id: None,
        created_ms: activity,
        last_seq: 0,
        last_message: None,
        last_activity_ms: activity,
    }
}

/// A member who joined at 1 and has read nothing.
fn plain_member(conversation: &ConversationId, user: &UserId) -> Membership {
    Membership {
        conversation_id: conversation.clone(),
        user_id: user.clone(),
        role: Role::Member,
        read_seq: 0,
        read_shown: 0,
        delivered_seq: 0,
        mention_seq: 0,
        joined_ms: 1,
    }
}

fn preview(seq: u64, at: i64) -> MessagePreview {
    MessagePreview { seq, shown: seq, sender_id: UserId::from("u"), kind: MessageKind::Text, text: format!("m{seq}"), created_ms: at }
}

pub async fn conversations_round_trip_and_update(a: &DynStore, b: &DynStore) {
    let mut private = group("x", Visibility::Hidden, 5);
    private.id = Conversation::private_id(&UserId::from("v"), &UserId::from("u"));
    private.kind = ConversationKind::Private;
    private.peer_id = Some(UserId::from("v"));
    a.insert_conversation(&private).await.unwrap();
    assert_eq!(b.conversation(&private.id).await.unwrap(), Some(private.clone()));
    assert_eq!(private.id, Conversation::private_id(&UserId::from("u"), &UserId::from("v")), "one id per pair");
    let again = b.insert_conversation(&private).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");

    let g = group("g1", Visibility::Public, 10);
    a.insert_conversation(&g).await.unwrap();
    let patch = ConversationPatch {
        name: Some("renamed".into()),
        join_policy: Some(JoinPolicy::InviteOnly),
        ..ConversationPatch::default()
    };
    let updated = b.update_conversation(&g.id, &patch).await.unwrap().unwrap();
    assert_eq!((updated.name.as_str(), updated.join_policy, updated.description.as_str()), ("renamed", JoinPolicy::InviteOnly, "about"));
    assert_eq!(a.conversation(&g.id).await.unwrap().unwrap(), updated);
    assert_eq!(a.update_conversation(&ConversationId::from("nope"), &patch).await.unwrap(), None);
    let mut both = a.conversations_by_ids(&[g.id.clone(), private.id.clone(), ConversationId::from("nope")]).await.unwrap();
    both.sort_by(|p, q| p.id.cmp(&q.id));
    assert_eq!(both.len(), 2);
}

pub async fn last_message_only_moves_forward(a: &DynStore, b: &DynStore) {
    let g = group("g", Visibility::Hidden, 1);
    a.insert_conversation(&g).await.unwrap();
    record_message(a, &g.id, preview(2, 200)).await;
    record_message(b, &g.id, preview(1, 100)).await;
    let read = a.conversation(&g.id).await.unwrap().unwrap();
    assert_eq!(read.last_seq, 2);
    assert_eq!(read.last_message, Some(preview(2, 200)));
    assert_eq!(read.last_activity_ms, 200);
}

pub async fn last_entry_counts_changes_and_only_moves_forward(a: &DynStore, b: &DynStore) {
    let (g, h) = (group("g", Visibility::Hidden, 1), group("h", Visibility::Hidden, 1));
    a.insert_conversation(&g).await.unwrap();
    a.insert_conversation(&h).await.unwrap();
    let ids = [g.id.clone(), h.id.clone(), ConversationId::from("unknown")];
    assert_eq!(last_entries(b, &ids).await, [("g".into(), 0), ("h".into(), 0)]);
    record_message(a, &g.id, preview(2, 200)).await;
    assert_eq!(last_entries(b, &ids).await, [("g".into(), 2), ("h".into(), 0)], "a message is an entry");
    record_entry(b, &g.id, 4).await;
    record_entry(a, &g.id, 3).await;
    record_message(a, &g.id, preview(3, 300)).await;
    assert_eq!(last_entries(b, &ids).await, [("g".into(), 4), ("h".into(), 0)], "a change after the message counts");
    assert_eq!(a.conversation(&g.id).await.unwrap().unwrap().last_seq, 3, "a change is not a message");
}

pub async fn a_batch_of_moves_never_moves_anything_back(a: &DynStore, b: &DynStore) {
    let (g, h) = (group("g", Visibility::Hidden, 1), group("h", Visibility::Hidden, 1));
    a.insert_conversation(&g).await.unwrap();
    a.insert_conversation(&h).await.unwrap();
    let (ann, bob) = (UserId::from("ann"), UserId::from("bob"));
    for user in [&ann, &bob] {
        a.put_member(&plain_member(&g.id, user)).await.unwrap();
    }
    record_message(b, &h.id, preview(9, 900)).await;
    b.mark_read(&g.id, &bob, 6, 6).await.unwrap();
    let moves = Moves {
        newest_messages: vec![(g.id.clone(), preview(5, 500)), (h.id.clone(), preview(8, 800))],
        newest_entries: vec![(h.id.clone(), 10)],
        read: vec![(g.id.clone(), ann.clone(), 5, 5), (g.id.clone(), bob.clone(), 4, 4)],
    };
    a.record_moves(moves).await.unwrap();
    let (g_now, h_now) = (b.conversation(&g.id).await.unwrap().unwrap(), b.conversation(&h.id).await.unwrap().unwrap());
    assert_eq!((g_now.last_seq, g_now.last_message), (5, Some(preview(5, 500))));
    assert_eq!(h_now.last_seq, 9, "an older message is not recorded over a newer one");
    assert_eq!(last_entries(b, &[g.id.clone(), h.id.clone()]).await, [("g".into(), 5), ("h".into(), 10)]);
    let read = |m: Option<Membership>| m.map(|m| (m.read_seq, m.read_shown, m.delivered_seq)).unwrap();
    assert_eq!(read(b.member(&g.id, &ann).await.unwrap()), (5, 5, 5));
    assert_eq!(read(b.member(&g.id, &bob).await.unwrap()), (6, 6, 6), "never moved back");
    b.record_moves(Moves::default()).await.unwrap();
}

/// Records `preview` as a batch with one message in `id` would.
async fn record_message(store: &DynStore, id: &ConversationId, preview: MessagePreview) {
    store.record_moves(Moves { newest_messages: vec![(id.clone(), preview)], ..Moves::default() }).await.unwrap();
}

/// Records `seq` as a batch whose newest entry in `id` is a change would.
async fn record_entry(store: &DynStore, id: &ConversationId, seq: u64) {
    store.record_moves(Moves { newest_entries: vec![(id.clone(), seq)], ..Moves::default() }).await.unwrap();
}

async fn last_entries(store: &DynStore, ids: &[ConversationId]) -> Vec<(String, u64)> {
    let mut found = store.last_entries(ids).await.unwrap();
    found.sort();
    found.into_iter().map(|(c, seq)| (c.0, seq)).collect()
}

pub async fn public_directory_lists_newest_activity_first(a: &DynStore, b: &DynStore) {
    for (id, visibility, activity) in [("old", Visibility::Public, 1), ("hidden", Visibility::Hidden, 9), ("new", Visibility::Public, 5)] {
        a.insert_conversation(&group(id, visibility, activity)).await.unwrap();
    }
    record_message(a, &ConversationId::from("old"), preview(1, 7)).await;
    let ids = |cs: Vec<Conversation>| cs.into_iter().map(|c| c.id.0).collect::<Vec<_>>();
    assert_eq!(ids(b.public_conversations(None, 0, 10).await.unwrap()), vec!["old", "new"]);
    assert_eq!(ids(b.public_conversations(None, 1, 10).await.unwrap()), vec!["new"]);
    assert_eq!(ids(b.public_conversations(None, 0, 1).await.unwrap()), vec!["old"]);
}

pub async fn public_directory_search_folds_and_ranks(a: &DynStore, b: &DynStore) {
    let named = |id: &str, name: &str, description: &str, visibility, activity| Conversation {
        name: name.into(),
        description: description.into(),
        ..group(id, visibility, activity)
    };
    for c in [
        named("hk", "香港美食", "吃遍全港", Visibility::Public, 1),
        named("tw", "臺灣旅行", "環島", Visibility::Public, 2),
        named("hidden", "台湾秘密", "", Visibility::Hidden, 9),
        named("bw", "Bookworms", "我们读台湾小说", Visibility::Public, 3),
        named("tx", "台湾", "", Visibility::Public, 0),
        named("re", "a+b (x)", "", Visibility::Public, 0),
    ] {
        a.insert_conversation(&c).await.unwrap();
    }
    let search = |q: &str, skip, limit| {
        let q = KeyQuery::new(q).unwrap();
        async move {
            b.public_conversations(Some(&q), skip, limit).await.unwrap().into_iter().map(|c| c.id.0).collect::<Vec<_>>()
        }
    };
    assert_eq!(search("台灣", 0, 10).await, vec!["tx", "tw", "bw"], "exact, prefix, then part; never hidden");
    assert_eq!(search("台灣", 1, 1).await, vec!["tw"], "pages");
    assert_eq!(search("美食", 0, 10).await, vec!["hk"]);
    assert_eq!(search("全港", 0, 10).await, vec!["hk"], "the description too");
    assert_eq!(search("BOOK", 0, 10).await, vec!["bw"]);
    assert_eq!(search("+b (", 0, 10).await, vec!["re"], "no pattern syntax");
    assert!(search("沒有", 0, 10).await.is_empty());
    let patch = ConversationPatch { description: Some("港式茶餐廳".into()), ..ConversationPatch::default() };
    a.update_conversation(&ConversationId::from("hk"), &patch).await.unwrap();
    assert_eq!(search("茶餐厅", 0, 10).await, vec!["hk"], "the key follows a new description");
    assert!(search("全港", 0, 10).await.is_empty());
    let patch = ConversationPatch { visibility: Some(Visibility::Hidden), ..ConversationPatch::default() };
    a.update_conversation(&ConversationId::from("hk"), &patch).await.unwrap();
    assert!(search("茶餐厅", 0, 10).await.is_empty(), "hidden now");
}

pub async fn conversation_ids_walk_every_conversation_once(a: &DynStore, b: &DynStore) {
    for (id, visibility) in [("c", Visibility::Hidden), ("a", Visibility::Public), ("b", Visibility::Hidden)] {
        a.insert_conversation(&group(id, visibility, 1)).await.unwrap();
    }
    let page = |after: Option<&str>, limit| {
        let after = after.map(ConversationId::from);
        async move { b.conversation_ids_after(after.as_ref(), limit).await.unwrap().into_iter().map(|c| c.0).collect::<Vec<_>>() }
    };
    assert_eq!(page(None, 10).await, ["a", "b", "c"]);
    assert_eq!(page(None, 2).await, ["a", "b"]);
    assert_eq!(page(Some("b"), 2).await, ["c"]);
    assert!(page(Some("c"), 2).await.is_empty());
}

pub async fn members_roles_and_read_positions(a: &DynStore, b: &DynStore) {
    let conv = ConversationId::from("g");
    let member = |user: &str, role, joined_ms| Membership {
        conversation_id: conv.clone(),
        user_id: UserId::from(user),
        role,
        read_seq: 0,
        read_shown: 0,
        delivered_seq: 0,
        mention_seq: 0,
        joined_ms,
    };
    a.put_member(&member("owner", Role::Owner, 1)).await.unwrap();
    a.put_member(&member("m", Role::Member, 2)).await.unwrap();
    a.put_member(&Membership { conversation_id: ConversationId::from("other"), ..member("m", Role::Admin, 3) }).await.unwrap();
    b.put_member(&member("m", Role::Admin, 2)).await.unwrap();
    let users = |ms: Vec<Membership>| ms.into_iter().map(|m| (m.user_id.0, m.role)).collect::<Vec<_>>();
    assert_eq!(users(b.members_of(&conv).await.unwrap()), vec![("owner".into(), Role::Owner), ("m".into(), Role::Admin)]);
    assert_eq!(b.memberships_of(&UserId::from("m")).await.unwrap().len(), 2);

    b.mark_read(&conv, &UserId::from("m"), 7, 5).await.unwrap();
    a.mark_read(&conv, &UserId::from("m"), 3, 3).await.unwrap();
    let read = a.member(&conv, &UserId::from("m")).await.unwrap().unwrap();
    assert_eq!((read.read_seq, read.read_shown), (7, 5), "never goes back");

    assert!(a.remove_member(&conv, &UserId::from("m")).await.unwrap());
    assert!(!a.remove_member(&conv, &UserId::from("m")).await.unwrap());
    assert_eq!(b.member(&conv, &UserId::from("m")).await.unwrap(), None);
    assert!(b.member(&ConversationId::from("other"), &UserId::from("m")).await.unwrap().is_some());
}

pub async fn delivered_and_mention_positions_only_move_forward(a: &DynStore, b: &DynStore) {
    let conv = ConversationId::from("g");
    let member = |user: &str, joined_ms| Membership {
        conversation_id: conv.clone(),
        user_id: UserId::from(user),
        role: Role::Member,
        read_seq: 0,
        read_shown: 0,
        delivered_seq: 0,
        mention_seq: 0,
        joined_ms,
    };
    for (i, user) in ["ann", "bob", "cat"].into_iter().enumerate() {
        a.put_member(&member(user, i as i64)).await.unwrap();
    }
    let (ann, bob, cat) = (UserId::from("ann"), UserId::from("bob"), UserId::from("cat"));
    let at = |m: Option<Membership>| m.map(|m| (m.delivered_seq, m.read_seq, m.mention_seq)).unwrap();

    assert!(a.mark_delivered(&conv, &bob, 5).await.unwrap());
    assert!(!b.mark_delivered(&conv, &bob, 5).await.unwrap(), "not moved: the same");
    assert!(!b.mark_delivered(&conv, &bob, 3).await.unwrap(), "not moved: back");
    b.mark_read(&conv, &bob, 8, 8).await.unwrap();
    assert_eq!(at(a.member(&conv, &bob).await.unwrap()), (8, 8, 0), "reading is receiving");
    assert!(!a.mark_delivered(&conv, &bob, 7).await.unwrap(), "below what was read");
    assert!(a.mark_delivered(&conv, &bob, 9).await.unwrap());

    a.raise_mention_seq(&conv, Mentioned::Members(&[bob.clone(), UserId::from("stranger")]), 4).await.unwrap();
    b.raise_mention_seq(&conv, Mentioned::Members(&[]), 99).await.unwrap();
    assert_eq!(at(b.member(&conv, &bob).await.unwrap()).2, 4);
    assert_eq!(at(b.member(&conv, &cat).await.unwrap()).2, 0);
    b.raise_mention_seq(&conv, Mentioned::AllBut(&ann), 6).await.unwrap();
    a.raise_mention_seq(&conv, Mentioned::Members(std::slice::from_ref(&cat)), 5).await.unwrap();
    let mentions: Vec<u64> = a.members_of(&conv).await.unwrap().into_iter().map(|m| m.mention_seq).collect();
    assert_eq!(mentions, [0, 6, 6], "all but the sender; never lowered");
    // The other columns survive a replaced membership (a role change).
    let bobs = a.member(&conv, &bob).await.unwrap().unwrap();
    b.put_member(&Membership { role: Role::Admin, ..bobs.clone() }).await.unwrap();
    assert_eq!(at(a.member(&conv, &bob).await.unwrap()), (9, 8, 6));

    let first: Vec<String> = b.first_members(&conv, 2).await.unwrap().into_iter().map(|m| m.user_id.0).collect();
    assert_eq!(first, ["ann", "bob"], "the first to join, at most the limit");
    assert_eq!(b.first_members(&conv, 10).await.unwrap().len(), 3);
}

pub async fn invitations_round_trip(a: &DynStore, b: &DynStore) {
    let (conv, user) = (ConversationId::from("g"), UserId::from("guest"));
    assert!(!a.is_invited(&conv, &user).await.unwrap());
    a.put_invitation(&conv, &user, 1).await.unwrap();
    a.put_invitation(&conv, &user, 2).await.unwrap();
    assert!(b.is_invited(&conv, &user).await.unwrap());
    assert!(!b.is_invited(&ConversationId::from("h"), &user).await.unwrap());
    a.put_invitation(&ConversationId::from("older"), &user, 0).await.unwrap();
    assert_eq!(b.invitations_of(&user).await.unwrap(), vec![ConversationId::from("older"), conv.clone()]);
    assert!(b.invitations_of(&UserId::from("nobody")).await.unwrap().is_empty());
    b.remove_invitation(&conv, &user).await.unwrap();
    assert!(!a.is_invited(&conv, &user).await.unwrap());
}

pub async fn batches_store_each_draft_as_one_by_one_would(a: &DynStore, b: &DynStore) {
    a.append_message(draft("b1", "u1", "old", "stored before")).await.unwrap();
    let batch = vec![
        draft("b1", "u1", "x1", "one"),
        draft("b2", "u1", "x1", "other conversation"),
        draft("b1", "u1", "old", "resent"),
        draft("b1", "u2", "x1", "two"),
    ];
    let results: Vec<_> = b.append_messages(batch).await.into_iter().map(Result::unwrap).collect();
    let seqs: Vec<(u64, bool)> = results.iter().map(|r| (r.message.seq, r.duplicate)).collect();
    assert_eq!(seqs, vec![(2, false), (1, false), (1, true), (3, false)]);
    assert_eq!(results[2].message.content, "stored before");
    let stored = a.messages_after(&ConversationId::from("b1"), 0, 10).await.unwrap();
    assert_eq!(stored.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), vec!["stored before", "one", "two"]);
}

pub async fn racing_batches_on_two_nodes_stay_gap_free(a: &DynStore, b: &DynStore) {
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            for round in 0..5 {
                let batch = (0..5).map(|i| draft("rb", &format!("w{w}"), &format!("{round}-{i}"), "x")).collect();
                for result in store.append_messages(batch).await {
                    result.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stored = a.messages_after(&ConversationId::from("rb"), 0, 100).await.unwrap();
    assert_eq!(stored.iter().map(|m| m.seq).collect::<Vec<_>>(), (1..=100).collect::<Vec<u64>>());
}

pub async fn status_settings_default_then_round_trip(a: &DynStore, b: &DynStore) {
    use wire::{
        api::{ConversationStatus, StatusSettings},
        model::Status,
    };
    let (ann, bob, cat) = (UserId(new_id()), UserId(new_id()), UserId(new_id()));
    assert_eq!(a.status_settings(&ann).await.unwrap(), StatusSettings::default());
    assert!(a.status_settings_of(&[]).await.unwrap().is_empty());
    let busy_at_work = StatusSettings {
        status: Status::Invisible,
        conversations: vec![ConversationStatus { conversation_id: ConversationId::from("work"), status: Status::Busy }],
    };
    a.put_status_settings(&ann, &busy_at_work).await.unwrap();
    a.put_status_settings(&bob, &StatusSettings { status: Status::Away, conversations: vec![] }).await.unwrap();
    assert_eq!(b.status_settings(&ann).await.unwrap(), busy_at_work);
    // Replaced whole.
    b.put_status_settings(&bob, &StatusSettings::default()).await.unwrap();
    let mut some = b.status_settings_of(&[ann.clone(), bob.clone(), cat]).await.unwrap();
    some.sort_by(|x, y| x.0 .0.cmp(&y.0 .0));
    let mut want = vec![(ann, busy_at_work), (bob, StatusSettings::default())];
    want.sort_by(|x, y| x.0 .0.cmp(&y.0 .0));
    assert_eq!(some, want, "those who never set one are left out");
}

pub async fn push_subscriptions_one_per_device(a: &DynStore, b: &DynStore) {
    use std::collections::HashSet;

    use natter_server::store::push::{Audience, StoredSubscription};
    let (ann, bob) = (UserId(new_id()), UserId(new_id()));
    let sub = |user: &UserId, device: &str, endpoint: &str| StoredSubscription {
        user_id: user.clone(),
        device_id: device.to_owned(),
        endpoint: endpoint.to_owned(),
        p256dh: "B".repeat(87),
        auth: "A".repeat(22),
        created_ms: 1_700_000_000_000,
    };
    assert!(a.push_subscriptions_of(&ann).await.unwrap().is_empty());
    a.put_push_subscription(&sub(&ann, "phone", "https://push.example/1")).await.unwrap();
    a.put_push_subscription(&sub(&ann, "laptop", "https://push.example/2")).await.unwrap();
    a.put_push_subscription(&sub(&bob, "phone", "https://push.example/3")).await.unwrap();
    // Subscribing anew replaces the device's subscription.
    let renewed = sub(&ann, "phone", "https://push.example/4");
    b.put_push_subscription(&renewed).await.unwrap();
    let mut anns = b.push_subscriptions_of(&ann).await.unwrap();
    anns.sort_by(|x, y| x.device_id.cmp(&y.device_id));
    assert_eq!(anns, vec![sub(&ann, "laptop", "https://push.example/2"), renewed]);
    // Who among a conversation's members has any: each once, however many devices.
    let (cat, dan) = (UserId(new_id()), UserId(new_id()));
    let (group, quiet) = (ConversationId(new_id()), ConversationId(new_id()));
    for user in [&ann, &bob, &cat] {
        a.put_member(&plain_member(&group, user)).await.unwrap();
    }
    a.put_member(&plain_member(&quiet, &cat)).await.unwrap();
    a.put_member(&plain_member(&quiet, &dan)).await.unwrap();
    let audience = b.push_audience(&group).await.unwrap();
    assert_eq!(audience, Audience { members: 3, subscribed: [ann.clone(), bob.clone()].into_iter().collect() });
    assert_eq!(a.push_audience(&quiet).await.unwrap(), Audience { members: 2, subscribed: HashSet::new() });
    assert_eq!(a.push_audience(&ConversationId(new_id())).await.unwrap(), Audience::default());
    // A push service's "gone" for the old endpoint leaves the new one.
    assert!(!a.remove_push_subscription(&ann, "phone", Some("https://push.example/1")).await.unwrap());
    assert!(a.remove_push_subscription(&ann, "phone", Some("https://push.example/4")).await.unwrap());
    assert!(b.remove_push_subscription(&ann, "laptop", None).await.unwrap());
    assert!(!b.remove_push_subscription(&ann, "laptop", None).await.unwrap());
    assert!(a.push_subscriptions_of(&ann).await.unwrap().is_empty());
    assert_eq!(a.push_subscriptions_of(&bob).await.unwrap().len(), 1, "other users' stay");
    // Signing a device out takes its subscription with it.
    for device in ["phone", "tablet", "tv"] {
        a.put_push_subscription(&sub(&ann, device, &format!("https://push.example/{device}"))).await.unwrap();
    }
    a.remove_device(&ann, "phone").await.unwrap();
    b.remove_other_devices(&ann, "tablet").await.unwrap();
    let left: Vec<String> = a.push_subscriptions_of(&ann).await.unwrap().into_iter().map(|s| s.device_id).collect();
    assert_eq!(left, vec!["tablet"]);
    assert_eq!(a.push_subscriptions_of(&bob).await.unwrap().len(), 1, "other users' stay");
}

pub async fn notify_settings_default_then_round_trip(a: &DynStore, b: &DynStore) {
    use wire::push::{ConversationNotify, NotifyLevel, NotifySettings, QuietHours, MUTED_FOREVER};
    let (ann, bob, cat) = (UserId(new_id()), UserId(new_id()), UserId(new_id()));
    assert_eq!(a.notify_settings(&ann).await.unwrap(), NotifySettings::default());
    assert!(a.notify_settings_of(&[]).await.unwrap().is_empty());
    let quiet = NotifySettings {
        conversations: vec![
            ConversationNotify {
                conversation_id: ConversationId::from("work"),
                level: Some(NotifyLevel::Mentions),
                muted_until_ms: None,
            },
            ConversationNotify {
                conversation_id: ConversationId::from("news"),
                level: None,
                muted_until_ms: Some(MUTED_FOREVER),
            },
        ],
        quiet_hours: Some(QuietHours { start_minute: 22 * 60, end_minute: 7 * 60, utc_offset_minutes: -300 }),
        hide_previews: true,
    };
    a.put_notify_settings(&ann, &quiet).await.unwrap();
    a.put_notify_settings(&bob, &quiet).await.unwrap();
    assert_eq!(b.notify_settings(&ann).await.unwrap(), quiet);
    // Replaced whole.
    b.put_notify_settings(&bob, &NotifySettings::default()).await.unwrap();
    let mut some = b.notify_settings_of(&[ann.clone(), bob.clone(), cat]).await.unwrap();
    some.sort_by(|x, y| x.0 .0.cmp(&y.0 .0));
    let mut want = vec![(ann, quiet), (bob, NotifySettings::default())];
    want.sort_by(|x, y| x.0 .0.cmp(&y.0 .0));
    assert_eq!(some, want, "those who never set any are left out");
}

fn blob(sha_digit: char, mime: &str) -> BlobRecord {
    BlobRecord {
        sha256: sha_digit.to_string().repeat(64),
        size: 1234,
        mime: mime.to_owned(),
        width: Some(640),
        height: Some(480),
        thumbnail: true,
        created_ms: now_millis(),
    }
}

/// A change by `sender` to the message at `target` in `conversation`.
fn change(conversation: &str, sender: &str, client_id: &str, kind: MessageKind, target: u64, content: &str) -> MessageDraft {
    MessageDraft { kind, target: Some(target), ..draft(conversation, sender, client_id, content) }
}

pub async fn changes_share_the_sequence_but_not_the_shown_count(a: &DynStore, b: &DynStore) {
    let c = ConversationId::from("changes");
    let mut hello = draft("changes", "u1", "m1", "hello @u2");
    hello.mentions = vec![UserId::from("u2")];
    let first = a.append_message(hello).await.unwrap();
    let batch = vec![
        change("changes", "u2", "r1", MessageKind::React, 1, "👍"),
        MessageDraft { reply_to: Some(1), ..draft("changes", "u2", "m2", "hi") },
        change("changes", "u1", "e1", MessageKind::Edit, 1, "hello, @u2"),
    ];
    let stored: Vec<_> = b.append_messages(batch).await.into_iter().map(Result::unwrap).collect();
    let numbers: Vec<_> = stored.iter().map(|s| (s.message.seq, s.message.shown)).collect();
    assert_eq!((first.message.shown, numbers), (1, vec![(2, 1), (3, 2), (4, 2)]), "changes are numbered, not shown");
    let again = a.append_message(change("changes", "u1", "e1", MessageKind::Edit, 1, "hello, @u2")).await.unwrap();
    assert_eq!((again.duplicate, again.message.seq, again.message.shown), (true, 4, 2));
    assert_eq!(a.tip(&c).await.unwrap(), Tip { seq: 4, shown: 2 });
    let shown: Vec<u64> = futures_util::future::join_all((0..=5).map(|seq| b.shown_at(&c, seq))).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(shown, [0, 1, 1, 2, 2, 2]);
    let reply = a.message_at(&c, 3).await.unwrap().unwrap();
    assert_eq!((reply.reply_to, reply.target), (Some(1), None));
    assert_eq!(a.message_at(&c, 1).await.unwrap().unwrap().mentions, [UserId::from("u2")]);
    assert_eq!(a.message_at(&c, 9).await.unwrap(), None);
    let changes = b.changes_of(&c, 1).await.unwrap();
    assert_eq!(changes.iter().map(|m| (m.seq, m.kind, m.target)).collect::<Vec<_>>(), [
        (2, MessageKind::React, Some(1)),
        (4, MessageKind::Edit, Some(1)),
    ]);
    assert!(b.changes_of(&c, 3).await.unwrap().is_empty());
}

pub async fn pins_and_unpins_come_newest_first(a: &DynStore, b: &DynStore) {
    let c = ConversationId::from("pins");
    for n in 1..=2 {
        a.append_message(draft("pins", "u1", &format!("m{n}"), "pin me")).await.unwrap();
    }
    a.append_message(change("pins", "u1", "p1", MessageKind::Pin, 1, "")).await.unwrap();
    a.append_message(change("pins", "u2", "r1", MessageKind::React, 1, "📌")).await.unwrap();
    a.append_message(change("pins", "u1", "p2", MessageKind::Pin, 2, "")).await.unwrap();
    a.append_message(change("pins", "u1", "u1", MessageKind::Unpin, 1, "")).await.unwrap();
    let pins = b.pin_changes(&c).await.unwrap();
    assert_eq!(pins.iter().map(|m| (m.seq, m.kind, m.target)).collect::<Vec<_>>(), [
        (6, MessageKind::Unpin, Some(1)),
        (5, MessageKind::Pin, Some(2)),
        (3, MessageKind::Pin, Some(1)),
    ]);
    assert!(b.pin_changes(&ConversationId::from("none")).await.unwrap().is_empty());
}

pub async fn a_scrubbed_message_keeps_its_place_but_not_its_words(a: &DynStore, b: &DynStore) {
    let c = ConversationId::from("scrub");
    let mut photo = draft("scrub", "u1", "m1", "my address is …");
    photo.kind = MessageKind::Image;
    photo.attachment = Some(Box::new(file_of("u1", &blob('s', "image/png"), "home.png").info().attach(None)));
    photo.mentions = vec![UserId::from("u2")];
    a.append_message(photo).await.unwrap();
    a.append_message(change("scrub", "u1", "e1", MessageKind::Edit, 1, "my new address is …")).await.unwrap();
    a.append_message(change("scrub", "u2", "r1", MessageKind::React, 1, "🏠")).await.unwrap();
    let kept = a.append_message(draft("scrub", "u2", "m2", "nice")).await.unwrap().message;
    b.scrub(&c, 1).await.unwrap();
    let gone = a.message_at(&c, 1).await.unwrap().unwrap();
    assert_eq!((gone.content.as_str(), gone.attachment, gone.mentions.len()), ("", None, 0));
    assert_eq!((gone.seq, gone.kind), (1, MessageKind::Image));
    let changes = a.changes_of(&c, 1).await.unwrap();
    assert_eq!(changes.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), ["", "🏠"], "the edit's words go too");
    assert_eq!(a.message_at(&c, 4).await.unwrap(), Some(kept));
}

fn file_of(owner: &str, blob: &BlobRecord, name: &str) -> FileRecord {
    FileRecord { id: FileId(new_id()), owner: UserId::from(owner), name: name.to_owned(), blob: blob.clone(), created_ms: now_millis() }
}

pub async fn messages_keep_their_attachment(a: &DynStore, b: &DynStore) {
    let mut d = draft("att", "u1", "with-file", "a caption");
    d.kind = MessageKind::Voice;
    d.attachment = Some(Box::new(file_of("u1", &blob('a', "audio/ogg"), "note.ogg").info().attach(Some(4200))));
    let stored = a.append_message(d).await.unwrap().message;
    assert_eq!(stored.attachment.as_ref().unwrap().duration_ms, Some(4200));
    let read = b.messages_before(&ConversationId::from("att"), None, 10).await.unwrap();
    assert_eq!(read, vec![stored]);
}

pub async fn a_file_is_in_use_while_a_message_carries_it(a: &DynStore, b: &DynStore) {
    let file = file_of("u1", &blob('9', "text/plain"), "a.txt");
    a.insert_file(&file).await.unwrap();
    a.record_posting(&file.id, &ConversationId::from("c")).await.unwrap();
    assert!(!b.file_in_use(&file.id).await.unwrap());
    let mut seqs = Vec::new();
    for client_id in ["one", "two"] {
        let mut d = draft("c", "u1", client_id, "");
        d.kind = MessageKind::File;
        d.attachment = Some(Box::new(file.info().attach(None)));
        seqs.push(a.append_message(d).await.unwrap().message.seq);
    }
    assert!(b.file_in_use(&file.id).await.unwrap());
    a.scrub(&ConversationId::from("c"), seqs[0]).await.unwrap();
    assert!(b.file_in_use(&file.id).await.unwrap(), "the second still carries it");
    b.scrub(&ConversationId::from("c"), seqs[1]).await.unwrap();
    assert!(!a.file_in_use(&file.id).await.unwrap());
    a.delete_file(&file.id).await.unwrap();
    assert_eq!(b.file(&file.id).await.unwrap(), None);
    assert!(b.postings(&file.id).await.unwrap().is_empty());
    assert_eq!(b.bytes_used_by(&UserId::from("u1")).await.unwrap(), 0, "its size no longer counts");
    assert!(!b.record_posting(&file.id, &ConversationId::from("c")).await.unwrap(), "nothing to post");
}

pub async fn messages_keep_their_call_record(a: &DynStore, b: &DynStore) {
    let conversation = ConversationId::from("calls");
    let ended = CallRecord { outcome: CallOutcome::Ended, duration_ms: Some(61_500) };
    let video = MessageDraft::call_record(conversation.clone(), UserId::from("u1"), MessageKind::VideoCall, "call-1", ended);
    let stored = a.append_message(video.clone()).await.unwrap();
    assert_eq!(stored.message.call.as_deref().map(|c| c.duration_ms), Some(Some(61_500)));
    let missed = CallRecord { outcome: CallOutcome::Missed, duration_ms: None };
    let voice = MessageDraft::call_record(conversation.clone(), UserId::from("u1"), MessageKind::VoiceCall, "call-2", missed);
    b.append_message(voice).await.unwrap();
    let again = b.append_message(video).await.unwrap();
    assert!(again.duplicate, "one call is recorded once, whichever node records it");
    let read = b.messages_after(&conversation, 0, 10).await.unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(read[0], stored.message);
    assert_eq!(read[1].call.as_ref().map(|c| c.outcome), Some(CallOutcome::Missed));
    assert_eq!(read[1].kind, MessageKind::VoiceCall);
}

pub async fn blobs_are_recorded_once_per_hash(a: &DynStore, b: &DynStore) {
    let first = blob('b', "image/png");
    assert_eq!(b.blob(&first.sha256).await.unwrap(), None);
    a.insert_blob(&first).await.unwrap();
    let mut second = first.clone();
    second.mime = "text/plain".into();
    b.insert_blob(&second).await.unwrap();
    assert_eq!(a.blob(&first.sha256).await.unwrap(), Some(first), "the first record stays");
}

pub async fn files_round_trip_with_their_blob(a: &DynStore, b: &DynStore) {
    let shared = blob('c', "application/pdf");
    a.insert_blob(&shared).await.unwrap();
    let (mine, theirs) = (file_of("u1", &shared, "报告.pdf"), file_of("u2", &shared, "report.pdf"));
    a.insert_file(&mine).await.unwrap();
    b.insert_file(&theirs).await.unwrap();
    assert_eq!(b.file(&mine.id).await.unwrap(), Some(mine.clone()));
    assert_eq!(a.file(&theirs.id).await.unwrap(), Some(theirs.clone()));
    assert_eq!(a.file(&FileId::from("nope")).await.unwrap(), None);
    assert!(matches!(b.insert_file(&mine).await, Err(StoreError::Conflict(_))), "ids are unique");
    let mut both = b.files_of_blob(&shared.sha256, 10).await.unwrap();
    both.sort_by(|x, y| x.id.0.cmp(&y.id.0));
    let mut expected = vec![mine, theirs];
    expected.sort_by(|x, y| x.id.0.cmp(&y.id.0));
    assert_eq!(both, expected, "every upload of the content");
    assert_eq!(a.files_of_blob(&shared.sha256, 1).await.unwrap().len(), 1, "at most the limit");
    assert!(a.files_of_blob(&blob('d', "text/plain").sha256, 10).await.unwrap().is_empty());
}

pub async fn file_postings_are_a_set(a: &DynStore, b: &DynStore) {
    let shared = blob('d', "image/jpeg");
    a.insert_blob(&shared).await.unwrap();
    let file = file_of("u1", &shared, "a.jpg");
    a.insert_file(&file).await.unwrap();
    assert!(b.postings(&file.id).await.unwrap().is_empty());
    for conversation in ["c1", "c2", "c1"] {
        assert!(a.record_posting(&file.id, &ConversationId::from(conversation)).await.unwrap());
    }
    let posted: BTreeSet<ConversationId> = b.postings(&file.id).await.unwrap().into_iter().collect();
    assert_eq!(posted, BTreeSet::from([ConversationId::from("c1"), ConversationId::from("c2")]));
    assert!(b.postings(&FileId::from("nope")).await.unwrap().is_empty());
    assert!(!b.record_posting(&FileId::from("nope"), &ConversationId::from("c1")).await.unwrap(), "no such file");
    assert!(b.postings(&FileId::from("nope")).await.unwrap().is_empty(), "nothing recorded");
}

pub async fn a_file_records_its_blob_if_missing(a: &DynStore, b: &DynStore) {
    let content = blob('e', "text/plain");
    let file = file_of("u1", &content, "a.txt");
    a.insert_file(&file).await.unwrap();
    assert_eq!(b.blob(&content.sha256).await.unwrap(), Some(content.clone()));
    assert_eq!(b.file(&file.id).await.unwrap(), Some(file));
}

pub async fn bytes_used_count_each_file_in_full(a: &DynStore, b: &DynStore) {
    let (shared, other) = (blob('f', "image/png"), BlobRecord { size: 100, ..blob('0', "text/plain") });
    assert_eq!(b.bytes_used_by(&UserId::from("u1")).await.unwrap(), 0);
    for (owner, content) in [("u1", &shared), ("u1", &shared), ("u1", &other), ("u2", &shared)] {
        a.insert_file(&file_of(owner, content, "x")).await.unwrap();
    }
    assert_eq!(b.bytes_used_by(&UserId::from("u1")).await.unwrap(), 2 * 1234 + 100, "deduplicated content counts twice");
    assert_eq!(b.bytes_used_by(&UserId::from("u2")).await.unwrap(), 1234);
}

pub async fn only_old_unposted_files_are_swept(a: &DynStore, b: &DynStore) {
    let content = blob('1', "text/plain");
    let at = |file: FileRecord, ms: i64| FileRecord { created_ms: ms, ..file };
    let (old, posted, fresh) =
        (at(file_of("u1", &content, "old"), 1_000), at(file_of("u1", &content, "posted"), 1_000), at(file_of("u1", &content, "new"), 9_000));
    for file in [&old, &posted, &fresh] {
        a.insert_file(file).await.unwrap();
    }
    assert!(a.record_posting(&posted.id, &ConversationId::from("c1")).await.unwrap());
    assert_eq!(b.unposted_files(5_000, 10).await.unwrap(), vec![old.id.clone()]);
    assert_eq!(b.unposted_files(10_000, 10).await.unwrap().len(), 2);
    assert_eq!(b.unposted_files(10_000, 1).await.unwrap().len(), 1, "at most the limit");
    assert_eq!(b.delete_unposted_files(&[posted.id.clone(), old.id.clone()]).await.unwrap(), 1, "a posted file stays");
    assert_eq!(b.delete_unposted_files(&[old.id.clone()]).await.unwrap(), 0, "gone already");
    assert_eq!(b.delete_unposted_files(&[]).await.unwrap(), 0);
    assert_eq!(a.file(&old.id).await.unwrap(), None);
    assert!(!a.record_posting(&old.id, &ConversationId::from("c1")).await.unwrap(), "a swept file cannot be posted");
    assert!(a.file(&posted.id).await.unwrap().is_some() && a.file(&fresh.id).await.unwrap().is_some());
}

pub async fn blobs_go_only_when_no_file_refers_to_them(a: &DynStore, b: &DynStore) {
    let (kept, orphan, unknown) = (blob('2', "text/plain"), blob('3', "text/plain"), "4".repeat(64));
    let file = file_of("u1", &kept, "a.txt");
    a.insert_file(&file).await.unwrap();
    a.insert_blob(&orphan).await.unwrap();
    let asked = [kept.sha256.clone(), orphan.sha256.clone(), unknown.clone()];
    assert_eq!(b.referenced_blobs(&asked).await.unwrap(), vec![kept.sha256.clone()]);
    let mut gone = b.delete_unreferenced_blobs(&asked).await.unwrap();
    gone.sort();
    assert_eq!(gone, [orphan.sha256.clone(), unknown.clone()], "no record, no file: nothing to keep either");
    assert_eq!(a.blob(&kept.sha256).await.unwrap(), Some(kept.clone()), "a referenced blob keeps its record");
    assert_eq!(a.blob(&orphan.sha256).await.unwrap(), None);
    assert_eq!(a.delete_unposted_files(&[file.id.clone()]).await.unwrap(), 1);
    assert!(b.referenced_blobs(&asked).await.unwrap().is_empty());
    assert_eq!(b.delete_unreferenced_blobs(&asked[..1]).await.unwrap(), [kept.sha256.clone()], "its last file is gone");
    assert!(b.delete_unreferenced_blobs(&[]).await.unwrap().is_empty());
}

pub async fn a_posting_and_a_sweep_never_both_win(a: &DynStore, b: &DynStore) {
    let content = blob('5', "text/plain");
    let files: Vec<FileRecord> = (0..40).map(|i| file_of("u1", &content, &format!("f{i}"))).collect();
    for file in &files {
        a.insert_file(file).await.unwrap();
    }
    let ids: Vec<FileId> = files.iter().map(|f| f.id.clone()).collect();
    let postings = ids.iter().rev().map(|id| {
        let (a, id) = (a.clone(), id.clone());
        tokio::spawn(async move { (a.record_posting(&id, &ConversationId::from("c1")).await.unwrap(), id) })
    });
    let postings: Vec<_> = postings.collect();
    let swept = {
        let b = b.clone();
        tokio::spawn(async move {
            let mut n = 0;
            for chunk in ids.chunks(8) {
                n += b.delete_unposted_files(chunk).await.unwrap();
            }
            n
        })
    };
    let mut outcomes = Vec::new();
    for posting in postings {
        outcomes.push(posting.await.unwrap());
    }
    let swept = swept.await.unwrap();
    for (won, id) in &outcomes {
        let exists = b.file(id).await.unwrap().is_some();
        assert_eq!(*won, exists, "a file is posted and kept, or swept and not posted");
    }
    let posted = outcomes.iter().filter(|(won, _)| *won).count() as u64;
    assert_eq!(posted + swept, 40, "each file went one way");
}

/// A user and a public group to find once their search keys are gone
/// and written again (see `store_conformance.rs`).
pub async fn put_named_rows(a: &DynStore) {
    let mut u = user("zsf@example.org");
    u.nickname = "張三豐".into();
    a.insert_user(&u).await.unwrap();
    a.insert_conversation(&Conversation { name: "臺灣美食".into(), ..group("tw", Visibility::Public, 1) }).await.unwrap();
}

/// Whether [`put_named_rows`]' rows are found by their folded keys.
pub async fn named_rows_are_found(a: &DynStore) {
    let people = a.search_users(&KeyQuery::new("三丰").unwrap(), 10).await.unwrap();
    assert_eq!(people.iter().map(|u| u.nickname.as_str()).collect::<Vec<_>>(), ["張三豐"]);
    let zhang = a.search_users(&KeyQuery::new("zhang").unwrap(), 10).await.unwrap();
    assert_eq!(zhang.len(), 1);
    let groups = a.public_conversations(Some(&KeyQuery::new("台湾").unwrap()), 0, 10).await.unwrap();
    assert_eq!(groups.iter().map(|c| c.id.0.as_str()).collect::<Vec<_>>(), ["tw"]);
}
