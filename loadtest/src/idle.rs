//! Scenario 1: many idle websockets (a few hundred users with many tabs
//! each, or many users with one each), and what each costs the server in
//! memory. Idle means sending nothing: each client reads what comes.
//!
//! Both ends of every connection are open files, and a process may hold
//! only so many (20,000 on the machine the report was made on, with no way
//! to raise it): the crowd is opened by worker processes of this tool
//! (`natter-loadtest hold-idle`), each within the limit, and served by as
//! many cluster nodes as it takes.

use std::{
    net::SocketAddr,
    path::Path,
    process::Stdio,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use futures_util::{stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdout, Command},
};

use crate::{
    socket::{self, Socket},
    procs::Proc,
};

/// Connections a worker opens at once.
const PARALLEL: usize = 256;

/// What holding the connections cost.
pub struct Held {
    pub opened: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    /// (RSS after − RSS before) / opened, summed over the servers.
    pub bytes_per_connection: f64,
    pub rss_after: u64,
    pub connects_per_sec: f64,
    /// Clients that had left by the end (closed by the server or failed).
    pub dropped: usize,
}

/// A share of the crowd: `count` connections to `addr`.
pub struct Share {
    pub addr: SocketAddr,
    pub count: usize,
}

/// What a worker reports once its connections are open.
#[derive(Serialize, Deserialize)]
struct Opened {
    opened: usize,
    failed: usize,
    first_error: Option<String>,
    secs: f64,
}

/// What a worker reports when asked how many of its connections are gone.
#[derive(Serialize, Deserialize)]
struct Dropped {
    dropped: usize,
}

/// Opens the shares' connections, one worker process each, cycling over the
/// tokens in `tokens_file` (none for the baseline); holds them for a few
/// seconds and measures the `servers`.
pub async fn hold(servers: &[&Proc], shares: &[Share], tokens_file: Option<&Path>) -> Result<Held, String> {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before: u64 = servers.iter().map(|s| s.usage().rss_bytes).sum();
    let mut workers = Vec::new();
    for (i, share) in shares.iter().enumerate() {
        workers.push(Worker::spawn(share, i * share.count, tokens_file)?);
    }
    let (mut opened, mut failed, mut first_error, mut secs) = (0, 0, None, 0f64);
    for worker in &mut workers {
        let report: Opened = worker.read().await?;
        opened += report.opened;
        failed += report.failed;
        first_error = first_error.or(report.first_error);
        secs = secs.max(report.secs);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after: u64 = servers.iter().map(|s| s.usage().rss_bytes).sum();
    let mut dropped = 0;
    for worker in &mut workers {
        worker.say("check").await?;
        dropped += worker.read::<Dropped>().await?.dropped;
    }
    for worker in workers {
        worker.finish().await;
    }
    Ok(Held {
        opened,
        failed,
        first_error,
        bytes_per_connection: rss_after.saturating_sub(before) as f64 / opened.max(1) as f64,
        rss_after,
        connects_per_sec: opened as f64 / secs.max(1e-3),
        dropped,
    })
}

/// A `hold-idle` process of this tool, spoken to in JSON lines.
struct Worker {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    fn spawn(share: &Share, first_token: usize, tokens_file: Option<&Path>) -> Result<Worker, String> {
        let exe = std::env::current_exe().map_err(|e| format!("this tool's path: {e}"))?;
        let mut command = Command::new(exe);
        command
            .args(["hold-idle", "--addr", &share.addr.to_string(), "--count", &share.count.to_string()])
            .args(["--first-token", &first_token.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Some(file) = tokens_file {
            command.arg("--tokens-file").arg(file);
        }
        let mut child = command.spawn().map_err(|e| format!("hold-idle worker: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        Ok(Worker { child, lines: BufReader::new(stdout).lines() })
    }

    async fn read<T: for<'de> Deserialize<'de>>(&mut self) -> Result<T, String> {
        match self.lines.next_line().await {
            Ok(Some(line)) => serde_json::from_str(&line).map_err(|e| format!("hold-idle worker said {line:?}: {e}")),
            _ => Err("a hold-idle worker ended early (see its stderr above)".into()),
        }
    }

    async fn say(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        stdin.write_all(format!("{line}\n").as_bytes()).await.map_err(|e| format!("hold-idle worker: {e}"))
    }

    /// Closing its input ends the worker, and with it its connections.
    async fn finish(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
    }
}

/// The worker's side (`natter-loadtest hold-idle`): opens `count`
/// connections to `addr`, reports, reads them, answers "check" with how many
/// the server closed, and holds them until its input ends.
pub async fn worker(addr: SocketAddr, count: usize, tokens: Vec<Option<String>>, first_token: usize) -> Result<(), String> {
    let start = std::time::Instant::now();
    let results: Vec<Result<Socket, String>> = stream::iter(0..count)
        .map(|i| {
            let token = tokens[(first_token + i) % tokens.len()].clone();
            async move {
                let socket = socket::open(addr, token.as_deref(), "?c=idle").await;
                if (i + 1) % 5000 == 0 {
                    eprintln!("  … {} connections to {addr}", i + 1);
                }
                socket
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let secs = start.elapsed().as_secs_f64();
    let mut first_error = None;
    let mut sockets = Vec::with_capacity(count);
    for result in results {
        match result {
            Ok(socket) => sockets.push(socket),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let opened = Opened { opened: sockets.len(), failed: count - sockets.len(), first_error, secs };
    // Each connection reads what comes (its groups' events, pings) as a client does, and counts its close.
    let dropped = Arc::new(AtomicUsize::new(0));
    for socket in sockets {
        tokio::spawn(read_until_closed(socket, dropped.clone()));
    }
    println!("{}", serde_json::to_string(&opened).expect("reports serialize"));
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = input.next_line().await {
        if line == "check" {
            let dropped = dropped.load(Ordering::Relaxed);
            println!("{}", serde_json::to_string(&Dropped { dropped }).expect("reports serialize"));
        }
    }
    Ok(())
}

/// Reads `socket` until the server closes it (or it fails), then counts it in `dropped`.
async fn read_until_closed(mut socket: Socket, dropped: Arc<AtomicUsize>) {
    while socket.next_payload().await.is_ok() {}
    dropped.fetch_add(1, Ordering::Relaxed);
}
