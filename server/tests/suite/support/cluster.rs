//! Several nodes sharing the test run's FerretDB and Redis
//! (`NATTER_TEST_MONGODB_URI`, `NATTER_TEST_REDIS_URL`), or its Redis
//! Cluster (`NATTER_TEST_REDIS_CLUSTER`, when it has one).

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
    flags_reaching(["--redis-url", &format!("redis://{redis}/")])
}

/// The test run's Redis Cluster (`host:port,...`), or `None` (and a line
/// saying the test is skipped) when it has none.
pub fn redis_cluster() -> Option<String> {
    let nodes = std::env::var("NATTER_TEST_REDIS_CLUSTER").ok().filter(|n| !n.is_empty());
    if nodes.is_none() {
        println!("skipped: NATTER_TEST_REDIS_CLUSTER names no Redis Cluster (scripts/test.sh starts one)");
    }
    nodes
}

/// [`cluster_flags`] for nodes meeting on the Redis Cluster of `nodes` (`host:port,...`).
pub fn redis_cluster_flags(nodes: &str) -> ClusterFlags {
    flags_reaching(["--redis-cluster-nodes", nodes])
}

fn flags_reaching(redis: [&str; 2]) -> ClusterFlags {
    let uri = std::env::var("NATTER_TEST_MONGODB_URI").expect("NATTER_TEST_MONGODB_URI");
    let tag = natter_server::store::new_id();
    let db = format!("natter_test_{tag}");
    let vapid = vapid_key_dir();
    let key = vapid.path().join("vapid").display().to_string();
    let flags = ["--mongodb-uri", &uri, "--mongodb-db", &db, redis[0], redis[1], "--node-ttl-secs", "3"];
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
    two_nodes_with(&cluster_flags(redis)).await
}

/// Two nodes of the cluster `flags` describe.
pub async fn two_nodes_with(flags: &[String]) -> (TestServer, TestServer) {
    (node(flags, "node-a").await, node(flags, "node-b").await)
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

/// The master of the Redis Cluster `nodes` (`host:port,...`) that holds
/// `channel`'s slot: its address and process id, or `None` when no replica of
/// it is in step to take over (an earlier failover left it alone).
pub async fn master_of(nodes: &str, channel: &str) -> Option<(String, u32)> {
    let mut conn = None;
    for node in nodes.split(',') {
        if let Ok(c) = redis::Client::open(format!("redis://{node}/")).unwrap().get_multiplexed_async_connection().await {
            conn = Some(c);
            break;
        }
    }
    let mut conn = conn.expect("a node of the Redis Cluster answers");
    let slot: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(channel).query_async(&mut conn).await.unwrap();
    let listing: String = redis::cmd("CLUSTER").arg("NODES").query_async(&mut conn).await.unwrap();
    // <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slots...>
    let lines: Vec<Vec<&str>> = listing.lines().map(|l| l.split(' ').collect()).collect();
    let holds = |f: &[&str]| {
        f[8..].iter().any(|range| {
            let mut ends = range.split('-').map(|n| n.parse::<u16>().unwrap_or(u16::MAX));
            let first = ends.next().unwrap();
            (first..=ends.next().unwrap_or(first)).contains(&slot)
        })
    };
    let master = lines.iter().find(|f| f[2].contains("master") && !f[2].contains("fail") && holds(f))?;
    if !lines.iter().any(|f| f[3] == master[0] && !f[2].contains("fail") && f[7] == "connected") {
        return None;
    }
    let addr = master[1].split('@').next().unwrap().to_owned();
    let mut at = redis::Client::open(format!("redis://{addr}/")).unwrap().get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut at).await.unwrap();
    let pid = info.lines().find_map(|l| l.strip_prefix("process_id:")).unwrap().trim().parse().unwrap();
    Some((addr, pid))
}

/// SIGKILL to process `pid`: no goodbye to anyone.
pub fn sigkill(pid: u32) {
    let killed = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    assert!(killed.success(), "SIGKILL to {pid}");
}
