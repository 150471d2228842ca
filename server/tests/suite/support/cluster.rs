//! Several nodes sharing the test run's FerretDB and Redis
//! (`NATTER_TEST_MONGODB_URI`, `NATTER_TEST_REDIS_URL`).

use std::{net::SocketAddr, time::Duration};

use super::TestServer;

pub fn redis_addr() -> SocketAddr {
    let url = std::env::var("NATTER_TEST_REDIS_URL")
        .expect("NATTER_TEST_REDIS_URL must name a Redis server (scripts/test.sh starts one)");
    let host = url.trim_start_matches("redis://").split('/').next().unwrap().to_owned();
    host.parse().expect("NATTER_TEST_REDIS_URL must use an IP address and port")
}

/// The flags that make a node of a cluster on a fresh database (one per
/// call), reaching Redis at `redis`; nodes time out after 3 s without
/// heartbeat. The tests share one Redis, so each cluster's node ids are its own.
pub fn cluster_flags(redis: SocketAddr) -> ClusterFlags {
    let uri = std::env::var("NATTER_TEST_MONGODB_URI").expect("NATTER_TEST_MONGODB_URI");
    let tag = natter_server::store::new_id();
    let db = format!("natter_test_{tag}");
    let vapid = vapid_key_dir();
    let (redis, key) = (format!("redis://{redis}/"), vapid.path().join("vapid").display().to_string());
    let flags = ["--mongodb-uri", &uri, "--mongodb-db", &db, "--redis-url", &redis, "--node-ttl-secs", "3"];
    let flags = flags.into_iter().chain(["--vapid-private-key-file", &key]).map(String::from).collect();
    ClusterFlags { flags, _vapid: vapid }
}

/// A cluster's flags, and the directory of the key file they name, removed
/// with them (nodes read the key when they start).
pub struct ClusterFlags {
    flags: Vec<String>,
    _vapid: tempfile::TempDir,
}

impl std::ops::Deref for ClusterFlags {
    type Target = Vec<String>;

    fn deref(&self) -> &Vec<String> {
        &self.flags
    }
}

impl std::ops::DerefMut for ClusterFlags {
    fn deref_mut(&mut self) -> &mut Vec<String> {
        &mut self.flags
    }
}

/// A directory with the VAPID key (`vapid`) the nodes of a cluster share,
/// as one deployment's nodes must (a test key).
fn vapid_key_dir() -> tempfile::TempDir {
    const TEST_KEY: &str = "RS0WdYWWo1HajXg3NZR1olzCf31i-ZBGDkFyCs7j1jw";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vapid"), TEST_KEY).unwrap();
    dir
}

/// A node id unique to the cluster `flags` describe.
pub fn node_id(flags: &[String], name: &str) -> String {
    format!("{name}-{}", flags[3].trim_start_matches("natter_test_"))
}

pub async fn node(flags: &[String], name: &str) -> TestServer {
    let id = node_id(flags, name);
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend(["--node-id", &id]);
    let mut node = TestServer::start(&args).await;
    let (uri, database) = (flags[1].clone(), flags[3].clone());
    node.mongodb = Some(natter_server::store::mongodb::MongoSettings { uri, database });
    node.wait_for_status(wire::endpoint::READYZ, 200, Duration::from_secs(20)).await;
    node
}

/// Two nodes on one fresh database, reaching Redis at `redis`.
pub async fn two_nodes(redis: SocketAddr) -> (TestServer, TestServer) {
    let flags = cluster_flags(redis);
    (node(&flags, "node-a").await, node(&flags, "node-b").await)
}

/// A node in a process of its own, which the test can kill.
pub struct NodeProcess {
    pub addr: SocketAddr,
    child: tokio::process::Child,
    _data: tempfile::TempDir,
}

impl NodeProcess {
    pub async fn start(flags: &[String], id: &str) -> NodeProcess {
        let (data, secret) = super::fresh_data_dir();
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_natter-server"))
            .args(flags)
            .args(["--node-id", &node_id(flags, id), "--listen", &addr.to_string(), "--data-dir"])
            .arg(data.path())
            .arg("--jwt-secret-file")
            .arg(&secret)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let client = super::http_client();
        for _ in 0..200 {
            if let Ok(resp) = client.get(format!("http://{addr}/readyz")).send().await {
                if resp.status() == 200 {
                    return NodeProcess { addr, child, _data: data };
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("node {id} did not become ready");
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the node is running")
    }

    /// SIGKILL: no goodbye to anyone.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// `flags` with Redis reached at `redis` instead: a node of the same cluster
/// behind its own way to Redis (a [`super::SwitchProxy`]).
pub fn reaching(flags: &[String], redis: std::net::SocketAddr) -> Vec<String> {
    let mut flags = flags.to_vec();
    let at = flags.iter().position(|f| f == "--redis-url").expect("cluster flags name Redis") + 1;
    flags[at] = format!("redis://{redis}/");
    flags
}

/// A node's bus counter `name` (labelled with its node id) from `/metrics`:
/// nodes in one test process share the recorder, the label tells them apart.
pub async fn bus_metric(server: &TestServer, name: &str, node_id: &str) -> u64 {
    let text = server.get("/metrics").await.text().await.unwrap();
    let series = format!("{name}{{node=\"{node_id}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&series)).map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
}
