//! `natter-loadtest sign-in-flood`: what an attacker without an account
//! does, many wrong sign-ins at once from several addresses (each a 19 MiB
//! password hash), against a fresh node; prints the node's peak and
//! settled memory, the answers by status, and how long a real user's
//! sign-in took meanwhile. See docs/PERFORMANCE.md.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use serde_json::json;

use crate::{
    bench::Bench,
    procs::{status_kb, Usage},
};

const PASSWORD: &str = "correct horse";

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

fn client_from(n: u8) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())
}

async fn sign_in(client: &reqwest::Client, url: &str, email: &str, password: &str) -> u16 {
    let body = json!({ "email": email, "password": password, "device_id": "d" });
    client.post(url).json(&body).send().await.map_or(0, |r| r.status().as_u16())
}

/// `attempts` wrong sign-ins at once from `sources` addresses; `server_args` go to the node.
pub async fn flood(bench: &Bench, attempts: usize, sources: u8, server_args: &[String]) -> Result<(), String> {
    let node = bench.fresh_node("sign-in-flood", server_args).await?;
    let base = format!("http://{}", bench.addr(crate::bench::NODE_1));
    let login = format!("{base}{}", wire::endpoint::AUTH_LOGIN);
    let real = client_from(200)?;
    let body = json!({ "email": "real@example.org", "nickname": "Real", "password": PASSWORD, "device_id": "d" });
    let resp = real.post(format!("{base}{}", wire::endpoint::AUTH_REGISTER)).json(&body).send().await;
    if resp.map(|r| r.status().as_u16()).unwrap_or(0) != 201 {
        node.stop().await;
        return Err("cannot sign up the real user".into());
    }
    let before = node.usage().rss_bytes;
    let clients = (0..sources.max(1)).map(|i| client_from(2 + i)).collect::<Result<Vec<_>, _>>()?;
    let wrong = (0..attempts).map(|i| {
        let (client, login) = (&clients[i % clients.len()], &login);
        async move { sign_in(client, login, &format!("nobody{i}@example.org"), "guess guess").await }
    });
    let started = Instant::now();
    let (statuses, real_took) = tokio::join!(join_all(wrong), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        let status = sign_in(&real, &login, "real@example.org", PASSWORD).await;
        (status, start.elapsed())
    });
    let burst = started.elapsed();
    let peak = status_kb(node.pid, "VmHWM:") * 1024;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = Usage::of(node.pid).rss_bytes;
    node.stop().await;
    let mut answers = BTreeMap::new();
    for status in statuses {
        *answers.entry(status).or_insert(0usize) += 1;
    }
    let answers: Vec<String> = answers.iter().map(|(status, n)| format!("{n}× {status}")).collect();
    println!(
        "{attempts} wrong sign-ins from {sources} addresses in {:.1} s: {}; peak RSS {} MiB (before {} MiB, 2 s after {} MiB); \
         a real user's sign-in meanwhile: {} in {} ms",
        burst.as_secs_f64(),
        answers.join(", "),
        mib(peak),
        mib(before),
        mib(after),
        real_took.0,
        real_took.1.as_millis()
    );
    Ok(())
}
