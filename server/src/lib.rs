//! Natter's server: configuration, the store, operational endpoints and the
//! Leptos app, assembled into one axum router by [`run`].

// Leptos view types of the app nest deeply.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod avatar;
pub mod backoff;
pub mod blobs;
pub mod budget;
pub mod calls;
pub mod chat;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod error;
pub mod files;
pub mod gate;
pub mod headers;
pub mod hub;
pub mod lease;
pub mod metrics;
pub mod ops;
pub mod presence;
pub mod private;
pub mod push;
pub mod ratelimit;
pub mod redis_conn;
pub mod search;
pub mod secret;
pub mod serve;
pub mod session;
pub mod sfu;
pub mod signup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod text;

use std::{future::Future, sync::Arc, time::Duration};

use app::{shell, App};
use axum::{middleware, routing::get, Router};
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::{net::TcpListener, sync::watch};
use tokio_util::task::TaskTracker;
use tower_http::{timeout::RequestBodyTimeoutLayer, trace::TraceLayer};
use wire::{endpoint, model::UserId};

pub use crate::state::AppState;
use crate::{
    auth::Authenticator,
    calls::Calls,
    chat::{Chat, Writer},
    config::Config,
    hub::{Fanout, Hub, HubEvent, LocalFanout},
    lease::{redis::RedisLeases, Leases, LocalLeases},
    presence::{redis::RedisRegistry, registry::LocalRegistry, registry::Registry, PresenceTracker},
    ratelimit::SharedCounts,
    redis_conn::SharedConnection,
    store::{health::StoreHealth, StoreError},
};

/// How long a stopping server waits for its websockets to close.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How often the metrics recorder folds its histograms' samples.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("natter")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build()
}

pub fn router(state: AppState) -> Router {
    let leptos = state.leptos.clone();
    let routes = generate_route_list(App);
    Router::new()
        .route(endpoint::HEALTHZ, get(ops::healthz))
        .route(endpoint::READYZ, get(ops::readyz))
        .route(endpoint::METRICS, get(ops::metrics))
        // A body pausing longer fails its request (not on the websocket,
        // whose upgrade has no body and whose session lives long).
        .nest(
            endpoint::API,
            api::router(state.clone())
                .layer(RequestBodyTimeoutLayer::new(state.config.body_timeout))
                .layer(middleware::from_fn(headers::api_answer)),
        )
        .route(endpoint::AVATAR_ROUTE, get(api::avatar_file))
        .route(
            wire::protocol::WS_PATH,
            get(session::upgrade).route_layer(middleware::from_fn_with_state(state.auth.clone(), auth::authenticate_socket)),
        )
        .leptos_routes(&state, routes, move || shell(leptos.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(headers::every_answer))
        .layer(middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Tells every node a device was signed out (its sockets close), without
/// holding up the request that found out.
fn signed_out_by(fanout: Arc<dyn Fanout>) -> Box<dyn Fn(&UserId, &str) + Send + Sync> {
    Box::new(move |user, device| {
        let event = HubEvent::SignedOut {
            user_id: user.clone(),
            device_id: device.to_owned(),
            close_code: wire::protocol::close::SIGNED_OUT,
        };
        let fanout = fanout.clone();
        tokio::spawn(async move { fanout.publish(event).await });
    })
}

/// What one node keeps in memory and a cluster shares through Redis: the
/// event fan-out, the presence, call and room registries, the relay of room
/// signalling between nodes, the rate-limit counts.
struct Backplane {
    fanout: Arc<dyn Fanout>,
    presence: Arc<dyn Registry>,
    calls: Arc<dyn Leases>,
    rooms: Arc<dyn Leases>,
    /// Push coalescing windows.
    pushes: Arc<dyn Leases>,
    relay: Arc<dyn sfu::relay::Relay>,
    counts: Option<SharedCounts>,
    /// Instant-upload challenges.
    challenges: Arc<dyn files::instant::Challenges>,
}

/// Why a server could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot load the sensitive-word list: {0}")]
    Words(String),
    #[error(transparent)]
    Search(#[from] search::index::IndexError),
    #[error("invalid Redis URL: {0}")]
    Redis(redis::RedisError),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// Serves Natter on `listener` until `shutdown` completes, then stops
/// accepting, lets in-flight requests finish and stops background tasks.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    metrics::handle();
    let open_files = serve::raise_open_file_limit();
    let limits = serve::Limits {
        header_timeout: config.header_timeout,
        idle_timeout: config.idle_timeout,
        max_connections: config.max_connections.unwrap_or_else(|| serve::default_max_connections(open_files)),
        max_connections_per_ip: config.max_connections_per_ip,
    };
    tracing::info!(
        open_file_limit = open_files.map_or_else(|| "unknown".into(), |n| n.to_string()),
        max_connections = limits.max_connections,
        "connections capped"
    );
    let store = store::open(config.mongodb.as_ref(), &config.data_dir).await?;
    let health = StoreHealth::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let supervisor = tokio::spawn(store::health::supervise(store.clone(), health.clone(), stop_rx.clone()));

    let words = match &config.sensitive_words {
        Some(path) => text::filter::Matcher::load(path).map_err(RunError::Words)?,
        None => text::filter::Matcher::new([]).expect("an empty matcher"),
    };
    let text = Arc::new(text::TextPolicy::new(config.sensitive_policy, words));
    let word_watcher = config.sensitive_words.clone().map(|path| tokio::spawn(text.clone().watch(path, stop_tx.subscribe())));

    let hub = Arc::new(Hub::default());
    let (relay_inbox, relayed) = tokio::sync::mpsc::unbounded_channel();
    let redis = redis_conn::Backend::open(config.redis_url.as_deref(), &config.redis_cluster_nodes)
        .map_err(RunError::Redis)?;
    let clustered = redis.is_some();
    let backplane = match redis {
        Some(client) => {
            let namespace = hub::redis::namespace(&store.deployment());
            let registry = RedisRegistry::new(client.clone(), namespace.clone(), config.node_id.clone(), config.node_ttl);
            let counts = SharedCounts { conn: Arc::new(SharedConnection::new(client.clone())), namespace: namespace.clone() };
            let calls = RedisLeases::new(client.clone(), format!("{namespace}:call:"));
            let rooms = RedisLeases::new(client.clone(), format!("{namespace}:room:"));
            let pushes = RedisLeases::new(client.clone(), format!("{namespace}:push:"));
            let relay = sfu::relay::RedisRelay::start(client.clone(), &namespace, &config.node_id, relay_inbox);
            let challenges = files::instant::redis::RedisChallenges::new(client.clone(), &namespace);
            let fanout = hub::redis::RedisFanout::start(client, &namespace, hub.clone(), config.node_id.clone());
            Backplane {
                fanout: Arc::new(fanout),
                presence: Arc::new(registry),
                calls: Arc::new(calls),
                rooms: Arc::new(rooms),
                pushes: Arc::new(pushes),
                relay,
                counts: Some(counts),
                challenges: Arc::new(challenges),
            }
        }
        None => Backplane {
            fanout: Arc::new(LocalFanout(hub.clone())),
            presence: Arc::new(LocalRegistry::default()),
            calls: Arc::new(LocalLeases::default()),
            rooms: Arc::new(LocalLeases::default()),
            pushes: Arc::new(LocalLeases::default()),
            relay: Arc::new(sfu::relay::LocalRelay(relay_inbox)),
            counts: None,
            challenges: Arc::new(files::instant::LocalChallenges::default()),
        },
    };
    let Backplane {
        fanout,
        presence: registry,
        calls: call_registry,
        rooms: room_registry,
        pushes: push_windows,
        relay,
        counts: shared_counts,
        challenges,
    } = backplane;
    let (pushes, push_inbox) = push::Pushes::start(config.push.clone(), store.clone(), registry.clone(), push_windows);
    let presence = Arc::new(PresenceTracker::new(registry, store.clone(), fanout.clone()));
    let upkeep = tokio::spawn(presence.clone().upkeep(config.node_ttl / 3, stop_rx.clone()));
    // What a cluster's bus loses is filled from the store; one node loses nothing.
    let repairs = clustered.then(|| {
        tokio::spawn(chat::repair::run(store.clone(), hub.clone(), config.node_id.clone(), stop_rx.clone()))
    });
    let metrics_upkeep = tokio::spawn(metrics::upkeep(METRICS_UPKEEP, stop_rx.clone()));
    let uploads = files::Uploads::new(store.blobs(&config.data_dir, blobs::Area::Files), &config.data_dir);
    let avatars = store.blobs(&config.data_dir, blobs::Area::Avatars);
    let sweeper =
        tokio::spawn(files::sweep::run(store.clone(), uploads.clone(), config.unposted_file_ttl, stop_rx.clone()));
    let writer = Arc::new(Writer::start(store.clone(), fanout.clone(), push_inbox));
    let budgets = Arc::new(ratelimit::budgets::UserBudgets::new(
        ratelimit::budgets::Configured {
            sends_per_sec: config.sends_per_sec,
            uploads_per_minute: config.images.uploads_per_minute,
        },
        shared_counts.clone(),
    ));
    // Each node keeps its own index: nodes sharing a data dir (and its embedded store) each theirs in it.
    let index_dir = match clustered && config.mongodb.is_none() {
        true => config.data_dir.join(format!("{}-{}", search::DIR, config.node_id)),
        false => config.data_dir.join(search::DIR),
    };
    let (search, indexer) = search::Search::start(&index_dir, store.clone(), &hub, budgets.clone(), stop_rx.clone())?;
    let (changes, kept) = (config.changes, uploads.clone());
    let chat = Arc::new(Chat::new(store.clone(), fanout.clone(), writer, text.clone(), budgets.clone(), changes, kept));
    let calls = Arc::new(Calls::new(
        call_registry,
        store.clone(),
        fanout.clone(),
        chat.clone(),
        budgets.clone(),
        config.call_ring,
        config.call_grace,
    ));
    let me = sfu::hosts::Host { node: config.node_id.clone(), media: config.media.announce };
    let cluster = sfu::Cluster { hosts: sfu::hosts::RoomHosts::new(room_registry, me), relay, inbox: relayed };
    let sfu = Arc::new(sfu::Sfu::start(config.media, fanout.clone(), chat.clone(), cluster));
    let sessions = TaskTracker::new();
    let images = config.images;
    let auth_limits = Arc::new(ratelimit::AuthLimits::new(shared_counts, config.sign_ins_per_sec, config.sign_ups_per_address));
    let hasher = Arc::new(auth::password::Hasher::new(config.hashing));
    let upload_slots = ratelimit::slots::UploadSlots::new(config.concurrent_uploads);
    let signup = Arc::new(signup::Signup::new(config.signup, config.admins.clone(), store.clone()));
    let state = AppState {
        leptos: leptos_options(&config),
        auth: Arc::new(Authenticator {
            secret: config.jwt_secret.clone(),
            store: store.clone(),
            rules: config.sessions,
            origins: config.origins.clone(),
            secure_cookie: config.secure_cookie,
            on_theft: signed_out_by(fanout.clone()),
        }),
        config: Arc::new(config),
        chat,
        search,
        text,
        calls,
        sfu,
        store,
        health,
        auth_limits,
        signup,
        hasher,
        decodes: Arc::new(gate::Gate::new(images.decodes, images.queue)),
        budgets,
        upload_slots,
        hub: hub.clone(),
        fanout,
        presence,
        challenges,
        uploads,
        avatars,
        pushes,
        sessions: sessions.clone(),
    };
    let app = router(state);
    let closing_hub = hub.clone();
    let shutdown = async move {
        shutdown.await;
        closing_hub.close_all();
    };
    let served = serve::serve(listener, app, limits, shutdown).await;
    // Every session holds a token of the tracker until it ends.
    sessions.close();
    let _ = tokio::time::timeout(CLOSE_GRACE, sessions.wait()).await;
    let _ = stop_tx.send(true);
    let _ = supervisor.await;
    let _ = upkeep.await;
    if let Some(repairs) = repairs {
        let _ = repairs.await;
    }
    let _ = metrics_upkeep.await;
    let _ = sweeper.await;
    let _ = indexer.await;
    if let Some(watcher) = word_watcher {
        let _ = watcher.await;
    }
    served.map_err(RunError::Serve)
}
