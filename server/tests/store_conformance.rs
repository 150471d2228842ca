//! Runs the conformance suite (`conformance/mod.rs`) on both stores.
//!
//! The MongoDB half needs `NATTER_TEST_MONGODB_URI`; `scripts/test.sh` starts
//! FerretDB and sets it. Each test gets a database of its own.

mod conformance;

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
