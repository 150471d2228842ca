//! Helpers shared by the server's integration tests: starting a server in
//! this process on a free port, and a switchable TCP proxy for simulating a
//! database outage.

pub mod chat;
pub mod cluster;
pub mod files;
pub mod room;

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use clap::Parser;
use natter_server::{
    config::Cli,
    store::{
        embedded::EmbeddedStore,
        mongodb::{MongoSettings, MongoStore},
        DynStore, EMBEDDED_FILE,
    },
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{oneshot, watch},
};

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// A server running inside the test process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    /// Shared by the nodes started [`TestServer::beside`] it.
    _data: Arc<tempfile::TempDir>,
    /// The MongoDB database it stores into, if not its embedded store.
    mongodb: Option<MongoSettings>,
    /// The flags it was started with, besides the data dir and secret.
    extra: Vec<String>,
}

/// A client that lets an idle pooled connection go after 5 s: the server
/// closes one after its 10 s header timeout, and a request sent on it in that
/// very moment (say after a test spent 10 s building a large upload) would
/// fail with `IncompleteMessage`.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build().unwrap()
}

/// `text` percent-encoded for a URL: every byte but the unreserved ones.
pub fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `path?name=value&…` from a wire query's pairs, the values escaped.
pub fn with_query(path: &str, pairs: Vec<(&str, String)>) -> String {
    let pairs: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={}", url_escape(&v))).collect();
    format!("{path}?{}", pairs.join("&"))
}

/// A throw-away data dir holding a file with the tests' JWT secret (so that
/// every server of a test accepts the others' tokens), and that file's path.
pub fn fresh_data_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let data = tempfile::tempdir().unwrap();
    let secret = data.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    (data, secret)
}

impl TestServer {
    /// Starts a server with a fresh data dir and the given extra flags.
    pub async fn start(extra: &[&str]) -> TestServer {
        let (data, secret) = fresh_data_dir();
        TestServer::start_in(data, &secret, extra).await
    }

    /// Starts a server on a data dir the test prepared, with `secret` its JWT secret file.
    pub async fn start_in(data: impl Into<Arc<tempfile::TempDir>>, secret: &std::path::Path, extra: &[&str]) -> TestServer {
        let data = data.into();
        let mut args = vec![
            "natter-server".to_owned(),
            "--data-dir".to_owned(),
            data.path().display().to_string(),
            "--jwt-secret-file".to_owned(),
            secret.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let config = Cli::try_parse_from(args).unwrap().validate().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            natter_server::run(config, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let extra = extra.iter().map(|s| s.to_string()).collect();
        TestServer { addr, client: http_client(), stop: Some(stop), task, _data: data, mongodb: None, extra }
    }

    /// Another node on this server's data dir, and so on its embedded store
    /// (the cluster of one machine), started with `extra`.
    pub async fn beside(&self, extra: &[&str]) -> TestServer {
        TestServer::start_in(self._data.clone(), &self.data_dir().join("secret"), extra).await
    }

    /// Stops the server, lets `between` change its data dir, and starts it
    /// again on that data dir with the same flags, ready to serve.
    pub async fn restart(mut self, between: impl FnOnce(&std::path::Path)) -> TestServer {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.task).await.unwrap().unwrap();
        between(self._data.path());
        let secret = self._data.path().join("secret");
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let mut server = TestServer::start_in(self._data, &secret, &extra).await;
        server.mongodb = self.mongodb;
        server.wait_for_status(wire::endpoint::READYZ, 200, Duration::from_secs(20)).await;
        server
    }

    /// Starts a server on the named store, ready to serve: `"embedded"`, or
    /// `"mongodb"` with a fresh database on the test run's FerretDB.
    pub async fn on_store(store: &str) -> TestServer {
        TestServer::on_store_with(store, &[]).await
    }

    /// [`TestServer::on_store`] with extra flags.
    pub async fn on_store_with(store: &str, extra: &[&str]) -> TestServer {
        let server = match store {
            "embedded" => TestServer::start(extra).await,
            "mongodb" => {
                let uri = std::env::var("NATTER_TEST_MONGODB_URI").expect("NATTER_TEST_MONGODB_URI");
                let db = format!("natter_test_{}", natter_server::store::new_id());
                let mut flags = vec!["--mongodb-uri", &uri, "--mongodb-db", &db];
                flags.extend(extra);
                let mut server = TestServer::start(&flags).await;
                server.mongodb = Some(MongoSettings { uri, database: db });
                server
            }
            other => panic!("unknown store {other}"),
        };
        server.wait_for_status(wire::endpoint::READYZ, 200, Duration::from_secs(20)).await;
        server
    }

    /// Another handle to the server's store, for a test to look into or
    /// change behind the server's back.
    pub async fn store(&self) -> DynStore {
        match &self.mongodb {
            Some(settings) => Arc::new(MongoStore::open(settings).await.unwrap()),
            None => Arc::new(EmbeddedStore::open(&self.data_dir().join(EMBEDDED_FILE)).unwrap()),
        }
    }

    /// What the server keeps of uploads (originals, thumbnails, clean copies),
    /// wherever it keeps them (the data dir, GridFS): each item's last name
    /// component (`<sha256>`, `<sha256>.thumb.webp`), sorted; not the
    /// uploads being received nor what a sweep moved aside.
    pub async fn stored_uploads(&self) -> Vec<String> {
        let blobs = self.store().await.blobs(self.data_dir(), natter_server::blobs::Area::Files);
        let mut names: Vec<String> = blobs
            .list("")
            .await
            .unwrap()
            .into_iter()
            .filter(|e| !e.name.starts_with("tmp/") && !e.name.starts_with("swept/"))
            .map(|e| e.name.rsplit('/').next().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    /// Whether `text` is anywhere in the stored messages, read behind the
    /// server's back: in MongoDB by a query of its own; in the embedded
    /// store by a query, and in the bytes of the database file and its log.
    pub async fn store_holds_text(&self, text: &str) -> bool {
        match &self.mongodb {
            Some(settings) => {
                let client = mongodb::Client::with_uri_str(&settings.uri).await.unwrap();
                let messages = client.database(&settings.database).collection::<mongodb::bson::Document>("messages");
                let pattern = mongodb::bson::Regex { pattern: regex_escape(text), options: String::new() };
                let found = messages.find_one(mongodb::bson::doc! { "content": pattern }).await.unwrap();
                found.is_some()
            }
            None => {
                let path = self.data_dir().join(EMBEDDED_FILE);
                let db = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
                let query = "SELECT count(*) FROM messages WHERE instr(content, ?1) > 0";
                let rows: i64 = db.query_row(query, [text], |row| row.get(0)).unwrap();
                let on_disk = ["", "-wal"].iter().any(|suffix| {
                    let bytes = std::fs::read(format!("{}{suffix}", path.display())).unwrap_or_default();
                    bytes.windows(text.len()).any(|w| w == text.as_bytes())
                });
                rows > 0 || on_disk
            }
        }
    }

    /// The server's data dir (its files, its embedded database).
    pub fn data_dir(&self) -> &std::path::Path {
        self._data.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Polls `path` until it answers `status`, for at most `within`.
    pub async fn wait_for_status(&self, path: &str, status: u16, within: Duration) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let resp = self.get(path).await;
            let got = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            if got == status {
                return body;
            }
            assert!(tokio::time::Instant::now() < deadline, "{path} still answers {got} {body}, wanted {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.task).await.unwrap().unwrap();
    }
}

/// A TCP proxy that can be switched off, which cuts every open connection
/// and refuses new ones, and on again: a database outage on demand.
pub struct SwitchProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    /// The local address of each connection it made to the target, as the
    /// target sees its clients (Redis's `CLIENT LIST`).
    outbound: Arc<Mutex<Vec<SocketAddr>>>,
}

impl SwitchProxy {
    pub async fn start(target: SocketAddr, up: bool) -> SwitchProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(up));
        let (cut, cuts) = watch::channel(0u64);
        let is_up = up.clone();
        let outbound = Arc::new(Mutex::new(Vec::new()));
        let made = outbound.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !is_up.load(Ordering::SeqCst) {
                    continue; // dropping the socket closes it
                }
                let mut cuts = cuts.clone();
                cuts.mark_unchanged(); // only cuts from now on end this connection
                let made = made.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    made.lock().unwrap().extend(outbound.local_addr());
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        SwitchProxy { addr, up, cut, outbound }
    }

    /// Whether new connections go through; the open ones stay as they are.
    pub fn admit(&self, admit: bool) {
        self.up.store(admit, Ordering::SeqCst);
    }

    /// The local addresses of the connections it made to the target so far.
    pub fn outbound(&self) -> Vec<SocketAddr> {
        self.outbound.lock().unwrap().clone()
    }

    pub fn set_up(&self, up: bool) {
        self.admit(up);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

/// Every file under `dir`, at any depth (none if `dir` is missing).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    entries
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() { files_under(&path) } else { vec![path] }
        })
        .collect()
}

/// The address of the MongoDB (FerretDB) server the test run provides.
pub fn mongodb_addr() -> SocketAddr {
    let uri = std::env::var("NATTER_TEST_MONGODB_URI")
        .expect("NATTER_TEST_MONGODB_URI must name a MongoDB or FerretDB server (scripts/test.sh starts one)");
    let host = uri.trim_start_matches("mongodb://").split(['/', '?']).next().unwrap().to_owned();
    host.parse().expect("NATTER_TEST_MONGODB_URI must use an IP address and port")
}

/// Generates, for each named `async fn(&TestServer)`, one test on the
/// embedded store and one on MongoDB (the test run's FerretDB).
///
/// `on_both_stores!(with setup; names…)` hands each test what
/// `async fn setup(store: &str) -> T` made of the store instead; `T` has an
/// `async fn stop(self)`.
macro_rules! on_both_stores {
    (with $setup:ident; $($name:ident),* $(,)?) => {
        mod embedded_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fixture = super::$setup("embedded").await;
                    super::$name(&fixture).await;
                    fixture.stop().await;
                }
            )*
        }
        mod mongodb_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fixture = super::$setup("mongodb").await;
                    super::$name(&fixture).await;
                    fixture.stop().await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        mod embedded_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = super::TestServer::on_store("embedded").await;
                    super::$name(&server).await;
                    server.stop().await;
                }
            )*
        }
        mod mongodb_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = super::TestServer::on_store("mongodb").await;
                    super::$name(&server).await;
                    server.stop().await;
                }
            )*
        }
    };
}

/// `text` as a regular expression matching itself.
fn regex_escape(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_ascii_alphanumeric() { vec![c] } else { vec!['\\', c] }).collect()
}
