//! Real users through the public API: sign-up (argon2, so slow: the accounts
//! are cached in the work dir and reused), token refresh, groups; and, for
//! crowds of thousands, users written straight into a stopped node's store.
//!
//! Sign-ups are limited per client address, so requests are spread over the
//! source addresses 127.0.0.2… like the websockets.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::Path,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use futures_util::{stream, StreamExt};
use natter_server::{
    auth::token::{self, Claims},
    clock::now_millis,
    secret::Secret,
    store::{
        devices::{DeviceRecord, DeviceRepo},
        embedded::EmbeddedStore,
        new_id,
        users::{UserRecord, UserRepo},
    },
};
use serde::{Deserialize, Serialize};
use wire::{
    api::{AuthResponse, ConversationSummary, CreateGroup, LoginRequest, RegisterRequest},
    endpoint,
    model::{ConversationId, Gender, JoinPolicy, UserId, Visibility},
    protocol::ApiError,
};


pub(crate) const PASSWORD: &str = "load-test-password";
const DEVICE: &str = "loadtest";
/// Requests in flight while preparing users.
const PARALLEL: usize = 16;
/// How often one call waits out a `429` before giving up.
const MAX_RETRIES: u32 = 30;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub email: String,
    pub user_id: UserId,
    pub token: String,
}

/// The accounts cache: a tag that makes e-mail addresses unique to it, and the accounts.
#[derive(Default, Serialize, Deserialize)]
struct Cache {
    tag: String,
    /// The number of the next e-mail address to try.
    #[serde(default)]
    next: usize,
    accounts: Vec<Account>,
}

/// Source addresses of the API clients: 100 in 127.1.0.0/16, starting at a
/// place that changes every second, so that a run right after another does
/// not find its addresses' sign-up allowance (30 per 10 minutes) spent.
fn api_sources() -> impl Iterator<Item = IpAddr> {
    let start = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % 600) as u32 * 100;
    (0..)
        .map(move |k| Ipv4Addr::from(0x7F01_0000 + start + k))
        .filter(|ip| !matches!(ip.octets()[3], 0 | 255))
        .take(100)
        .map(IpAddr::V4)
}

/// HTTP clients of one node, each on its own source address.
pub struct Api {
    base: String,
    clients: Vec<reqwest::Client>,
    next: AtomicUsize,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Api {
        let clients = api_sources()
            .map(|source| {
                reqwest::Client::builder()
                    .local_address(source)
                    .timeout(Duration::from_secs(120))
                    .build()
                    .expect("an HTTP client")
            })
            .collect();
        Api { base: format!("http://{addr}"), clients, next: AtomicUsize::new(0) }
    }

    fn client(&self) -> &reqwest::Client {
        &self.clients[self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len()]
    }

    /// One API call; a `429` is waited out as its `Retry-After` says (sign-ups
    /// share the server's bounded password hashing), and a request that could
    /// not be sent is sent again, a few times at most.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Result<T, String> {
        let mut tries = 0;
        let (status, bytes) = loop {
            let mut request = self.client().request(method.clone(), format!("{}{path}", self.base));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(response) => response,
                // A kept-alive connection the server closed while this one
                // waited out a 429: once more, on a new one.
                Err(_) if tries < MAX_RETRIES => {
                    tries += 1;
                    continue;
                }
                Err(e) => return Err(format!("{method} {path}: {e}")),
            };
            let status = response.status();
            let retry_after = response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()?.parse().ok());
            let bytes = response.bytes().await.map_err(|e| format!("{method} {path}: {e}"))?;
            match retry_after {
                Some(secs) if status == reqwest::StatusCode::TOO_MANY_REQUESTS && tries < MAX_RETRIES => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
                }
                _ => break (status, bytes),
            }
        };
        if !status.is_success() {
            let error = serde_json::from_slice::<ApiError>(&bytes).map(|e| e.to_string());
            return Err(format!("{method} {path}: {status} {}", error.unwrap_or_default()));
        }
        serde_json::from_slice(if bytes.is_empty() { b"null" } else { &bytes }).map_err(|e| format!("{method} {path}: {e}"))
    }

    async fn register(&self, email: String) -> Result<Account, String> {
        let request = RegisterRequest {
            nickname: nickname(&email),
            email: email.clone(),
            password: PASSWORD.into(),
            device_id: DEVICE.into(),
            gender: Gender::Unknown,
            invite: None,
        };
        let auth: AuthResponse =
            self.call(reqwest::Method::POST, endpoint::AUTH_REGISTER, None, Some(serde_json::to_value(request).unwrap())).await?;
        Ok(Account { email, user_id: auth.user.id, token: auth.token })
    }

    /// A fresh token for the account's device session (also from an expired one).
    async fn refresh(&self, account: &Account) -> Result<String, String> {
        let auth: AuthResponse = self.call(reqwest::Method::POST, endpoint::AUTH_REFRESH, Some(&account.token), None).await?;
        Ok(auth.token)
    }

    /// A fresh token by signing in again: for a cached account whose token
    /// the server no longer knows (a database that outlived the cache's
    /// copy of it, where each refresh replaced the token).
    async fn sign_in(&self, email: &str) -> Result<String, String> {
        let request = LoginRequest { email: email.to_owned(), password: PASSWORD.into(), device_id: DEVICE.into() };
        let auth: AuthResponse =
            self.call(reqwest::Method::POST, endpoint::AUTH_LOGIN, None, Some(serde_json::to_value(request).unwrap())).await?;
        Ok(auth.token)
    }

    /// Creates an open group of `members` (the first one owns it); the others
    /// join by themselves (strangers named at creation would only be invited).
    pub async fn group(&self, name: &str, members: &[Account]) -> Result<ConversationId, String> {
        let (owner, rest) = members.split_first().ok_or("a group needs an owner")?;
        let request = CreateGroup {
            name: name.into(),
            description: String::new(),
            visibility: Visibility::Hidden,
            join_policy: JoinPolicy::Open,
            members: Vec::new(),
        };
        let created: ConversationSummary = self
            .call(reqwest::Method::POST, endpoint::CONVERSATIONS, Some(&owner.token), Some(serde_json::to_value(request).unwrap()))
            .await?;
        let id = created.conversation.id;
        let joins = stream::iter(rest)
            .map(|a| {
                let path = endpoint::conversation_join(&id);
                async move { self.call::<serde_json::Value>(reqwest::Method::POST, &path, Some(&a.token), None).await }
            })
            .buffer_unordered(PARALLEL)
            .collect::<Vec<_>>()
            .await;
        joins.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(id)
    }
}

/// Whether what a run ends with (fresh tokens, new sign-ups) is written back
/// to the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum WriteBack {
    /// The server's data outlives the run (a kept database, the embedded
    /// template): its sessions now hold the new tokens.
    Save,
    /// The server runs on a throwaway copy of the data the cache was made
    /// on: the copy's new sessions, and any user signed up in it, die with
    /// it, so nothing is written back.
    Discard,
}

/// `n` signed-in accounts on the node behind `api`: those in `cache` (when
/// given) with fresh tokens, and new sign-ups for the rest.
pub async fn accounts(
    api: &Api,
    cache_file: Option<&Path>,
    n: usize,
    write_back: WriteBack,
) -> Result<Vec<Account>, String> {
    let mut cache = cache_file.map(load).unwrap_or_default();
    if cache.tag.is_empty() {
        cache.tag = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis());
    }
    let known = cache.accounts.len().min(n);
    let refreshed = stream::iter(cache.accounts[..known].iter().cloned())
        .map(|mut a| async move {
            a.token = match api.refresh(&a).await {
                Ok(token) => token,
                Err(_) => api.sign_in(&a.email).await?,
            };
            Ok::<_, String>(a)
        })
        .buffered(PARALLEL * 2)
        .collect::<Vec<_>>()
        .await;
    let mut accounts = match refreshed.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(accounts) => accounts,
        Err(e) => {
            // The server's data is not what the cache was made on: start afresh.
            eprintln!("cached users are unknown to the server ({e}); signing up new ones");
            cache = Cache::default();
            cache.tag = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis());
            Vec::new()
        }
    };
    if write_back == WriteBack::Save && !accounts.is_empty() {
        cache.accounts[..accounts.len()].clone_from_slice(&accounts);
        save(cache_file, &cache)?;
    }
    if accounts.len() < n {
        eprintln!("signing up {} users (argon2: this takes a while once; they are cached)", n - accounts.len());
    }
    while accounts.len() < n {
        // In chunks, each saved, so that a failure keeps what was signed up.
        let tag = cache.tag.clone();
        let start = cache.next.max(accounts.len());
        let chunk = start..start + (n - accounts.len()).min(100);
        cache.next = chunk.end;
        let fresh = stream::iter(chunk)
            .map(|i| api.register(email(&tag, i)))
            .buffered(PARALLEL)
            .collect::<Vec<_>>()
            .await;
        let mut failed = None;
        for result in fresh {
            match result {
                Ok(account) => accounts.push(account),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        if cache.accounts.len() < accounts.len() {
            cache.accounts = accounts.clone();
        }
        if write_back == WriteBack::Save {
            save(cache_file, &cache)?;
        }
        if let Some(e) = failed {
            return Err(e);
        }
        eprintln!("  … {} users", accounts.len());
    }
    Ok(accounts)
}

/// Tokens minted by [`seed`] last this long: long enough for the refresh
/// that follows it.
const SEEDED_TOKEN_SECS: i64 = 3_600;

/// Writes users into the embedded store `file` (its node stopped) until the
/// cache `cache_file` holds `n`, each with one device session and a token
/// signed with `secret`, as a sign-up would make them. Each copies the
/// password hash of the first cached user (signed up through the API):
/// 10,000 sign-ups would hash 10,000 passwords (argon2), most of an hour here.
pub async fn seed(file: &Path, secret: &Secret, cache_file: &Path, n: usize) -> Result<(), String> {
    let mut cache = load(cache_file);
    let Some(first) = cache.accounts.first().filter(|_| cache.accounts.len() < n) else { return Ok(()) };
    let store = EmbeddedStore::open(file).map_err(|e| e.to_string())?;
    let model = store.user_by_id(&first.user_id).await.map_err(|e| e.to_string())?.ok_or("the first cached user is not in the store")?;
    eprintln!("writing {} users into the template", n - cache.accounts.len());
    let now = now_millis();
    while cache.accounts.len() < n {
        let number = cache.next.max(cache.accounts.len());
        cache.next = number + 1;
        let email = email(&cache.tag, number);
        let user = UserRecord {
            id: UserId(new_id()),
            nickname: nickname(&email),
            email: email.clone(),
            password_hash: model.password_hash.clone(),
            gender: Gender::Unknown,
            avatar: None,
            created_ms: now,
            last_login_ms: Some(now),
            login_count: 1,
        };
        let device = DeviceRecord {
            user_id: user.id.clone(),
            device_id: DEVICE.into(),
            token_id: new_id(),
            user_agent: "natter-loadtest".into(),
            signed_in_ms: now,
            last_seen_ms: now,
            previous_token_id: None,
            rotated_ms: 0,
        };
        store.insert_user(&user).await.map_err(|e| e.to_string())?;
        store.put_device(&device).await.map_err(|e| e.to_string())?;
        let claims = Claims::new(&user.id, DEVICE, &device.token_id, now, now, SEEDED_TOKEN_SECS);
        cache.accounts.push(Account { email, user_id: user.id, token: token::encode(secret, &claims) });
    }
    save(Some(cache_file), &cache)
}

/// How many accounts the cache `cache_file` holds.
pub fn cached(cache_file: &Path) -> usize {
    load(cache_file).accounts.len()
}

/// The cache in `cache_file`; an empty one if it is missing or unreadable.
fn load(cache_file: &Path) -> Cache {
    std::fs::read(cache_file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// The e-mail address of the cache's account number `i`.
fn email(tag: &str, i: usize) -> String {
    format!("load-{tag}-{i}@load.example.org")
}

/// A user's nickname: the e-mail address's local part.
fn nickname(email: &str) -> String {
    email.split('@').next().unwrap_or("load").to_owned()
}

fn save(cache_file: Option<&Path>, cache: &Cache) -> Result<(), String> {
    match cache_file {
        Some(file) => std::fs::write(file, serde_json::to_vec(cache).unwrap()).map_err(|e| format!("{}: {e}", file.display())),
        None => Ok(()),
    }
}
