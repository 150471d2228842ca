//! Scenario 9: one live broadcast of about 1.5 Mbit/s (synthetic VP8-sized
//! video at 30 frames a second, and audio) watched by more and more
//! simulated viewers, until the viewers see frames go missing or the delay
//! grow. Publisher and viewers are str0m clients (`natter_server::sfu::probe`)
//! doing their signalling over real websockets, like browsers; each video
//! frame carries its number and send time, so every viewer measures loss and
//! delay itself. The row gives the most viewers served within the limits and
//! the server's CPU per viewer.
//!
//! Scenario 10: the broadcast on one node of two, with half the viewers
//! joining through the other: how long a join takes when its signalling is
//! relayed to the hosting node, against one on the host, and that the
//! media does not pass through the other node.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{atomic::Ordering::Relaxed, Arc},
    time::Duration,
};

use natter_server::sfu::probe::{Probe, ProbeStats, Publish};
use wire::{
    model::ConversationId,
    protocol::{ClientFrame, ServerFrame},
    room::{RoomKind, RoomRole},
};

use crate::{
    bench::{Bench, NODE_1, NODE_2},
    procs::Usage,
    report::Row,
    socket,
    users::Api,
};

/// The broadcast's video bitrate (audio adds about 40 kbit/s).
const VIDEO_BPS: u64 = 1_500_000;
/// Viewer counts stepped through.
const VIEWERS: [usize; 10] = [1, 5, 10, 20, 40, 60, 80, 100, 150, 200];
/// Past these, a step no longer counts as served.
const MAX_LOSS: f64 = 0.01;
const MAX_MEAN_DELAY_MS: f64 = 100.0;
/// Below this share of the frames sent arriving, viewers fall behind. The
/// sender's and receivers' counters are read a moment apart, so frames in
/// flight and queued in the publisher count as not arrived.
const MIN_ARRIVED: f64 = 0.95;
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// One client in the room: its media session, and its websocket (answering
/// the server's offers) alive in a task of its own.
struct Seat {
    probe: Probe,
    signalling: tokio::task::JoinHandle<()>,
}

impl Drop for Seat {
    /// Closes the websocket, which takes the client out of the room.
    fn drop(&mut self) {
        self.signalling.abort();
    }
}

/// Joins the room of `conversation` with `token`, publishing when `video_bps` is given.
async fn seat(
    addr: SocketAddr,
    token: &str,
    conversation: &ConversationId,
    role: RoomRole,
    video_bps: Option<u64>,
) -> Result<Seat, String> {
    let mut ws = socket::open(addr, Some(token), "").await?;
    let (probe, sdp) = Probe::start(LOOPBACK, video_bps.map_or(Publish::Nothing, Publish::Video)).await.map_err(|e| format!("probe: {e}"))?;
    let join = ClientFrame::RoomJoin { conversation_id: conversation.clone(), kind: RoomKind::Live, role, video: true, sdp };
    ws.send(&join).await?;
    loop {
        match ws.next().await {
            Some(ServerFrame::RoomJoined { sdp, .. }) => {
                probe.answer(sdp).await?;
                break;
            }
            Some(ServerFrame::Error { code, message, .. }) => return Err(format!("{code:?}: {message}")),
            Some(_) => continue,
            None => return Err("the websocket closed while joining".into()),
        }
    }
    let answering = probe.clone();
    let signalling = tokio::spawn(async move {
        while let Some(frame) = ws.next().await {
            if let ServerFrame::RoomOffer { conversation_id, kind, sdp } = frame {
                let Ok(sdp) = answering.offer(sdp).await else { return };
                if ws.send(&ClientFrame::RoomAnswer { conversation_id, kind, sdp }).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(Seat { probe, signalling })
}

/// The viewers' counters at one moment, summed.
#[derive(Clone, Copy, Default)]
struct Seen {
    frames: u64,
    missing: u64,
    delay_us: u64,
    bytes: u64,
}

fn seen(viewers: &[Arc<ProbeStats>]) -> Seen {
    viewers.iter().fold(Seen::default(), |s, v| Seen {
        frames: s.frames + v.video_frames.load(Relaxed),
        missing: s.missing + v.frames_missing.load(Relaxed),
        delay_us: s.delay_us + v.delay_us_total.load(Relaxed),
        bytes: s.bytes + v.bytes_received.load(Relaxed),
    })
}

pub async fn s9_live_viewers(bench: &Bench) -> Result<Row, String> {
    let most = *VIEWERS.last().expect("steps");
    let mut row = Row {
        id: "9".into(),
        scenario: "live broadcast, 1.5 Mbit/s, rising viewers".into(),
        target: format!("viewers until loss > {}% or mean delay > {MAX_MEAN_DELAY_MS} ms", MAX_LOSS * 100.0),
        ..Row::default()
    };
    let (node, accounts) = bench.embedded_node("live", most + 1).await?;
    let addr = bench.addr(NODE_1);
    let conversation = Api::new(addr).group("live audience", &accounts).await?;
    let host = seat(addr, &accounts[0].token, &conversation, RoomRole::Broadcaster, Some(VIDEO_BPS)).await?;
    let mut viewers: Vec<Seat> = Vec::new();
    let mut best: Option<(usize, f64)> = None;
    let mut notes = Vec::new();
    let secs = bench.opts.step_secs.max(5.0);
    for &count in &VIEWERS {
        while viewers.len() < count {
            let account = &accounts[viewers.len() + 1];
            viewers.push(seat(addr, &account.token, &conversation, RoomRole::Viewer, None).await?);
        }
        // Every viewer receiving before the step is measured.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while viewers.iter().any(|v| v.probe.stats.video_frames.load(Relaxed) == 0) {
            if tokio::time::Instant::now() > deadline {
                return Err(format!("with {count} viewers, some never received video"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stats: Vec<Arc<ProbeStats>> = viewers.iter().map(|v| v.probe.stats.clone()).collect();
        let (server_before, tool_before, before) = (node.usage(), Usage::of(std::process::id()), seen(&stats));
        let sent_before = host.probe.stats.frames_sent.load(Relaxed);
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        let (server_after, tool_after, after) = (node.usage(), Usage::of(std::process::id()), seen(&stats));
        let sent = host.probe.stats.frames_sent.load(Relaxed) - sent_before;
        let frames = after.frames - before.frames;
        let missing = after.missing - before.missing;
        // Gaps in each viewer's frame numbers; the share of the frames sent
        // that arrived shows a viewer falling behind (or one that stopped).
        let loss = missing as f64 / (frames + missing).max(1) as f64;
        let arrived = frames as f64 / (sent * count as u64).max(1) as f64;
        let delay_ms = (after.delay_us - before.delay_us) as f64 / frames.max(1) as f64 / 1000.0;
        let server_cpu = server_after.cpu_percent_since(&server_before);
        let tool_cpu = tool_after.cpu_percent_since(&tool_before);
        let mbit = (after.bytes - before.bytes) as f64 * 8.0 / secs / 1e6;
        let line = format!(
            "{count} viewers: {mbit:.1} Mbit/s delivered, {:.1}% of the frames sent arrived, loss {:.2}%, mean delay {delay_ms:.1} ms, server CPU {server_cpu:.0}% ({:.2}% per viewer), load generator CPU {tool_cpu:.0}%",
            arrived * 100.0,
            loss * 100.0,
            server_cpu / count as f64
        );
        eprintln!("  [live] {line}");
        notes.push(line);
        row.server_cpu_percent = Some(server_cpu);
        row.server_rss_mb = Some(server_after.rss_bytes as f64 / 1e6);
        if loss > MAX_LOSS || arrived < MIN_ARRIVED || delay_ms > MAX_MEAN_DELAY_MS {
            break;
        }
        best = Some((count, server_cpu / count as f64));
    }
    drop(viewers);
    drop(host);
    node.stop().await;
    row.figure = match best {
        Some((count, per_viewer)) => format!("{count} viewers within limits, server CPU {per_viewer:.2}% of a core per viewer"),
        None => "not even one viewer within limits".into(),
    };
    row.pass = Some(best.is_some());
    row.notes = notes.join("; ");
    Ok(row)
}

/// Viewers joining through each node in scenario 10.
const VIEWERS_PER_NODE: usize = 20;

/// The median and the 95th percentile of durations, in ms.
fn median_p95(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

pub async fn s10_cluster_viewers(bench: &mut Bench) -> Result<Row, String> {
    let mut row = Row {
        id: "10".into(),
        scenario: format!("live broadcast on node 1 of two, {VIEWERS_PER_NODE} viewers through each node"),
        target: "a join through the other node within 100 ms of one on the host".into(),
        ..Row::default()
    };
    let (nodes, accounts) = bench.cluster(&[NODE_1, NODE_2], 2 * VIEWERS_PER_NODE + 1).await?;
    let (host_addr, other_addr) = (bench.addr(NODE_1), bench.addr(NODE_2));
    let conversation = Api::new(host_addr).group("cluster audience", &accounts[..2 * VIEWERS_PER_NODE + 1]).await?;
    // Both nodes subscribed to Redis before the first room.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let host = seat(host_addr, &accounts[0].token, &conversation, RoomRole::Broadcaster, Some(VIDEO_BPS)).await?;
    let mut viewers = Vec::new();
    let (mut on_host, mut through_other, mut first_frame) = (Vec::new(), Vec::new(), Vec::new());
    for (i, account) in accounts[1..=2 * VIEWERS_PER_NODE].iter().enumerate() {
        let (addr, times) = if i % 2 == 0 { (host_addr, &mut on_host) } else { (other_addr, &mut through_other) };
        let started = tokio::time::Instant::now();
        let viewer = seat(addr, &account.token, &conversation, RoomRole::Viewer, None).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        while viewer.probe.stats.video_frames.load(Relaxed) == 0 {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!("viewer {i} never received video"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        first_frame.push(started.elapsed().as_secs_f64() * 1000.0);
        viewers.push(viewer);
    }
    let stats: Vec<Arc<ProbeStats>> = viewers.iter().map(|v| v.probe.stats.clone()).collect();
    let secs = bench.opts.step_secs.max(5.0);
    let (host_before, other_before, before) = (nodes[0].usage(), nodes[1].usage(), seen(&stats));
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let (host_after, other_after, after) = (nodes[0].usage(), nodes[1].usage(), seen(&stats));
    let frames = after.frames - before.frames;
    let missing = after.missing - before.missing;
    let loss = missing as f64 / (frames + missing).max(1) as f64;
    let delay_ms = (after.delay_us - before.delay_us) as f64 / frames.max(1) as f64 / 1000.0;
    let mbit = (after.bytes - before.bytes) as f64 * 8.0 / secs / 1e6;
    let (host_cpu, other_cpu) = (host_after.cpu_percent_since(&host_before), other_after.cpu_percent_since(&other_before));
    drop(viewers);
    drop(host);
    for node in nodes {
        node.stop().await;
    }
    let (local, local95) = median_p95(on_host);
    let (remote, remote95) = median_p95(through_other);
    let (first, first95) = median_p95(first_frame);
    row.figure = format!(
        "join through the other node {remote:.0} ms (p95 {remote95:.0}), on the host {local:.0} ms (p95 {local95:.0})"
    );
    row.pass = Some(remote <= local + 100.0);
    row.server_cpu_percent = Some(host_cpu + other_cpu);
    row.notes = format!(
        "first video frame {first:.0} ms after joining (p95 {first95:.0}); {} viewers: {mbit:.1} Mbit/s delivered, loss {:.2}%, mean delay {delay_ms:.1} ms; CPU: hosting node {host_cpu:.0}%, other node {other_cpu:.0}%",
        2 * VIEWERS_PER_NODE,
        loss * 100.0
    );
    eprintln!("  [cluster live] {} ; {}", row.figure, row.notes);
    Ok(row)
}
