//! Scenario 1: many idle websockets (a few hundred users, many tabs each),
//! and what each costs the server in memory.

use std::{net::SocketAddr, time::Duration};

use futures_util::{stream, StreamExt};

use crate::{
    client::{self, Socket},
    procs::Proc,
};

/// Connections opened at once.
const PARALLEL: usize = 256;

/// What holding the connections cost.
pub struct Held {
    pub opened: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    /// (RSS after − RSS before) / opened.
    pub bytes_per_connection: f64,
    pub rss_after: u64,
    pub connects_per_sec: f64,
    /// Clients that had left by the end (closed by the server or failed).
    pub dropped: usize,
}

/// Opens `n` connections to `addr`, cycling over `tokens` (none for the
/// baseline), holds them for a few seconds and measures `server`.
pub async fn hold(server: &Proc, addr: SocketAddr, tokens: &[Option<String>], n: usize) -> Held {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = server.usage().rss_bytes;
    let start = std::time::Instant::now();
    let results: Vec<Result<Socket, String>> = stream::iter(0..n)
        .map(|i| {
            let token = tokens[i % tokens.len()].clone();
            async move {
                let socket = client::open(addr, token.as_deref(), "?c=idle").await;
                if (i + 1) % 5000 == 0 {
                    eprintln!("  … {} connections", i + 1);
                }
                socket
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let connects_per_sec = n as f64 / start.elapsed().as_secs_f64();
    let mut first_error = None;
    let mut sockets = Vec::with_capacity(n);
    for result in results {
        match result {
            Ok(socket) => sockets.push(socket),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = server.usage().rss_bytes;
    let opened = sockets.len();
    // A socket the server closed has its close frame (or EOF) waiting: poll each once.
    let mut dropped = 0;
    for socket in &mut sockets {
        if let Some(Some(_)) = futures_util::FutureExt::now_or_never(socket.next()) {
            dropped += 1;
        }
    }
    drop(sockets);
    Held {
        opened,
        failed: n - opened,
        first_error,
        bytes_per_connection: rss_after.saturating_sub(before) as f64 / opened.max(1) as f64,
        rss_after,
        connects_per_sec,
        dropped,
    }
}
