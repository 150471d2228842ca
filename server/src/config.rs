//! Command-line flags (each with an environment fallback) and their validation.
//!
//! Everything here runs before the server binds a socket: an invalid setting
//! ends the process with a one-line message and exit code 2.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
};

use clap::Parser;

use crate::{
    auth::{password::HashLimits, Origins, SessionRules},
    chat::ChangeLimits,
    client_addr::TrustedProxies,
    push::{keys::KeySource, PushSettings},
    secret::Secret,
    sfu::settings::MediaSettings,
    store::mongodb::MongoSettings,
    telemetry::LogFormat,
    text::{filter::Matcher, SensitivePolicy},
};
use wire::api::{check_email, SignupMode};

#[derive(Parser, Debug, Clone)]
#[command(name = "natter-server", version, about = "Natter: self-hosted instant messaging")]
pub struct Cli {
    /// Address and port to listen on.
    #[arg(long, env = "NATTER_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Directory for the embedded database, uploads and the generated JWT secret.
    #[arg(long, env = "NATTER_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Directory holding the built web app (cargo-leptos `site-root`).
    #[arg(long, env = "NATTER_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// MongoDB connection string. Without it, Natter uses its embedded store in the data dir.
    #[arg(long, env = "NATTER_MONGODB_URI")]
    pub mongodb_uri: Option<String>,

    /// MongoDB database name.
    #[arg(long, env = "NATTER_MONGODB_DB", default_value = "natter")]
    pub mongodb_db: String,

    /// Redis URL (redis:// or rediss://), for state shared between several server nodes: nodes that share
    /// MongoDB, or nodes on one machine that share the data dir (and its embedded store).
    #[arg(long, env = "NATTER_REDIS_URL")]
    pub redis_url: Option<String>,

    /// A Redis Cluster instead of one Redis (7 or newer): some of its nodes, `host:port,...`; the rest are
    /// found from them.
    #[arg(long, env = "NATTER_REDIS_CLUSTER_NODES", value_delimiter = ',', conflicts_with = "redis_url")]
    pub redis_cluster_nodes: Vec<String>,

    /// Name of this server node when several serve one deployment.
    #[arg(long, env = "NATTER_NODE_ID", default_value = "node-1")]
    pub node_id: String,

    /// In a cluster: seconds after which a node that stopped renewing its
    /// heartbeat in Redis (crashed, cut off) counts as gone and its users offline.
    #[arg(long, env = "NATTER_NODE_TTL_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=600))]
    pub node_ttl_secs: u64,

    /// File holding the JWT signing secret. The secret may instead come from the
    /// NATTER_JWT_SECRET variable; with neither, one is generated into the data dir.
    #[arg(long, env = "NATTER_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,

    /// File holding the VAPID private key of Web Push (a P-256 scalar in
    /// base64url); without it one is generated into the data dir. Browsers'
    /// subscriptions belong to the key: a new one needs every device to subscribe again.
    #[arg(long, env = "NATTER_VAPID_PRIVATE_KEY_FILE")]
    pub vapid_private_key_file: Option<PathBuf>,

    /// The operator's contact that push services see with every push
    /// (`mailto:` or `https:`); by default the public URL.
    #[arg(long, env = "NATTER_PUSH_CONTACT")]
    pub push_contact: Option<String>,

    /// At most one push per member and conversation in this many seconds;
    /// the messages in between are coalesced into it.
    #[arg(long, env = "NATTER_PUSH_COALESCE_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub push_coalesce_secs: u64,

    /// Groups with more members than this notify of mentions only, unless a member chooses otherwise.
    #[arg(long, env = "NATTER_NOTIFY_GROUP_SIZE", default_value_t = 50, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    pub notify_group_size: u64,

    /// Lets push subscriptions name `http` and local endpoints: for tests
    /// and development only (the server posts to them).
    #[arg(long, hide = true)]
    pub push_insecure_endpoints: bool,

    /// Largest accepted file upload, in MiB.
    #[arg(long, env = "NATTER_MAX_UPLOAD_MIB", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_upload_mib: u64,

    /// Largest accepted avatar image, in MiB.
    #[arg(long, env = "NATTER_MAX_AVATAR_MIB", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub max_avatar_mib: u64,

    /// Images decoded at once (avatars and message images together); 0: one
    /// per CPU core.
    #[arg(long, env = "NATTER_IMAGE_DECODES", default_value_t = 0)]
    pub image_decodes: u64,

    /// Uploads waiting for a decode slot; beyond, an image upload is answered
    /// 429 `rate_limited` with `Retry-After`.
    #[arg(long, env = "NATTER_IMAGE_DECODE_QUEUE", default_value_t = 16)]
    pub image_decode_queue: u64,

    /// Largest message image, in megapixels, that gets a thumbnail and a copy
    /// without metadata; larger ones are stored as plain files.
    #[arg(long, env = "NATTER_MAX_IMAGE_MEGAPIXELS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=40))]
    pub max_image_megapixels: u64,

    /// Uploads (files and avatars) one user may start a minute on this node,
    /// in bursts of as many; beyond, 429 `rate_limited` with `Retry-After`.
    #[arg(long, env = "NATTER_UPLOADS_PER_MINUTE", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub uploads_per_minute: u64,

    /// Storage one user's uploads may take, their files and avatar together,
    /// in MiB (content shared with others counts for each uploader); beyond,
    /// 413 `quota_exceeded`.
    #[arg(long, env = "NATTER_UPLOAD_QUOTA_MIB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    pub upload_quota_mib: u64,

    /// Uploads (files and avatars) one user may have running at once on this
    /// node; beyond, 429 `rate_limited` with `Retry-After`.
    #[arg(long, env = "NATTER_CONCURRENT_UPLOADS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub concurrent_uploads: u64,

    /// Seconds an uploaded file may stay unposted (in no message) before it is
    /// deleted, and its content with it when no other file has it.
    #[arg(long, env = "NATTER_UNPOSTED_FILE_TTL_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub unposted_file_ttl_secs: u64,

    /// Log output format.
    #[arg(long, env = "NATTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// File of sensitive words and phrases, one a line (UTF-8, `#` starts a
    /// comment), Chinese or English; checked for changes every 2 seconds.
    #[arg(long, env = "NATTER_SENSITIVE_WORDS")]
    pub sensitive_words: Option<PathBuf>,

    /// What happens to a message holding a sensitive word.
    #[arg(long, env = "NATTER_SENSITIVE_POLICY", value_enum, default_value_t = SensitivePolicy::Mask)]
    pub sensitive_policy: SensitivePolicy,

    // 1:1 calls.
    /// How long a call rings before it counts as missed, in seconds.
    #[arg(long, env = "NATTER_CALL_RING_SECS", default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub call_ring_secs: u64,

    /// How long a tab whose connection dropped has to come back before its
    /// call ends, in seconds.
    #[arg(long, env = "NATTER_CALL_GRACE_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub call_grace_secs: u64,

    // Websockets.
    /// How often the server pings each websocket, in seconds; one that has
    /// sent nothing (no answer, no other frame) since the previous ping by
    /// the next is closed.
    #[arg(long, env = "NATTER_WS_PING_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub ws_ping_secs: u64,

    /// How long a write to a websocket may wait for the client to read, in
    /// seconds, before the connection is dropped (the client resumes).
    #[arg(long, env = "NATTER_WS_WRITE_TIMEOUT_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub ws_write_timeout_secs: u64,

    /// Messages one user may send a second, over all devices and nodes,
    /// after a burst of three seconds' worth.
    #[arg(long, env = "NATTER_SENDS_PER_SEC", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub sends_per_sec: u32,

    /// How long after sending a message its sender may edit it, in hours (0: never).
    #[arg(long, env = "NATTER_EDIT_WINDOW_HOURS", default_value_t = 48, value_parser = clap::value_parser!(u64).range(0..=87_600))]
    pub edit_window_hours: u64,

    /// Most different emoji one message may be reacted with.
    #[arg(long, env = "NATTER_MAX_REACTIONS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_reactions: u32,

    /// Most members one message may mention.
    #[arg(long, env = "NATTER_MAX_MENTIONS", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_mentions: u32,

    /// Most members a group may have for its members to see read receipts
    /// ("seen by"); private chats always have them.
    #[arg(long, env = "NATTER_RECEIPTS_GROUP_LIMIT", default_value_t = 200, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub receipts_group_limit: u32,

    /// Websockets one user may have open at once, over all devices and nodes
    /// (a tab is one); the next is closed with code 4003.
    #[arg(long, env = "NATTER_SOCKETS_PER_USER", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub sockets_per_user: u32,

    /// Websockets one signed-in device (one browser) may have open at once on a node.
    #[arg(long, env = "NATTER_SOCKETS_PER_DEVICE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub sockets_per_device: u32,

    /// STUN and TURN servers handed to browsers for calls, comma-separated
    /// `stun:`, `turn:` or `turns:` URLs. None: host candidates only, which
    /// works on one machine and a LAN.
    #[arg(long, env = "NATTER_ICE_SERVERS", value_delimiter = ',')]
    pub ice_servers: Vec<String>,

    /// File holding the TURN server's shared secret (coturn's
    /// `static-auth-secret`): browsers then get short-lived TURN credentials.
    #[arg(long, env = "NATTER_TURN_SECRET_FILE")]
    pub turn_secret_file: Option<PathBuf>,
    /// UDP port that relays the media of group calls and live broadcasts
    /// (opened when the first room starts; 0 picks a free port).
    #[arg(long, env = "NATTER_MEDIA_UDP_PORT", default_value_t = 3480)]
    pub media_udp_port: u16,

    /// Address browsers are told to send media to, an IP or IP:port (when a
    /// NAT forwards another port). Default: the listen address, or when that
    /// is a wildcard, this machine's address on its default route.
    #[arg(long, env = "NATTER_MEDIA_ANNOUNCE_ADDR")]
    pub media_announce_addr: Option<String>,

    // Connections.
    /// Seconds a client has to send a request head whole, from the moment
    /// its connection opens or its last answer ends (slow clients are cut off).
    #[arg(long, env = "NATTER_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_timeout_secs: u64,

    /// Seconds an HTTP connection may move no byte either way before it is
    /// closed (a websocket, once upgraded, is its session's business).
    #[arg(long, env = "NATTER_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_secs: u64,

    /// Seconds an API request's body may pause between two pieces before the
    /// request fails (an upload may take longer as a whole).
    #[arg(long, env = "NATTER_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,

    /// Connections open at once, in total; beyond, new ones are closed
    /// unanswered. Default: three quarters of the open-file limit.
    #[arg(long, env = "NATTER_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,

    /// Connections open at once from one IPv4 address or IPv6 /64; beyond,
    /// new ones are closed unanswered.
    #[arg(long, env = "NATTER_MAX_CONNECTIONS_PER_IP", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_ip: u64,

    // Sign-in.
    /// Password hashes (argon2id, 19 MiB each) computed at once by sign-ins,
    /// sign-ups and password changes. Default: the number of cores.
    #[arg(long, env = "NATTER_HASH_CONCURRENCY", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub hash_concurrency: Option<u64>,

    /// Requests that may wait for a free hash; beyond, they are answered 429
    /// with `Retry-After`. Default: twice the hash concurrency.
    #[arg(long, env = "NATTER_HASH_QUEUE", value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub hash_queue: Option<u64>,

    /// Milliseconds a request waits for a free hash before it is answered 429.
    #[arg(long, env = "NATTER_HASH_WAIT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub hash_wait_ms: u64,

    /// Sign-ins and sign-ups per second from all addresses together (in a
    /// cluster, on all nodes together), besides the limits per address and
    /// per account; beyond, 429 with `Retry-After`.
    #[arg(long, env = "NATTER_SIGN_INS_PER_SEC", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_ins_per_sec: u32,

    /// Sign-ups from one address (an IPv6 /64) per 10 minutes (in a cluster,
    /// on all nodes together); beyond, 429 with `Retry-After`. Raise it when
    /// many people sign up from behind one address (a school's NAT).
    #[arg(long, env = "NATTER_SIGN_UPS_PER_ADDRESS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_ups_per_address: u32,

    /// Who may sign up: `open` (anyone), `invite` (with an invitation link an
    /// administrator made) or `closed` (no one). The first account always may.
    #[arg(long, env = "NATTER_SIGNUP", default_value = "open", value_parser = parse_signup_mode)]
    pub signup: SignupMode,

    /// E-mail addresses (comma-separated) of accounts that administer the
    /// server besides the first account: they make invitation links.
    #[arg(long, env = "NATTER_ADMIN", value_delimiter = ',')]
    pub admin: Vec<String>,

    // Sessions.
    /// The address browsers reach Natter at, e.g. `https://chat.example.org`.
    /// A browser's cookie then authenticates websockets and state-changing
    /// requests only from this origin (and `--allowed-origins`); with
    /// `https://` the cookie is `Secure` and named `__Host-natter_token`.
    /// Without it, a request's `Origin` must name the host its `Host` header does.
    #[arg(long, env = "NATTER_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// More origins (comma-separated `scheme://host[:port]`) whose pages may
    /// use the cookie for websockets and state-changing requests.
    #[arg(long, env = "NATTER_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Reverse proxies (comma-separated addresses or networks such as
    /// `10.0.0.0/8`) whose `Forwarded` / `X-Forwarded-For` headers name the
    /// client; from any other peer those headers are ignored.
    #[arg(long, env = "NATTER_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<String>,

    /// Seconds a token is good for; browsers' cookies are renewed past half of it.
    #[arg(long, env = "NATTER_TOKEN_TTL_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub token_ttl_secs: u64,

    /// Seconds after a token's expiry during which it may still be refreshed
    /// (a browser's cookie renewed); later, sign in again.
    #[arg(long, env = "NATTER_TOKEN_RENEW_GRACE_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub token_renew_grace_secs: u64,

    /// Seconds the token a refresh replaced stays valid, for requests under
    /// way; using it later signs the device out (its tokens were copied).
    #[arg(long, env = "NATTER_TOKEN_REUSE_GRACE_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=300))]
    pub token_reuse_grace_secs: u64,

    /// Longest a device stays signed in, however active: a number with `s`,
    /// `m`, `h` or `d` (days).
    #[arg(long, env = "NATTER_SESSION_LIFETIME", default_value = "90d", value_parser = parse_duration)]
    pub session_lifetime: std::time::Duration,

    /// Seconds between checks, by each open websocket, that its device is
    /// still signed in (closing it if not, even when no sign-out event reached this node).
    #[arg(long, env = "NATTER_SESSION_RECHECK_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub session_recheck_secs: u64,

    /// File holding a token that `/metrics` then asks for (`Authorization:
    /// Bearer …`), from any address. Without it `/metrics` answers only
    /// requests from this machine that came through no proxy.
    #[arg(long, env = "NATTER_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,
}

/// Where the JWT secret came from; the secret itself is never shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env,
    File(PathBuf),
    Generated(PathBuf),
}

/// Validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub site_root: PathBuf,
    pub mongodb: Option<MongoSettings>,
    pub redis_url: Option<String>,
    /// Empty unless the nodes meet on a Redis Cluster (then `redis_url` is `None`).
    pub redis_cluster_nodes: Vec<String>,
    pub node_id: String,
    pub node_ttl: std::time::Duration,
    pub jwt_secret: Secret,
    pub jwt_secret_source: SecretSource,
    pub max_upload_bytes: u64,
    pub max_avatar_bytes: u64,
    pub images: ImageSettings,
    pub upload_quota_bytes: u64,
    pub concurrent_uploads: usize,
    pub unposted_file_ttl: std::time::Duration,
    pub log_format: LogFormat,
    pub sensitive_words: Option<PathBuf>,
    pub sensitive_policy: SensitivePolicy,
    pub call_ring: std::time::Duration,
    pub call_grace: std::time::Duration,
    pub ws_ping: std::time::Duration,
    pub ws_write_timeout: std::time::Duration,
    pub sends_per_sec: u32,
    pub changes: ChangeLimits,
    pub sockets_per_user: u32,
    pub sockets_per_device: u32,
    pub ice_servers: Vec<String>,
    pub turn_secret: Option<Secret>,
    pub media: MediaSettings,
    pub header_timeout: std::time::Duration,
    pub idle_timeout: std::time::Duration,
    pub body_timeout: std::time::Duration,
    /// `None`: derived from the open-file limit at start-up.
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: usize,
    pub metrics_token: Option<Secret>,
    pub hashing: HashLimits,
    pub sign_ins_per_sec: u32,
    pub sign_ups_per_address: u32,
    pub signup: SignupMode,
    /// Lower-cased e-mail addresses of the administrators `--admin` names.
    pub admins: Vec<String>,
    pub sessions: SessionRules,
    pub origins: Origins,
    /// The public URL is https: cookies are `Secure`, `__Host-` named.
    pub secure_cookie: bool,
    pub trusted_proxies: TrustedProxies,
    pub session_recheck: std::time::Duration,
    pub push: PushSettings,
    pub vapid_key_source: KeySource,
}

/// Bounds on the work and memory images cost.
#[derive(Debug, Clone, Copy)]
pub struct ImageSettings {
    /// Decodes running at once.
    pub decodes: usize,
    /// Decodes waiting for one of those.
    pub queue: usize,
    /// Most pixels of a message image that is decoded.
    pub max_pixels: u64,
    pub uploads_per_minute: u32,
}

/// A configuration error, reported as one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

const MIB: u64 = 1024 * 1024;
const SECRET_FILE_NAME: &str = "jwt_secret";
const MIN_SECRET_BYTES: usize = 32;

impl Cli {
    /// Checks every setting and loads (or creates) the JWT secret.
    pub async fn validate(self) -> Result<Config, ConfigError> {
        ensure_writable_dir(&self.data_dir)?;
        let mongodb = match self.mongodb_uri {
            Some(uri) => {
                mongodb::options::ClientOptions::parse(&uri).await.map_err(|e| {
                    ConfigError(format!("invalid --mongodb-uri {}: {}", redact_url(&uri), first_line(&e.to_string())))
                })?;
                validate_db_name(&self.mongodb_db)?;
                Some(MongoSettings { uri, database: self.mongodb_db })
            }
            None => None,
        };
        let redis = crate::redis_conn::Backend::open(self.redis_url.as_deref(), &self.redis_cluster_nodes).map_err(|e| {
            let what = match &self.redis_url {
                Some(url) => format!("--redis-url {}", redact_url(url)),
                None => format!("--redis-cluster-nodes {}", self.redis_cluster_nodes.join(",")),
            };
            ConfigError(format!("invalid {what}: {}", first_line(&e.to_string())))
        })?;
        if self.node_id.is_empty() || !self.node_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ConfigError(format!(
                "invalid --node-id {:?}: use letters, digits, '-' and '_'",
                self.node_id
            )));
        }
        let (jwt_secret, jwt_secret_source) = load_secret(self.jwt_secret_file, &self.data_dir)?;
        if let Some(path) = &self.sensitive_words {
            Matcher::load(path).map_err(|e| ConfigError(format!("invalid --sensitive-words: {e}")))?;
        }
        for url in &self.ice_servers {
            let scheme = url.split(':').next().unwrap_or_default();
            if !matches!(scheme, "stun" | "stuns" | "turn" | "turns") || url.len() <= scheme.len() + 1 || url.chars().any(char::is_whitespace) {
                return Err(ConfigError(format!("invalid --ice-servers entry {url:?}: use stun:, stuns:, turn: or turns: URLs")));
            }
        }
        let turn_secret = self.turn_secret_file.as_deref().map(|p| read_secret_file(p, "--turn-secret-file")).transpose()?;
        let metrics_token =
            self.metrics_token_file.as_deref().map(|p| read_secret_file(p, "--metrics-token-file")).transpose()?;
        let (origins, secure_cookie) = origins(self.public_url.as_deref(), &self.allowed_origins)?;
        if redis.is_some() && mongodb.is_some() && self.vapid_private_key_file.is_none() {
            // Not refused, for clusters that predate pushes; their pushes fail until it is given.
            // Nodes on the embedded store share its data dir, and with it the key generated there.
            eprintln!(
                "natter-server: a cluster's nodes need one VAPID key (--vapid-private-key-file): \
                 with a key of its own in each data dir, push services refuse other nodes' pushes"
            );
        }
        let (vapid_key, vapid_key_source) =
            crate::push::keys::load(self.vapid_private_key_file.as_deref(), &self.data_dir).map_err(ConfigError)?;
        let push = PushSettings {
            key: vapid_key,
            contact: push_contact(self.push_contact, origins.public.as_deref())?,
            coalesce: std::time::Duration::from_secs(self.push_coalesce_secs),
            group_size: self.notify_group_size as usize,
            insecure_endpoints: self.push_insecure_endpoints,
            call_ring: std::time::Duration::from_secs(self.call_ring_secs),
        };
        let trusted_proxies =
            TrustedProxies::parse(&self.trusted_proxy).map_err(|e| ConfigError(format!("invalid --trusted-proxy: {e}")))?;
        let sessions = SessionRules {
            token_ttl_secs: self.token_ttl_secs as i64,
            renew_grace_ms: self.token_renew_grace_secs as i64 * 1000,
            reuse_grace_ms: self.token_reuse_grace_secs as i64 * 1000,
            lifetime_ms: self.session_lifetime.as_millis() as i64,
        };
        let admins = self
            .admin
            .iter()
            .map(|email| {
                check_email(email).map_err(|_| ConfigError(format!("invalid --admin {email:?}: not an e-mail address")))
            })
            .collect::<Result<_, _>>()?;
        let media = media_config(self.listen, self.media_udp_port, self.media_announce_addr.as_deref())?;
        let concurrent = self.hash_concurrency.map_or_else(cores, |n| n as usize);
        let hashing = HashLimits {
            concurrent,
            queue: self.hash_queue.map_or(2 * concurrent, |n| n as usize),
            max_wait: std::time::Duration::from_millis(self.hash_wait_ms),
        };
        Ok(Config {
            sessions,
            origins,
            secure_cookie,
            trusted_proxies,
            session_recheck: std::time::Duration::from_secs(self.session_recheck_secs),
            media,
            hashing,
            sign_ins_per_sec: self.sign_ins_per_sec,
            sign_ups_per_address: self.sign_ups_per_address,
            signup: self.signup,
            admins,
            listen: self.listen,
            data_dir: self.data_dir,
            site_root: self.site_root,
            mongodb,
            redis_url: self.redis_url,
            redis_cluster_nodes: self.redis_cluster_nodes,
            node_id: self.node_id,
            node_ttl: std::time::Duration::from_secs(self.node_ttl_secs),
            jwt_secret,
            jwt_secret_source,
            max_upload_bytes: self.max_upload_mib * MIB,
            max_avatar_bytes: self.max_avatar_mib * MIB,
            images: ImageSettings {
                decodes: match self.image_decodes {
                    0 => cores(),
                    n => n as usize,
                },
                queue: self.image_decode_queue as usize,
                max_pixels: self.max_image_megapixels * 1_000_000,
                uploads_per_minute: self.uploads_per_minute as u32,
            },
            upload_quota_bytes: self.upload_quota_mib * MIB,
            concurrent_uploads: self.concurrent_uploads as usize,
            unposted_file_ttl: std::time::Duration::from_secs(self.unposted_file_ttl_secs),
            log_format: self.log_format,
            sensitive_words: self.sensitive_words,
            sensitive_policy: self.sensitive_policy,
            call_ring: std::time::Duration::from_secs(self.call_ring_secs),
            call_grace: std::time::Duration::from_secs(self.call_grace_secs),
            ws_ping: std::time::Duration::from_secs(self.ws_ping_secs),
            ws_write_timeout: std::time::Duration::from_secs(self.ws_write_timeout_secs),
            sends_per_sec: self.sends_per_sec,
            changes: ChangeLimits {
                edit_window: std::time::Duration::from_secs(self.edit_window_hours * 3600),
                max_reactions: self.max_reactions as usize,
                max_mentions: self.max_mentions as usize,
                receipts_group_limit: self.receipts_group_limit as usize,
            },
            sockets_per_user: self.sockets_per_user,
            sockets_per_device: self.sockets_per_device,
            ice_servers: self.ice_servers,
            turn_secret,
            header_timeout: std::time::Duration::from_secs(self.header_timeout_secs),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs),
            body_timeout: std::time::Duration::from_secs(self.body_timeout_secs),
            max_connections: self.max_connections.map(|n| n as usize),
            max_connections_per_ip: self.max_connections_per_ip as usize,
            metrics_token,
            push,
            vapid_key_source,
        })
    }
}

/// The contact in VAPID tokens: `--push-contact`, else the public URL if
/// https, else a placeholder, said on stderr: Apple's push service refuses
/// tokens whose contact is not a real address (`localhost`, `.invalid`).
fn push_contact(given: Option<String>, public: Option<&str>) -> Result<String, ConfigError> {
    const MADE_UP: &str = "mailto:admin@localhost";
    let usable = |c: &str| (c.starts_with("mailto:") || c.starts_with("https://")) && !c.contains(char::is_whitespace);
    let contact = match (given, public) {
        (Some(c), _) if usable(&c) => c,
        (Some(c), _) => return Err(ConfigError(format!("invalid --push-contact {c:?}: use a mailto: or https: URL"))),
        (None, Some(url)) if url.starts_with("https://") => url.to_owned(),
        (None, _) => MADE_UP.to_owned(),
    };
    if contact == MADE_UP || contact.ends_with("@localhost") {
        let how = "give --push-contact, or an https --public-url";
        eprintln!("natter-server: the push contact {contact} is made up ({how}): Safari and iPhones get no pushes");
    }
    Ok(contact)
}

impl Config {
    /// One human-readable line per setting, with credentials redacted.
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        let secret = match &self.jwt_secret_source {
            SecretSource::Env => "<redacted> (from NATTER_JWT_SECRET)".to_string(),
            SecretSource::File(p) => format!("<redacted> (from {})", p.display()),
            SecretSource::Generated(p) => format!("<redacted> (generated in {})", p.display()),
        };
        vec![
            ("listen", self.listen.to_string()),
            ("data_dir", self.data_dir.display().to_string()),
            ("site_root", self.site_root.display().to_string()),
            (
                "store",
                match &self.mongodb {
                    Some(m) => format!("mongodb {} db={}", redact_url(&m.uri), m.database),
                    None => format!("embedded {}", self.data_dir.join(crate::store::EMBEDDED_FILE).display()),
                },
            ),
            (
                "redis",
                match (&self.redis_url, &self.redis_cluster_nodes[..]) {
                    (Some(url), _) => redact_url(url),
                    (None, []) => "none".into(),
                    (None, nodes) => format!("cluster {}", nodes.join(",")),
                },
            ),
            ("node_id", self.node_id.clone()),
            ("node_ttl", format!("{}s", self.node_ttl.as_secs())),
            ("jwt_secret", secret),
            (
                "vapid_key",
                match &self.vapid_key_source {
                    KeySource::File(p) => format!("{} (from {})", self.push.key.public_key(), p.display()),
                    KeySource::Generated(p) => format!("{} (generated in {})", self.push.key.public_key(), p.display()),
                },
            ),
            ("push_contact", self.push.contact.clone()),
            ("push_coalesce", format!("{}s", self.push.coalesce.as_secs())),
            ("notify_group_size", self.push.group_size.to_string()),
            ("max_upload_bytes", self.max_upload_bytes.to_string()),
            ("max_avatar_bytes", self.max_avatar_bytes.to_string()),
            ("image_decodes", format!("{} (queue {})", self.images.decodes, self.images.queue)),
            ("max_image_pixels", self.images.max_pixels.to_string()),
            ("uploads_per_minute", self.images.uploads_per_minute.to_string()),
            ("upload_quota_bytes", self.upload_quota_bytes.to_string()),
            ("concurrent_uploads", self.concurrent_uploads.to_string()),
            ("unposted_file_ttl", format!("{}s", self.unposted_file_ttl.as_secs())),
            ("log_format", format!("{:?}", self.log_format).to_lowercase()),
            ("sensitive_words", self.sensitive_words.as_ref().map_or_else(|| "none".into(), |p| p.display().to_string())),
            ("sensitive_policy", format!("{:?}", self.sensitive_policy).to_lowercase()),
            ("call_ring", format!("{}s", self.call_ring.as_secs())),
            ("call_grace", format!("{}s", self.call_grace.as_secs())),
            ("ws_ping", format!("{}s", self.ws_ping.as_secs())),
            ("ws_write_timeout", format!("{}s", self.ws_write_timeout.as_secs())),
            ("sends_per_sec", self.sends_per_sec.to_string()),
            (
                "changes",
                format!(
                    "edits for {}h, {} reactions and {} mentions a message, receipts in groups up to {}",
                    self.changes.edit_window.as_secs() / 3600,
                    self.changes.max_reactions,
                    self.changes.max_mentions,
                    self.changes.receipts_group_limit
                ),
            ),
            ("sockets", format!("{} per user, {} per device", self.sockets_per_user, self.sockets_per_device)),
            ("ice_servers", if self.ice_servers.is_empty() { "none (host candidates only)".into() } else { self.ice_servers.join(",") }),
            ("turn_secret", if self.turn_secret.is_some() { "<redacted>".into() } else { "none".into() }),
            ("media_udp", self.media.bind.to_string()),
            ("media_announce", self.media.announce.to_string()),
            ("header_timeout", format!("{}s", self.header_timeout.as_secs())),
            ("idle_timeout", format!("{}s", self.idle_timeout.as_secs())),
            ("body_timeout", format!("{}s", self.body_timeout.as_secs())),
            (
                "max_connections",
                self.max_connections.map_or_else(|| "3/4 of the open-file limit".into(), |n| n.to_string()),
            ),
            ("max_connections_per_ip", self.max_connections_per_ip.to_string()),
            (
                "password_hashing",
                format!(
                    "{} at once, {} waiting at most {}ms",
                    self.hashing.concurrent,
                    self.hashing.queue,
                    self.hashing.max_wait.as_millis()
                ),
            ),
            ("sign_ins_per_sec", self.sign_ins_per_sec.to_string()),
            ("sign_ups_per_address", format!("{} per 10 minutes", self.sign_ups_per_address)),
            ("signup", format!("{:?}", self.signup).to_lowercase()),
            ("admins", format!("the first account{}", self.admins.iter().map(|a| format!(",{a}")).collect::<String>())),
            ("public_url", self.origins.public.clone().unwrap_or_else(|| "none (same host as each request)".into())),
            ("allowed_origins", if self.origins.allowed.is_empty() { "none".into() } else { self.origins.allowed.join(",") }),
            ("secure_cookie", self.secure_cookie.to_string()),
            (
                "trusted_proxies",
                if self.trusted_proxies.0.is_empty() {
                    "none".into()
                } else {
                    self.trusted_proxies.0.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")
                },
            ),
            (
                "tokens",
                format!(
                    "{}s, renewable {}s after expiry, replaced ones valid {}s",
                    self.sessions.token_ttl_secs,
                    self.sessions.renew_grace_ms / 1000,
                    self.sessions.reuse_grace_ms / 1000
                ),
            ),
            ("session_lifetime", format!("{}s", self.sessions.lifetime_ms / 1000)),
            ("session_recheck", format!("{}s", self.session_recheck.as_secs())),
            (
                "metrics",
                if self.metrics_token.is_some() { "token <redacted>".into() } else { "this machine only".into() },
            ),
        ]
    }
}

/// The media socket binds the listen address's IP; the announced address
/// is an IP (the media port goes with it) or IP:port.
/// This machine's cores: the default number of password hashes and image
/// decodes running at once.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn media_config(listen: SocketAddr, port: u16, announce: Option<&str>) -> Result<MediaSettings, ConfigError> {
    let announce = match announce {
        None => SocketAddr::new(MediaSettings::default_announce(listen.ip()), port),
        Some(text) => match (text.parse::<SocketAddr>(), text.parse::<IpAddr>()) {
            (Ok(addr), _) => addr,
            (_, Ok(ip)) => SocketAddr::new(ip, port),
            _ => {
                return Err(ConfigError(format!(
                    "invalid --media-announce-addr {text:?}: use an IP address, or IP:port"
                )))
            }
        },
    };
    if announce.ip().is_unspecified() {
        return Err(ConfigError("invalid --media-announce-addr: browsers cannot send to a wildcard address".into()));
    }
    Ok(MediaSettings { bind: SocketAddr::new(listen.ip(), port), announce })
}

/// A secret kept in a file, surrounding whitespace trimmed; `flag` names it in errors.
fn read_secret_file(path: &Path, flag: &str) -> Result<Secret, ConfigError> {
    let secret = std::fs::read_to_string(path).map_err(|e| ConfigError(format!("cannot read {flag} {}: {e}", path.display())))?;
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(ConfigError(format!("{flag} {} is empty", path.display())));
    }
    Ok(Secret::new(secret.as_bytes().to_vec()))
}

/// `--public-url` and `--allowed-origins` as origins (`scheme://host[:port]`,
/// lower case), and whether cookies are to be `Secure`.
fn origins(public_url: Option<&str>, allowed: &[String]) -> Result<(Origins, bool), ConfigError> {
    let origin = |url: &str, flag: &str| -> Result<String, ConfigError> {
        let url = url.trim().trim_end_matches('/').to_ascii_lowercase();
        let bad = || ConfigError(format!("invalid {flag} {url:?}: use http://host[:port] or https://host[:port]"));
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or_else(bad)?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains(['@', '?', '#', ' ']) {
            return Err(bad());
        }
        let scheme = if url.starts_with("https://") { "https" } else { "http" };
        Ok(format!("{scheme}://{host}"))
    };
    let public = public_url.filter(|u| !u.trim().is_empty()).map(|u| origin(u, "--public-url")).transpose()?;
    let allowed = allowed
        .iter()
        .filter(|u| !u.trim().is_empty())
        .map(|u| origin(u, "--allowed-origins"))
        .collect::<Result<Vec<_>, _>>()?;
    let secure = public.as_deref().is_some_and(|p| p.starts_with("https://"));
    Ok((Origins { public, allowed }, secure))
}

/// A duration: a whole number with `s`, `m`, `h` or `d`; a bare number is seconds.
fn parse_signup_mode(text: &str) -> Result<SignupMode, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("{text:?}: use open, invite or closed"))
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number.parse().map_err(|_| format!("{text:?}: use a number with s, m, h or d, such as 90d"))?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?}: use a number with s, m, h or d, such as 90d")),
    };
    if secs == 0 || secs > 10 * 365 * 86_400 {
        return Err(format!("{text:?}: between 1s and 3650d"));
    }
    Ok(std::time::Duration::from_secs(secs))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// Query parameters whose values are hidden in logs: credentials by any
/// usual name (`password`, `tlsCertificateKeyFilePassword`, `token`, `apiKey`, …).
fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "credential", "signature"].iter().any(|s| name.contains(s)) || name.ends_with("key")
}

/// Hides the password of a `scheme://user:password@host` URL and the values
/// of query parameters that carry secrets (`?password=…`, `…Password=…`, `token=…`).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        None => base.to_string(),
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => {
                    let user = rest[..at].split(':').next().unwrap_or_default();
                    format!("{scheme}://{user}:<redacted>{}", &rest[at..])
                }
                None => base.to_string(),
            }
        }
    };
    if let Some(query) = query {
        let (query, fragment) = match query.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (query, None),
        };
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_param(name) => format!("{name}=<redacted>"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
        if fragment.is_some() {
            out.push_str("#<redacted>");
        }
    }
    out
}

fn validate_db_name(name: &str) -> Result<(), ConfigError> {
    let bad = name.is_empty() || name.len() > 63 || name.chars().any(|c| "/\\. \"$*<>:|?".contains(c));
    if bad {
        return Err(ConfigError(format!("invalid --mongodb-db {name:?}: not a valid MongoDB database name")));
    }
    Ok(())
}

fn ensure_writable_dir(dir: &Path) -> Result<(), ConfigError> {
    let fail = |e: std::io::Error| ConfigError(format!("data dir {} is not writable: {e}", dir.display()));
    crate::private::create_dir_all(dir).map_err(fail)?;
    if crate::private::tighten_dir(dir).map_err(fail)? {
        // Logging is not set up yet: say it on stderr.
        eprintln!("natter-server: the data dir {} was open to other users; it is now 0700", dir.display());
    }
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"ok").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

fn load_secret(file: Option<PathBuf>, data_dir: &Path) -> Result<(Secret, SecretSource), ConfigError> {
    if let Ok(value) = std::env::var("NATTER_JWT_SECRET") {
        return Ok((checked_secret(value.into_bytes(), "NATTER_JWT_SECRET")?, SecretSource::Env));
    }
    if let Some(path) = file {
        let bytes = std::fs::read(&path)
            .map_err(|e| ConfigError(format!("cannot read --jwt-secret-file {}: {e}", path.display())))?;
        let secret = checked_secret(trim_ascii_end(bytes), &path.display().to_string())?;
        return Ok((secret, SecretSource::File(path)));
    }
    let path = data_dir.join(SECRET_FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => Ok((checked_secret(trim_ascii_end(bytes), &path.display().to_string())?, SecretSource::File(path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw).map_err(|e| ConfigError(format!("cannot generate a JWT secret: {e}")))?;
            let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            crate::private::write_new(&path, hex.as_bytes())
                .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))?;
            Ok((Secret::new(hex.into_bytes()), SecretSource::Generated(path)))
        }
        Err(e) => Err(ConfigError(format!("cannot read {}: {e}", path.display()))),
    }
}

fn trim_ascii_end(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last().is_some_and(|b| b.is_ascii_whitespace()) {
        bytes.pop();
    }
    bytes
}

fn checked_secret(bytes: Vec<u8>, origin: &str) -> Result<Secret, ConfigError> {
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(ConfigError(format!(
            "the JWT secret from {origin} is too short: at least {MIN_SECRET_BYTES} bytes are needed"
        )));
    }
    Ok(Secret::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact_url("mongodb://u:secret@h:1/db"), "mongodb://u:<redacted>@h:1/db");
        assert_eq!(redact_url("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(redact_url("redis://:pw@h"), "redis://:<redacted>@h");
        assert_eq!(
            redact_url("mongodb://h1:1,h2:2/db?replicaSet=rs&password=hunter2&tlsCertificateKeyFilePassword=x&authSource=admin"),
            "mongodb://h1:1,h2:2/db?replicaSet=rs&password=<redacted>&tlsCertificateKeyFilePassword=<redacted>&authSource=admin"
        );
        assert_eq!(redact_url("rediss://u:p@h/0?token=abc&timeout=5"), "rediss://u:<redacted>@h/0?token=<redacted>&timeout=5");
        assert_eq!(redact_url("redis://h/?apiKey=k"), "redis://h/?apiKey=<redacted>");
    }

    #[test]
    fn durations_and_origins_parse() {
        assert_eq!(parse_duration("90d").unwrap().as_secs(), 90 * 86_400);
        assert_eq!(parse_duration("5").unwrap().as_secs(), 5);
        assert_eq!(parse_duration("12h").unwrap().as_secs(), 12 * 3600);
        assert!(parse_duration("0s").is_err() && parse_duration("ten").is_err() && parse_duration("3w").is_err());
        let (o, secure) = origins(Some("https://Chat.Example.org/"), &["http://localhost:3000".into()]).unwrap();
        assert_eq!(o.public.as_deref(), Some("https://chat.example.org"));
        assert_eq!(o.allowed, vec!["http://localhost:3000".to_string()]);
        assert!(secure);
        assert!(!origins(Some("http://h:1"), &[]).unwrap().1);
        assert!(origins(Some("chat.example.org"), &[]).is_err());
    }

    #[test]
    fn media_addresses_follow_the_listen_address_unless_announced() {
        let listen: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let media = media_config(listen, 3480, None).unwrap();
        assert_eq!((media.bind.to_string(), media.announce.to_string()), ("127.0.0.1:3480".into(), "127.0.0.1:3480".into()));
        let media = media_config("0.0.0.0:3000".parse().unwrap(), 3480, Some("203.0.113.7")).unwrap();
        assert_eq!((media.bind.to_string(), media.announce.to_string()), ("0.0.0.0:3480".into(), "203.0.113.7:3480".into()));
        let media = media_config(listen, 3480, Some("203.0.113.7:40000")).unwrap();
        assert_eq!(media.announce.port(), 40000);
        assert!(media_config(listen, 3480, Some("somewhere")).is_err());
        assert!(media_config(listen, 3480, Some("0.0.0.0")).is_err());
        let wildcard = media_config("0.0.0.0:3000".parse().unwrap(), 3480, None).unwrap();
        assert!(!wildcard.announce.ip().is_unspecified());
    }
}
