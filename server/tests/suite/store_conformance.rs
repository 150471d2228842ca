//! Runs the conformance suite (`conformance/mod.rs`) on both stores.
//!
//! The MongoDB half needs `NATTER_TEST_MONGODB_URI`; `scripts/test.sh` starts
//! FerretDB and sets it. Each test gets a database of its own.

use crate::conformance;

use natter_server::{
    store::{embedded::EmbeddedStore, mongodb::{MongoSettings, MongoStore}, new_id, DynStore, Store, EMBEDDED_FILE},
};
use std::sync::Arc;

/// Two handles to one fresh store, and what to clean up afterwards.
struct Fixture {
    a: DynStore,
    b: DynStore,
    _dir: Option<tempfile::TempDir>,
    mongo: Option<MongoStore>,
}

async fn embedded() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(EMBEDDED_FILE);
    // Two connections to one file, like two processes.
    let a = EmbeddedStore::open(&path).unwrap();
    let b = EmbeddedStore::open(&path).unwrap();
    Fixture { a: Arc::new(a), b: Arc::new(b), _dir: Some(dir), mongo: None }
}

pub fn mongodb_uri() -> String {
    std::env::var("NATTER_TEST_MONGODB_URI")
        .expect("NATTER_TEST_MONGODB_URI must name a MongoDB or FerretDB server (scripts/test.sh starts one)")
}

async fn mongodb() -> Fixture {
    let config = MongoSettings { uri: mongodb_uri(), database: format!("natter_test_{}", new_id()) };
    let a = MongoStore::open(&config).await.unwrap();
    let b = MongoStore::open(&config).await.unwrap();
    a.prepare().await.unwrap();
    Fixture { a: Arc::new(a.clone()), b: Arc::new(b), _dir: None, mongo: Some(a) }
}

impl Fixture {
    async fn cleanup(self) {
        if let Some(mongo) = self.mongo {
            mongo.drop_database().await.unwrap();
        }
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod embedded_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let f = super::embedded().await;
                    super::conformance::$name(&f.a, &f.b).await;
                    f.cleanup().await;
                }
            )*
        }
        mod mongodb_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let f = super::mongodb().await;
                    super::conformance::$name(&f.a, &f.b).await;
                    f.cleanup().await;
                }
            )*
        }
    };
}

suite!(
    store_answers_and_prepares_twice,
    users_round_trip,
    users_email_ignores_case,
    users_duplicate_email_conflicts_and_changes_nothing,
    users_unknown_is_none,
    users_update_and_count_sign_ins,
    users_search_by_any_part_folded,
    users_by_ids_skips_unknown,
    devices_hold_one_token_each,
    token_rotation_keeps_the_previous_id,
    friend_links_round_trip,
    conversations_round_trip_and_update,
    last_message_only_moves_forward,
    last_entry_counts_changes_and_only_moves_forward,
    a_batch_of_moves_never_moves_anything_back,
    public_directory_lists_newest_activity_first,
    public_directory_search_folds_and_ranks,
    conversation_ids_walk_every_conversation_once,
    members_roles_and_read_positions,
    delivered_and_mention_positions_only_move_forward,
    invitations_round_trip,
    messages_are_numbered_per_conversation,
    messages_keep_every_field,
    messages_resent_with_same_client_id_are_stored_once,
    history_pages_cover_everything_once,
    history_pages_are_bounded,
    racing_writers_on_two_nodes_get_unique_gap_free_numbers,
    batches_store_each_draft_as_one_by_one_would,
    racing_batches_on_two_nodes_stay_gap_free,
    status_settings_default_then_round_trip,
    push_subscriptions_one_per_device,
    notify_settings_default_then_round_trip,
    privacy_default_then_round_trip,
    first_user_is_the_earliest_created,
    invites_round_trip_with_their_uses,
    racing_claims_take_each_slot_once,
    messages_keep_their_attachment,
    a_file_is_in_use_while_a_message_carries_it,
    messages_keep_their_call_record,
    changes_share_the_sequence_but_not_the_shown_count,
    pins_and_unpins_come_newest_first,
    a_scrubbed_message_keeps_its_place_but_not_its_words,
    blobs_are_recorded_once_per_hash,
    files_round_trip_with_their_blob,
    file_postings_are_a_set,
    a_file_records_its_blob_if_missing,
    bytes_used_count_each_file_in_full,
    only_old_unposted_files_are_swept,
    blobs_go_only_when_no_file_refers_to_them,
    a_posting_and_a_sweep_never_both_win,
);

/// The blob storages (`natter_server::blobs`) behave alike: the data dir and
/// GridFS, each given by its store. Items larger than a GridFS chunk (255 KiB)
/// come back by ranges that start and end inside chunks.
mod blob_storage {
    use std::time::{Duration, SystemTime};

    use natter_server::blobs::{collect, read_all, Area, DynBlobs};

    use super::*;

    async fn each_backend(test: impl AsyncFn(DynBlobs)) {
        let dir = tempfile::tempdir().unwrap();
        let embedded = EmbeddedStore::open(&dir.path().join(EMBEDDED_FILE)).unwrap();
        test(embedded.blobs(dir.path(), Area::Files)).await;
        let f = mongodb().await;
        test(f.a.blobs(dir.path(), Area::Files)).await;
        f.cleanup().await;
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn items_come_back_whole_and_by_ranges() {
        each_backend(async |blobs: DynBlobs| {
            let kind = blobs.kind();
            let bytes = pattern(600_000);
            let dir = tempfile::tempdir().unwrap();
            let from = dir.path().join("upload.part");
            std::fs::write(&from, &bytes).unwrap();
            assert!(blobs.open("ab/cd/big").await.unwrap().is_none(), "{kind}");
            blobs.put_file("ab/cd/big", &from).await.unwrap();
            let stored = blobs.open("ab/cd/big").await.unwrap().unwrap();
            assert_eq!(stored.len(), 600_000, "{kind}");
            assert_eq!(read_all(&*stored).await.unwrap(), bytes, "{kind}");
            for (start, end) in [(0, 1), (261_119, 261_121), (100_000, 550_000), (599_990, 600_000), (5, 5)] {
                let got = collect(stored.read(start, end)).await.unwrap();
                assert_eq!(got, bytes[start as usize..end as usize], "{kind}: {start}..{end}");
            }
            blobs.put("ab/cd/small", b"first").await.unwrap();
            blobs.put("ab/cd/small", b"second").await.unwrap();
            let small = blobs.open("ab/cd/small").await.unwrap().unwrap();
            assert_eq!(read_all(&*small).await.unwrap(), b"second", "{kind}: a put replaces");
            assert!(blobs.open("../x").await.is_err(), "{kind}: no way out");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn items_are_listed_renamed_and_removed() {
        each_backend(async |blobs: DynBlobs| {
            let kind = blobs.kind();
            let started = SystemTime::now() - Duration::from_secs(2);
            for name in ["u1/v1/64.webp", "u1/v1/128.webp", "u1/v2/64.webp", "u10/v1/64.webp", "ab/cd/x.thumb.webp"] {
                blobs.put(name, name.as_bytes()).await.unwrap();
            }
            let names = |prefix: &'static str| {
                let blobs = blobs.clone();
                async move {
                    let listed = blobs.list(prefix).await.unwrap();
                    assert!(listed.iter().all(|e| e.written >= started && e.len == e.name.len() as u64), "{listed:?}");
                    let mut names: Vec<String> = listed.into_iter().map(|e| e.name).collect();
                    names.sort();
                    names
                }
            };
            assert_eq!(names("u1/").await, ["u1/v1/128.webp", "u1/v1/64.webp", "u1/v2/64.webp"], "{kind}");
            assert_eq!(names("").await.len(), 5, "{kind}");
            assert!(blobs.rename("ab/cd/x.thumb.webp", "swept/x.thumb.webp.1").await.unwrap(), "{kind}");
            assert!(!blobs.rename("ab/cd/x.thumb.webp", "swept/x.thumb.webp.2").await.unwrap(), "{kind}");
            assert!(blobs.open("ab/cd/x.thumb.webp").await.unwrap().is_none(), "{kind}");
            let moved = blobs.open("swept/x.thumb.webp.1").await.unwrap().unwrap();
            assert_eq!(read_all(&*moved).await.unwrap(), b"ab/cd/x.thumb.webp", "{kind}");
            blobs.remove("swept/x.thumb.webp.1").await.unwrap();
            blobs.remove("swept/x.thumb.webp.1").await.unwrap();
            blobs.remove_all("u1/v1/").await.unwrap();
            assert_eq!(names("").await, ["u1/v2/64.webp", "u10/v1/64.webp"], "{kind}");
        })
        .await;
    }
}

/// The indexes the MongoDB store creates, each with the queries that rely
/// on it (ARCHITECTURE.md, "Stores", lists the same). A query without its
/// index is a collection scan on MongoDB; an index nothing uses slows every
/// write. So a change to either side changes this list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_indexes_back_the_queries() {
    use futures_util::TryStreamExt;
    use mongodb::bson::Document;
    use natter_server::blobs::Area;

    const EXPECTED: &[(&str, &str, bool)] = &[
        // (collection, keys, unique)
        ("users", "email:1", true),                                     // sign-in by e-mail
        ("users", "search_key:1", false),                               // people search by folded name
        ("users", "created_ms:1", false),                               // the first account (the administrator)
        ("devices", "user_id:1", false),                                // a user's devices, sign-out everywhere
        ("friend_links", "owner:1,since_ms:1", false),                  // a user's friends, newest first
        ("conversations", "visibility:1,last_activity_ms:-1", false),   // the public directory
        ("members", "conversation_id:1,joined_ms:1", false),            // a conversation's members
        ("members", "user_id:1", false),                                // a user's conversations
        ("invitations", "user_id:1,invited_ms:1", false),               // a user's pending invitations
        ("messages", "conversation_id:1,seq:1", true),                  // the arbiter of seq; history pages
        ("messages", "conversation_id:1,sender_id:1,client_id:1", true), // a resend is a duplicate
        ("messages", "conversation_id:1,target_seq:1", false),          // the changes to one message
        ("messages", "conversation_id:1,kind:1,seq:-1", false),         // pins, newest first
        ("messages", "attachment.file_id:1", false),                    // is a deleted message's file still carried
        ("files", "owner:1", false),                                    // quota: what a user's uploads take
        ("files", "created_ms:1", false),                               // the sweep: unposted files by age
        ("files", "blob._id:1", false),                                 // uploads of one content
        ("signup_uses", "invite_id:1", false),                          // an invitation's uses
        ("push_subscriptions", "user_id:1", false),                     // a user's push subscriptions
        ("uploads.files", "filename:1,uploadDate:1", false),            // GridFS: an item by name, newest
        ("uploads.chunks", "files_id:1,n:1", true),                     // GridFS: the chunks of a range
        ("avatars.files", "filename:1,uploadDate:1", false),
        ("avatars.chunks", "files_id:1,n:1", true),
    ];
    let config = MongoSettings { uri: mongodb_uri(), database: format!("natter_test_{}", new_id()) };
    let store = MongoStore::open(&config).await.unwrap();
    store.prepare().await.unwrap();
    store.prepare().await.unwrap();
    // The driver adds none of its own for small items; large ones take the same.
    for (area, len) in [(Area::Files, 300_000), (Area::Avatars, 10)] {
        store.blobs(std::path::Path::new(""), area).put("a/b", &vec![7; len]).await.unwrap();
    }
    let db = mongodb::Client::with_uri_str(&config.uri).await.unwrap().database(&config.database);
    let mut found = Vec::new();
    for collection in db.list_collection_names().await.unwrap() {
        let indexes: Vec<mongodb::IndexModel> =
            db.collection::<Document>(&collection).list_indexes().await.unwrap().try_collect().await.unwrap();
        for index in indexes {
            let direction = |v: &mongodb::bson::Bson| match v {
                mongodb::bson::Bson::Int32(n) => n.to_string(),
                mongodb::bson::Bson::Int64(n) => n.to_string(),
                mongodb::bson::Bson::Double(n) => (*n as i64).to_string(),
                other => other.to_string(),
            };
            let keys: Vec<String> = index.keys.iter().map(|(k, v)| format!("{k}:{}", direction(v))).collect();
            let keys = keys.join(",");
            if keys == "_id:1" {
                continue;
            }
            let unique = index.options.as_ref().and_then(|o| o.unique).unwrap_or(false);
            found.push((collection.clone(), keys, unique));
        }
    }
    found.sort();
    let mut expected: Vec<(String, String, bool)> =
        EXPECTED.iter().map(|&(c, k, u)| (c.to_owned(), k.to_owned(), u)).collect();
    expected.sort();
    assert_eq!(found, expected);
    store.drop_database().await.unwrap();
}

/// Rows from before search keys (their keys emptied or removed) are found
/// once the store has started again: the backfill writes their keys.
mod backfill {
    use super::*;
    use natter_server::text::search_fold::KeyQuery;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EMBEDDED_FILE);
        let store: DynStore = Arc::new(EmbeddedStore::open(&path).unwrap());
        conformance::put_named_rows(&store).await;
        drop(store);
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("UPDATE users SET search_key = ''; UPDATE conversations SET search_key = '';").unwrap();
        drop(db);
        let store: DynStore = Arc::new(EmbeddedStore::open(&path).unwrap());
        conformance::named_rows_are_found(&store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mongodb_store() {
        use mongodb::bson::{doc, Document};
        let config = MongoSettings { uri: mongodb_uri(), database: format!("natter_test_{}", new_id()) };
        let mongo = MongoStore::open(&config).await.unwrap();
        mongo.prepare().await.unwrap();
        let store: DynStore = Arc::new(mongo.clone());
        conformance::put_named_rows(&store).await;
        let db = mongodb::Client::with_uri_str(&config.uri).await.unwrap().database(&config.database);
        for collection in ["users", "conversations"] {
            let unset = doc! { "$unset": { "search_key": "" } };
            db.collection::<Document>(collection).update_many(doc! {}, unset).await.unwrap();
        }
        let unkeyed = store.search_users(&KeyQuery::new("三丰").unwrap(), 10).await.unwrap();
        assert!(unkeyed.is_empty(), "the keys are gone");
        mongo.prepare().await.unwrap();
        conformance::named_rows_are_found(&store).await;
        mongo.drop_database().await.unwrap();
    }
}
