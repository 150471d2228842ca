//! `natter-loadtest slow-loris`: thousands of connections that each send a
//! request head a byte every few seconds and never finish it, from many
//! loopback addresses (127.2.0.1 and on, at most `--per-source` each, under
//! the server's default 256 per address), against a fresh node; each one the
//! server closes (its header timeout, 10 s by default) is opened again, so
//! that about as many are held all the time. Meanwhile a real user signs in
//! (from 127.0.0.250, a fresh account each time: sign-ins are limited per
//! address and per account), opens the websocket and sends messages one
//! after another, each waiting for its ack. Prints the sign-in and
//! send→ack times, how many connections were held and closed, the server's
//! RSS and CPU and this tool's CPU. See docs/PERFORMANCE.md.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed},
        Arc,
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpSocket,
};
use wire::{
    api::{AuthResponse, LoginRequest},
    endpoint,
    model::{ConversationId, MessageKind},
    protocol::{ClientFrame, ServerFrame},
};

use crate::{
    bench::{Bench, NODE_1},
    client, limits, socket,
    procs::{self, status_kb, Proc, Usage},
    report::Percentiles,
    users::{self, Account, Api},
};

/// What `natter-loadtest slow-loris` is asked to do.
#[derive(Clone, Debug)]
pub struct Loris {
    /// Connections held at once.
    pub connections: usize,
    /// Connections per source address.
    pub per_source: usize,
    /// Seconds between two bytes of a connection.
    pub byte_secs: f64,
    /// Seconds over which the connections are first opened.
    pub ramp_secs: f64,
    /// Seconds measured once they are open.
    pub secs: f64,
    /// The real user's sign-ins (each a fresh account), spread over the measurement.
    pub sign_ins: usize,
    /// Messages sent after each sign-in, one after another.
    pub sends: usize,
}

/// The start of every head: a request line and a header, then one byte of
/// another header at a time, never the blank line that ends it.
const HEAD: &[u8] = b"GET /api/me HTTP/1.1\r\nHost: natter\r\n";
const DRIP: &[u8] = b"X-Loris: aaaaaaaaaaaaaaaaaaaa\r\n";
/// The real user's source address, apart from the crowd's.
const REAL_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 250);
/// Sign-ins may be limited to 30 a minute per address.
const SIGN_INS_PER_MINUTE: usize = 30;

#[derive(Default)]
struct Counters {
    held: AtomicUsize,
    opened: AtomicU64,
    /// Closed by the server (end of stream or reset).
    closed: AtomicU64,
    /// Closed by the server before a second had passed (refused by a cap).
    closed_at_once: AtomicU64,
    connect_errors: AtomicU64,
    stop: AtomicBool,
}

/// The i-th source address: 127.2.0.1 and on (skipping .0 and .255).
fn source(i: usize) -> Ipv4Addr {
    let n = i as u32;
    Ipv4Addr::from(0x7F02_0000 + (n / 254) * 256 + n % 254 + 1)
}

/// One connection of the crowd, opened again each time the server closes it.
async fn loris(addr: SocketAddr, from: Ipv4Addr, start_after: Duration, byte_every: Duration, phase: f64, counters: Arc<Counters>) {
    tokio::time::sleep(start_after).await;
    let mut buf = [0u8; 1024];
    while !counters.stop.load(Relaxed) {
        let connected = async {
            let socket = TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
            socket.connect(addr).await
        };
        let mut stream = match tokio::time::timeout(Duration::from_secs(10), connected).await {
            Ok(Ok(stream)) => stream,
            _ => {
                counters.connect_errors.fetch_add(1, Relaxed);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        counters.opened.fetch_add(1, Relaxed);
        counters.held.fetch_add(1, Relaxed);
        let opened = Instant::now();
        let (mut rd, mut wr) = stream.split();
        let mut sent = wr.write_all(HEAD).await.is_ok();
        let mut next = 0;
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + byte_every.mul_f64(phase),
            byte_every,
        );
        while sent && !counters.stop.load(Relaxed) {
            tokio::select! {
                read = rd.read(&mut buf) => match read {
                    // An answer (408?) comes before the close: keep reading.
                    Ok(n) if n > 0 => continue,
                    _ => break,
                },
                _ = tick.tick() => {
                    sent = wr.write_all(&DRIP[next..next + 1]).await.is_ok();
                    next = (next + 1) % (DRIP.len() - 2);
                }
            }
        }
        counters.held.fetch_sub(1, Relaxed);
        if !counters.stop.load(Relaxed) {
            counters.closed.fetch_add(1, Relaxed);
            if opened.elapsed() < Duration::from_secs(1) {
                counters.closed_at_once.fetch_add(1, Relaxed);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The real user's figures.
struct Real {
    sign_in: Histogram<u64>,
    open: Histogram<u64>,
    ack: Histogram<u64>,
    failures: Vec<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// One sign-in from the real user's address, on a connection of its own;
/// the token and how long it took.
async fn sign_in(base: &str, account: &Account) -> Result<(String, Duration), String> {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(REAL_SOURCE))
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let body = LoginRequest { email: account.email.clone(), password: users::PASSWORD.into(), device_id: "real".into() };
    let start = Instant::now();
    let response = client.post(format!("{base}{}", endpoint::AUTH_LOGIN)).json(&body).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    let took = start.elapsed();
    if !status.is_success() {
        return Err(format!("sign-in: {status} {}", String::from_utf8_lossy(&bytes)));
    }
    let auth: AuthResponse = serde_json::from_slice(&bytes).map_err(|e| format!("sign-in: {e}"))?;
    Ok((auth.token, took))
}

/// Sends `n` messages one after another on a fresh websocket, each timed to its ack.
async fn send_some(addr: SocketAddr, token: &str, conversation: &ConversationId, round: usize, n: usize, real: &mut Real) -> Result<(), String> {
    let start = Instant::now();
    let mut ws = socket::open(addr, Some(token), "").await?;
    real.open.record(start.elapsed().as_micros().max(1) as u64).ok();
    for k in 0..n {
        let client_id = format!("real-{round}-{k}");
        let frame = ClientFrame::Send {
            conversation_id: conversation.clone(),
            client_id: client_id.clone(),
            kind: MessageKind::Text,
            content: format!("message {k} of round {round}, through the slow loris"),
            attachment: None,
            target: None,
            reply_to: None,
            mentions: Vec::new(),
        };
        let sent = Instant::now();
        ws.send(&frame).await.map_err(|e| format!("send: {e}"))?;
        let acked = async {
            while let Some(frame) = ws.next().await {
                match frame {
                    ServerFrame::Ack { client_id: id, .. } if id == client_id => return Ok(()),
                    ServerFrame::Error { code, message, client_id: Some(id), .. } if id == client_id => {
                        return Err(format!("{}: {message}", client::code_name(&code)))
                    }
                    _ => {}
                }
            }
            Err("the websocket closed or broke".to_owned())
        };
        match tokio::time::timeout(Duration::from_secs(10), acked).await {
            Ok(Ok(())) => {
                real.ack.record(sent.elapsed().as_micros().max(1) as u64).ok();
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(format!("no ack for {client_id} within 10 s")),
        }
        // About the pace of someone typing fast: not a throughput test.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ws.close().await;
    Ok(())
}

fn ms(p: &Option<Percentiles>) -> serde_json::Value {
    match p {
        Some(p) => json!({ "p50": p.p50, "p90": p.p90, "p99": p.p99, "max": p.max }),
        None => serde_json::Value::Null,
    }
}

fn line(p: &Option<Percentiles>) -> String {
    match p {
        Some(p) => format!("{:.1} / {:.1} / {:.1} ms", p.p50, p.p99, p.max),
        None => "–".into(),
    }
}

pub async fn run(bench: &Bench, spec: &Loris, server_args: &[String]) -> Result<(), String> {
    // The server's own default per address, unless the flags say otherwise:
    // the crowd is spread to stay under it.
    let mut args = server_args.to_vec();
    if !args.iter().any(|a| a.starts_with("--max-connections-per-ip")) {
        args.extend(["--max-connections-per-ip".to_owned(), "256".to_owned()]);
    }
    let mine = limits::raise_open_files(1 << 20);
    let wanted = spec.connections;
    if (mine as usize) < wanted + 500 {
        return Err(format!(
            "this tool may open {mine} files: too few for {wanted} connections and its own (ask for at most {})",
            mine.saturating_sub(500)
        ));
    }
    for warning in limits::check_kernel(wanted as u64) {
        eprintln!("warning: {warning}");
    }
    let sign_ins = spec.sign_ins.max(1);
    if sign_ins as f64 > spec.secs / 60.0 * SIGN_INS_PER_MINUTE as f64 + 1.0 {
        eprintln!("warning: {sign_ins} sign-ins in {} s from one address pass its 30 a minute: expect 429s", spec.secs);
    }
    let node = bench.fresh_node("slow-loris", &args).await?;
    let result = measure(bench, &node, spec, sign_ins, mine).await;
    node.stop().await;
    result
}

async fn measure(bench: &Bench, node: &Proc, spec: &Loris, sign_ins: usize, mine: u64) -> Result<(), String> {
    let addr = bench.addr(NODE_1);
    let base = format!("http://{addr}");
    let server_files = procs::open_file_limit(node.pid).unwrap_or(0);
    eprintln!(
        "open-file limits: this tool {mine}, the server {server_files} (its default --max-connections: {})",
        server_files * 3 / 4
    );
    if (spec.connections as u64) + 100 > server_files * 3 / 4 {
        eprintln!("warning: {} connections pass the server's default --max-connections: it will close some unanswered", spec.connections);
    }
    // One account per sign-in (10 attempts in five minutes each), in one group.
    let api = Api::new(addr);
    let accounts = users::accounts(&api, None, sign_ins.max(2), users::WriteBack::Discard).await?;
    let conversation = api.group("slow loris", &accounts).await?;
    let placement = procs::placement();

    let counters = Arc::new(Counters::default());
    let sources = spec.connections.div_ceil(spec.per_source.max(1));
    let byte_every = Duration::from_secs_f64(spec.byte_secs.max(0.01));
    eprintln!(
        "opening {} slow-loris connections from {sources} addresses ({}–{}) over {} s, a byte every {} s each …",
        spec.connections,
        source(0),
        source(sources - 1),
        spec.ramp_secs,
        spec.byte_secs
    );
    let rss_idle = node.usage().rss_bytes;
    let peak_reset = procs::reset_peak(node.pid);
    let tasks: Vec<_> = (0..spec.connections)
        .map(|i| {
            let start_after = Duration::from_secs_f64(spec.ramp_secs * i as f64 / spec.connections as f64);
            // Each connection drips at a phase of its own, not all at once.
            let phase = (i * 7919 % 1000) as f64 / 1000.0;
            tokio::spawn(loris(addr, source(i / spec.per_source.max(1)), start_after, byte_every, phase, counters.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(spec.ramp_secs + 2.0)).await;
    eprintln!("  {} held after the ramp; measuring for {} s", counters.held.load(Relaxed), spec.secs);

    // The measurement: the crowd's size sampled every 100 ms, the real user meanwhile.
    let closed_before = counters.closed.load(Relaxed);
    let at_once_before = counters.closed_at_once.load(Relaxed);
    let opened_before = counters.opened.load(Relaxed);
    let errors_before = counters.connect_errors.load(Relaxed);
    let server_before = node.usage();
    let tool_before = Usage::of(std::process::id());
    let started = Instant::now();
    let window = Duration::from_secs_f64(spec.secs);
    let sampler = {
        let counters = counters.clone();
        tokio::spawn(async move {
            let (mut min, mut sum, mut n, mut max) = (usize::MAX, 0usize, 0usize, 0usize);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while started.elapsed() < window {
                tick.tick().await;
                let held = counters.held.load(Relaxed);
                min = min.min(held);
                sum += held;
                n += 1;
                max = max.max(held);
            }
            (min, sum / n.max(1), max)
        })
    };
    let mut real = Real { sign_in: histogram(), open: histogram(), ack: histogram(), failures: Vec::new() };
    for (round, account) in accounts.iter().take(sign_ins).enumerate() {
        let due = window.mul_f64(round as f64 / sign_ins as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        match sign_in(&base, account).await {
            Ok((token, took)) => {
                real.sign_in.record(took.as_micros().max(1) as u64).ok();
                if let Err(e) = send_some(addr, &token, &conversation, round, spec.sends, &mut real).await {
                    real.failures.push(e);
                }
            }
            Err(e) => real.failures.push(e),
        }
        eprintln!(
            "  sign-in {}: {} held now, {} closed by the server so far; sign-in p50/p99/max {}, send→ack p50/p99/max {}",
            round + 1,
            counters.held.load(Relaxed),
            counters.closed.load(Relaxed) - closed_before,
            line(&Percentiles::of_us(&real.sign_in)),
            line(&Percentiles::of_us(&real.ack)),
        );
    }
    if let Some(rest) = window.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let (held_min, held_avg, held_max) = sampler.await.map_err(|e| e.to_string())?;
    let elapsed = started.elapsed().as_secs_f64();
    let server_after = node.usage();
    let tool_after = Usage::of(std::process::id());
    let peak = status_kb(node.pid, "VmHWM:") * 1024;
    let server_fds = procs::open_files(node.pid);
    let closed = counters.closed.load(Relaxed) - closed_before;
    let closed_at_once = counters.closed_at_once.load(Relaxed) - at_once_before;
    let opened = counters.opened.load(Relaxed) - opened_before;
    let connect_errors = counters.connect_errors.load(Relaxed) - errors_before;
    counters.stop.store(true, Relaxed);
    for task in tasks {
        task.abort();
    }

    let (sign_in_ms, open_ms, ack_ms) =
        (Percentiles::of_us(&real.sign_in), Percentiles::of_us(&real.open), Percentiles::of_us(&real.ack));
    let server_cpu = server_after.cpu_percent_since(&server_before);
    let tool_cpu = tool_after.cpu_percent_since(&tool_before);
    let tool_cpu_secs = tool_after.cpu.saturating_sub(tool_before.cpu).as_secs_f64();
    let figures = json!({
        "benchmark": "slow-loris",
        "connections": spec.connections,
        "sources": sources,
        "per_source": spec.per_source,
        "byte_secs": spec.byte_secs,
        "seconds": elapsed,
        "held": { "min": held_min, "avg": held_avg, "max": held_max },
        "closed_by_server": closed,
        "closed_within_1s": closed_at_once,
        "reopened": opened,
        "connect_errors": connect_errors,
        "server_open_files_at_end": server_fds,
        "sign_ins": real.sign_in.len(),
        "sign_in_ms": ms(&sign_in_ms),
        "websocket_open_ms": ms(&open_ms),
        "sends_acked": real.ack.len(),
        "send_ack_ms": ms(&ack_ms),
        "failures": real.failures,
        "server_rss_idle_mib": rss_idle as f64 / 1048576.0,
        "server_rss_end_mib": server_after.rss_bytes as f64 / 1048576.0,
        "server_peak_rss_mib": peak as f64 / 1048576.0,
        "peak_since": if peak_reset { "before the crowd" } else { "the server's start" },
        "server_cpu_percent": server_cpu,
        "load_generator_cpu_percent": tool_cpu,
        "load_generator_cpu_seconds": tool_cpu_secs,
        "open_file_limits": { "load_generator": mine, "server": server_files },
        "placement": placement,
    });
    println!("{figures}");
    println!(
        "{} slow-loris connections from {sources} addresses, {elapsed:.0} s: held min {held_min} / avg {held_avg} / max {held_max}, \
         {closed} closed by the server ({closed_at_once} within 1 s of opening), {opened} opened again, {connect_errors} connects failed; \
         a real user meanwhile: {} sign-ins p50/p99/max {}, websocket open {}, {} sends send→ack p50/p99/max {}{}; \
         server RSS {:.0} MiB before the crowd, {:.0} MiB at the end (peak {:.0} MiB), CPU {server_cpu:.0}%; \
         load generator CPU {tool_cpu:.0}% ({tool_cpu_secs:.1} s)",
        spec.connections,
        real.sign_in.len(),
        line(&sign_in_ms),
        line(&open_ms),
        real.ack.len(),
        line(&ack_ms),
        if real.failures.is_empty() { String::new() } else { format!(", {} failures: {}", real.failures.len(), real.failures.join("; ")) },
        rss_idle as f64 / 1048576.0,
        server_after.rss_bytes as f64 / 1048576.0,
        peak as f64 / 1048576.0,
    );
    if real.failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} of the real user's rounds failed", real.failures.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_skip_network_and_broadcast_addresses() {
        assert_eq!(source(0), Ipv4Addr::new(127, 2, 0, 1));
        assert_eq!(source(253), Ipv4Addr::new(127, 2, 0, 254));
        assert_eq!(source(254), Ipv4Addr::new(127, 2, 1, 1));
        assert!((0..2000).all(|i| !matches!(source(i).octets()[3], 0 | 255)));
    }
}
