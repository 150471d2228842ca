//! The benchmark's surroundings: its options, its work dir (the JWT secret,
//! the cached users, the history database), and starting the servers each
//! scenario measures on fresh data.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use natter_server::{secret::Secret, store::EMBEDDED_FILE};
use tokio::process::Command;

use crate::{
    procs::{self, fresh_dir, NodeSpec, Proc},
    users::{self, Account, Api, WriteBack},
};

/// Database the benchmark's MongoDB users live in (kept between runs).
const MONGODB_DB: &str = "natter_load";

#[derive(Clone, Debug)]
pub struct Options {
    pub server_bin: PathBuf,
    pub work_dir: PathBuf,
    pub ferretdb_launcher: PathBuf,
    pub redis_server: PathBuf,
    pub mongodb_uri: Option<String>,
    pub redis_url: Option<String>,
    pub port: u16,
    pub ferretdb_port: u16,
    pub redis_port: u16,
    pub site_root: PathBuf,
    pub page_script: PathBuf,
    pub node_path: PathBuf,
    pub idle_connections: usize,
    pub idle_users: usize,
    pub history_messages: u64,
    pub step_secs: f64,
    pub latency_secs: f64,
    /// Seconds of each step of scenario 12.
    pub overload_secs: f64,
    /// Scenario 13's numbers of nodes to run.
    pub bus_nodes: Vec<usize>,
    pub bus_store: ClusterStore,
    pub media_udp_port: u16,
    /// Percentage of the sends of scenarios 2–5 that are edits and reactions.
    pub changes_percent: u64,
}

/// What a cluster's nodes share as their store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClusterStore {
    /// One data dir and its embedded store, the nodes on this machine.
    Embedded,
    /// MongoDB: the given one, or FerretDB started here.
    Mongodb,
}

pub struct Bench {
    pub opts: Options,
    /// The HTTP ports of [`NODE_1`], [`NODE_2`], [`BASELINE`] and [`NODE_3`].
    ports: [u16; 4],
    /// The open-file limit of this process and the servers it starts.
    pub open_files: u64,
    /// FerretDB and Redis, when this run started them.
    services: Vec<Proc>,
}

/// Port offsets of the HTTP servers a scenario starts.
pub const NODE_1: u16 = 0;
pub const NODE_2: u16 = 1;
pub const BASELINE: u16 = 2;
/// Only scenario 1 needs a third node, when one process cannot hold its crowd.
pub const NODE_3: u16 = 3;

impl Bench {
    pub fn new(opts: Options, open_files: u64) -> Result<Bench, String> {
        std::fs::create_dir_all(&opts.work_dir).map_err(|e| format!("{}: {e}", opts.work_dir.display()))?;
        let ports = match opts.port {
            0 => [free_port()?, free_port()?, free_port()?, free_port()?],
            first => [first, first + 1, first + 2, first + 3],
        };
        let bench = Bench { opts, ports, open_files, services: Vec::new() };
        let secret = bench.secret_file();
        if !secret.exists() {
            let bytes: [u8; 32] = std::array::from_fn(|_| rand_byte());
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            std::fs::write(&secret, hex).map_err(|e| format!("{}: {e}", secret.display()))?;
        }
        Ok(bench)
    }

    pub fn addr(&self, offset: u16) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports[offset as usize]))
    }

    /// One JWT secret for every run, so cached tokens stay valid.
    pub fn secret_file(&self) -> PathBuf {
        self.opts.work_dir.join("jwt-secret")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.opts.work_dir.join(name)
    }

    fn node_spec(&self, offset: u16, data_dir: PathBuf, node_id: &str) -> NodeSpec {
        NodeSpec {
            bin: self.opts.server_bin.clone(),
            addr: self.addr(offset),
            data_dir,
            secret_file: self.secret_file(),
            site_root: self.opts.site_root.clone(),
            mongodb: None,
            redis_url: None,
            node_id: node_id.into(),
            // One port a node: cluster nodes share this machine.
            media_udp_port: self.opts.media_udp_port + offset,
            extra_args: Vec::new(),
        }
    }

    /// A node on a fresh embedded store, started with `extra_args` too.
    pub async fn fresh_node(&self, name: &str, extra_args: &[String]) -> Result<Proc, String> {
        let data = self.path(&format!("run-{name}"));
        fresh_dir(&data)?;
        let spec = NodeSpec { extra_args: extra_args.to_vec(), ..self.node_spec(NODE_1, data, name) };
        procs::start_node(&spec).await
    }

    /// Makes sure the embedded template data dir holds at least `n` users,
    /// and the cache their tokens, fresh.
    pub async fn prepare_embedded_users(&self, n: usize) -> Result<(), String> {
        let template = self.path("embedded-template");
        let cache = self.path("embedded-users.json");
        if !template.join(EMBEDDED_FILE).exists() {
            let _ = std::fs::remove_file(&cache);
        }
        // One signed up through the API, whose password hash the rest copy.
        if users::cached(&cache) == 0 {
            self.renew_template_users(1).await?;
        }
        users::seed(&template.join(EMBEDDED_FILE), &self.secret()?, &cache, n).await?;
        self.renew_template_users(n).await
    }

    /// Starts the template's node to sign up what the cache lacks of `n`
    /// users and renew the tokens of all (tokens live minutes, so this runs
    /// before each copy is made).
    async fn renew_template_users(&self, n: usize) -> Result<(), String> {
        let template = self.path("embedded-template");
        let node = procs::start_node(&self.node_spec(NODE_1, template, "template")).await?;
        let cache = self.path("embedded-users.json");
        let result = users::accounts(&Api::new(self.addr(NODE_1)), Some(&cache), n, WriteBack::Save).await;
        node.stop().await;
        result.map(drop)
    }

    /// The JWT secret the nodes started here sign with.
    fn secret(&self) -> Result<Secret, String> {
        let file = self.secret_file();
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(Secret::new(text.trim_end().as_bytes().to_vec()))
    }

    /// A node on a fresh copy of the embedded template, and `n` of its users with fresh tokens.
    pub async fn embedded_node(&self, name: &str, n: usize) -> Result<(Proc, Vec<Account>), String> {
        let data = self.template_copy(name, n).await?;
        let node = procs::start_node(&self.node_spec(NODE_1, data, name)).await?;
        Ok((node, self.template_accounts(NODE_1, n).await?))
    }

    /// Cluster nodes at the given port offsets on one machine, sharing one
    /// data dir (a fresh copy of the embedded template) and Redis, and `n`
    /// of its users: a cluster whose store keeps up, for measuring the bus.
    pub async fn embedded_cluster(&mut self, offsets: &[u16], n: usize) -> Result<(Vec<Proc>, Vec<Account>), String> {
        let redis = self.redis().await?;
        let data = self.template_copy("cluster-embedded", n).await?;
        let mut nodes = Vec::new();
        for (i, &offset) in offsets.iter().enumerate() {
            let mut spec = self.node_spec(offset, data.clone(), &format!("node-{}", i + 1));
            spec.redis_url = Some(redis.clone());
            nodes.push(procs::start_node(&spec).await?);
        }
        Ok((nodes, self.template_accounts(offsets[0], n).await?))
    }

    /// `run-<name>`, a fresh copy of the embedded template holding `n` users.
    async fn template_copy(&self, name: &str, n: usize) -> Result<PathBuf, String> {
        self.prepare_embedded_users(n).await?;
        let data = self.path(&format!("run-{name}"));
        fresh_dir(&data)?;
        let template = self.path("embedded-template");
        for entry in std::fs::read_dir(&template).map_err(|e| e.to_string())?.flatten() {
            if entry.file_name().to_string_lossy().starts_with(EMBEDDED_FILE) {
                std::fs::copy(entry.path(), data.join(entry.file_name())).map_err(|e| e.to_string())?;
            }
        }
        Ok(data)
    }

    /// `n` of the template's users, their tokens fresh, through the node at `offset`.
    async fn template_accounts(&self, offset: u16, n: usize) -> Result<Vec<Account>, String> {
        let cache = self.path("embedded-users.json");
        users::accounts(&Api::new(self.addr(offset)), Some(&cache), n, WriteBack::Discard).await
    }

    /// The MongoDB URI and Redis URL: given ones, or FerretDB and Redis started here.
    pub async fn services(&mut self) -> Result<(String, String), String> {
        let uri = match &self.opts.mongodb_uri {
            Some(uri) => uri.clone(),
            None => {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.opts.ferretdb_port));
                if !self.started("ferretdb") {
                    let mut fdb = Command::new(&self.opts.ferretdb_launcher);
                    fdb.arg("--listen").arg(addr.to_string()).arg("--data-dir").arg(self.path("ferretdb"));
                    self.services.push(Proc::spawn("ferretdb", fdb, &self.path("ferretdb.log"))?);
                    procs::wait_for_port(addr, Duration::from_secs(30)).await?;
                }
                format!("mongodb://{addr}/")
            }
        };
        Ok((uri, self.redis().await?))
    }

    /// The Redis URL: the given one, or a Redis started here.
    pub async fn redis(&mut self) -> Result<String, String> {
        if let Some(url) = &self.opts.redis_url {
            return Ok(url.clone());
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.opts.redis_port));
        if !self.started("redis") {
            let mut redis = Command::new(&self.opts.redis_server);
            redis
                .args(["--bind", "127.0.0.1", "--port", &self.opts.redis_port.to_string()])
                .args(["--save", "", "--appendonly", "no"]);
            self.services.push(Proc::spawn("redis", redis, &self.path("redis.log"))?);
            procs::wait_for_port(addr, Duration::from_secs(10)).await?;
        }
        Ok(format!("redis://{addr}/"))
    }

    fn started(&self, service: &str) -> bool {
        self.services.iter().any(|p| p.name == service)
    }

    /// The ports of the MongoDB (FerretDB) and the Redis the cluster scenarios use.
    pub fn service_ports(&self) -> (u16, u16) {
        let port = |url: &Option<String>| url.as_deref()?.trim_end_matches('/').rsplit(':').next()?.parse().ok();
        let mongodb = port(&self.opts.mongodb_uri).unwrap_or(self.opts.ferretdb_port);
        (mongodb, port(&self.opts.redis_url).unwrap_or(self.opts.redis_port))
    }

    /// Cluster nodes on MongoDB and Redis at the given port offsets, and
    /// `n` users (cached in the work dir).
    pub async fn cluster(&mut self, offsets: &[u16], n: usize) -> Result<(Vec<Proc>, Vec<Account>), String> {
        let (uri, redis) = self.services().await?;
        let mut nodes = Vec::new();
        for (i, &offset) in offsets.iter().enumerate() {
            let id = format!("node-{}", i + 1);
            let mut spec = self.node_spec(offset, self.path(&format!("run-cluster-{id}")), &id);
            fresh_dir(&spec.data_dir)?;
            spec.mongodb = Some((uri.clone(), MONGODB_DB.to_owned()));
            spec.redis_url = Some(redis.clone());
            nodes.push(procs::start_node(&spec).await?);
        }
        let cache = self.path("mongodb-users.json");
        let accounts = users::accounts(&Api::new(self.addr(offsets[0])), Some(&cache), n, WriteBack::Save).await?;
        Ok((nodes, accounts))
    }

    pub async fn stop(self) {
        for service in self.services {
            service.stop().await;
        }
    }
}

/// A port nothing listens on now.
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// A random byte from the kernel.
fn rand_byte() -> u8 {
    let mut b = [0u8; 1];
    // SAFETY: getrandom(2) writes at most one byte into `b`.
    unsafe { libc::getrandom(b.as_mut_ptr().cast(), 1, 0) };
    b[0]
}
