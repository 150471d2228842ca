//! The eight scenarios of the benchmark and the CI smoke run; each returns
//! its summary row.

use std::time::Duration;

use wire::model::ConversationId;

use crate::{
    baseline,
    bench::{Bench, BASELINE, NODE_1, NODE_2, NODE_3},
    fanout::{Fleet, Seat, Step, MAX_SENDER_RATE},
    idle,
    ledger::Tally,
    page, persist,
    procs::{self, Proc},
    report::{Percentiles, Row},
    users::{Account, Api},
};

/// Members of each group in scenarios 2, 3, 5 and 12.
pub const GROUP: usize = 100;
pub const GROUPS: usize = 10;
/// Per-group send rates scenarios 3, 5 and 12 step through.
pub const GROUP_RATES: [f64; 10] = [25.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 600.0, 800.0, 1000.0];
/// Per-group rates of scenario 5: MongoDB (FerretDB here) stores far fewer messages a second.
const CLUSTER_RATES: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0];
/// The one sender's rates in scenario 4.
const BIG_GROUP: usize = 2000;
const BIG_GROUP_RATES: [f64; 9] = [5.0, 10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0, 160.0];
/// Past this p99 send → deliver, a fan-out step no longer counts.
pub const FANOUT_P99_MS: f64 = 100.0;
/// Scenario 3 passes when Natter holds this share of the bare server's
/// deliveries/s (issue 24).
const FANOUT_SHARE: f64 = 0.7;
/// Files a process needs besides scenario 1's sockets.
const FILES_SPARE: u64 = 500;

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// `members × groups` seats over `accounts`, every member sending; `node`
/// picks each seat's server.
pub async fn natter_groups(
    api: &Api,
    fleet: &mut Fleet,
    accounts: &[Account],
    groups: usize,
    members: usize,
    node: impl Fn(usize) -> std::net::SocketAddr,
) -> Result<(), String> {
    for g in 0..groups {
        let people = &accounts[g * members..(g + 1) * members];
        let conversation = api.group(&format!("load group {g}"), people).await?;
        let seats = people
            .iter()
            .enumerate()
            .map(|(i, a)| Seat { addr: node(g * members + i), token: Some(a.token.clone()), sends: true })
            .collect();
        fleet.add_group(conversation, seats).await?;
    }
    Ok(())
}

/// The same shape on the baseline server: no users, synthetic conversations.
async fn baseline_groups(fleet: &mut Fleet, addr: std::net::SocketAddr, groups: usize, members: usize) -> Result<(), String> {
    for g in 0..groups {
        let seats = (0..members).map(|_| Seat { addr, token: None, sends: true }).collect();
        fleet.add_group(ConversationId(format!("baseline-{g}")), seats).await?;
    }
    Ok(())
}

/// Fills a row's delivery columns from a measured tally and the final check.
fn fill_row(row: &mut Row, tally: &Tally, fleet: &Fleet, secs: f64) {
    let check = fleet.check();
    row.deliver_ms = Percentiles::of_us(&tally.deliver);
    row.ack_ms = Percentiles::of_us(&tally.ack);
    row.acks_per_sec = Some(tally.acks as f64 / secs);
    row.deliveries_per_sec = Some(tally.deliveries as f64 / secs);
    row.lost = Some(check.lost);
    row.duplicated = Some(check.duplicated);
    row.errors = tally.errors.clone();
    if check.misnumbered > 0 {
        row.errors.insert("misnumbered_acks".into(), check.misnumbered);
    }
    for (code, n) in fleet.close_codes() {
        row.errors.insert(format!("closed_by_server_{code}"), n);
    }
}

/// Steps through `rates` until p99 send → deliver passes the limit or a
/// message goes missing; the best step that stayed under the limit, and
/// every step's tally merged.
pub async fn rising(label: &str, fleet: &Fleet, rates: &[f64], secs: f64, servers: &[&Proc]) -> (Option<Step>, Tally) {
    let mut best: Option<Step> = None;
    let mut all = Tally::default();
    for &rate in rates {
        let step = fleet.step(label, rate, secs, servers).await;
        all.merge(&step.tally);
        all.merge(&fleet.drain(Duration::from_secs(10)).await);
        let check = fleet.check();
        eprintln!(
            "  [{label}] rate {rate}/s per group: {:.0} deliveries/s, p99 {:.1} ms, server CPU {:.0}%, {}, lost {}, dup {}",
            step.deliveries_per_sec(),
            step.p99_ms(),
            step.server_cpu_percent,
            step.tool_cpu(),
            check.lost,
            check.duplicated
        );
        let within = step.p99_ms() <= FANOUT_P99_MS && check.lost == 0 && check.closed == 0 && step.tally.errors.is_empty();
        if !within {
            break;
        }
        if best.as_ref().is_none_or(|b| step.deliveries_per_sec() > b.deliveries_per_sec()) {
            best = Some(step);
        }
    }
    (best, all)
}

pub async fn s1_idle(bench: &mut Bench) -> Result<Row, String> {
    let wanted = bench.opts.idle_connections;
    // Each end of every connection is a file in one process: a node and a
    // worker of this tool each hold at most their open-file limit's worth,
    // so a crowd larger than that is spread over cluster nodes.
    let per_process = bench.open_files.saturating_sub(FILES_SPARE) as usize;
    let offsets = [NODE_1, NODE_2, NODE_3];
    let node_count = wanted.div_ceil(per_process).clamp(1, offsets.len());
    let n = wanted.min(per_process * node_count);
    let mut row = Row {
        id: "1".into(),
        scenario: format!("{wanted} idle connections"),
        target: format!("{wanted} held, ≤ 12 KB each"),
        ..Row::default()
    };
    let users = bench.opts.idle_users;
    let (nodes, accounts) = if node_count == 1 {
        let (node, accounts) = bench.embedded_node("idle", users).await?;
        (vec![node], accounts)
    } else {
        row.notes = format!(
            "{node_count} nodes on MongoDB + Redis: the open-file limit here is {} per process and cannot be raised (no CAP_SYS_RESOURCE)",
            bench.open_files
        );
        bench.cluster(&offsets[..node_count], users).await?
    };
    // Each user a member of a group, as in a deployment: membership is per-user state a node holds.
    let api = Api::new(bench.addr(offsets[0]));
    for (g, members) in accounts.chunks(GROUP).enumerate().filter(|(_, m)| m.len() > 1) {
        api.group(&format!("idle group {g}"), members).await?;
    }
    if n < wanted {
        row.notes = format!("only {n} tried: {}", row.notes);
    }
    let tokens_file = bench.path("idle-tokens.json");
    let tokens: Vec<&str> = accounts.iter().map(|a| a.token.as_str()).collect();
    std::fs::write(&tokens_file, serde_json::to_vec(&tokens).expect("tokens serialize")).map_err(|e| e.to_string())?;
    let shares: Vec<idle::Share> = (0..node_count)
        .map(|i| idle::Share { addr: bench.addr(offsets[i]), count: n / node_count + usize::from(i < n % node_count) })
        .collect();
    let servers: Vec<&Proc> = nodes.iter().collect();
    let held = idle::hold(&servers, &shares, Some(&tokens_file)).await;
    for node in nodes {
        node.stop().await;
    }
    let held = held?;
    // The bare server is one process: it is measured with one process's worth.
    let base = start_baseline(bench).await?;
    let reference = idle::hold(&[&base], &[idle::Share { addr: bench.addr(BASELINE), count: n.min(per_process) }], None).await;
    base.stop().await;
    let reference = reference?;
    let kb = held.bytes_per_connection / 1024.0;
    row.figure = format!(
        "{} of {n} held by {node_count} node(s) ({:.0}/s opened), {users} users in groups of {GROUP}, {kb:.1} KB each; \
         bare websocket server: {:.1} KB each",
        held.opened - held.dropped,
        held.connects_per_sec,
        reference.bytes_per_connection / 1024.0
    );
    row.pass = Some(held.opened - held.dropped == wanted && kb <= 12.0);
    row.server_rss_mb = Some(mb(held.rss_after));
    if held.failed > 0 {
        row.errors.insert("connect_failed".into(), held.failed as u64);
        row.notes = format!("{} {}", row.notes, held.first_error.unwrap_or_default());
    }
    if held.dropped > 0 {
        row.errors.insert("closed_by_server".into(), held.dropped as u64);
    }
    Ok(row)
}

pub async fn s2_latency(bench: &Bench) -> Result<Row, String> {
    let rate = 50.0;
    let mut row = Row {
        id: "2".into(),
        scenario: format!("{} users, {GROUPS} groups of {GROUP}, {rate} msg/s each", GROUPS * GROUP),
        target: "p99 send→deliver ≤ 25 ms".into(),
        ..Row::default()
    };
    let (node, accounts) = bench.embedded_node("latency", GROUPS * GROUP).await?;
    let api = Api::new(bench.addr(NODE_1));
    let mut fleet = Fleet::with_changes(bench.opts.changes_percent);
    let addr = bench.addr(NODE_1);
    natter_groups(&api, &mut fleet, &accounts, GROUPS, GROUP, |_| addr).await?;
    let step = fleet.step("s2", rate, bench.opts.latency_secs, &[&node]).await;
    let mut tally = step.tally.clone();
    tally.merge(&fleet.drain(Duration::from_secs(15)).await);
    fill_row(&mut row, &tally, &fleet, step.secs);
    row.server_cpu_percent = Some(step.server_cpu_percent);
    row.server_rss_mb = Some(mb(step.server_rss_bytes));
    row.notes = step.tool_cpu();
    let p99 = row.deliver_ms.map(|p| p.p99).unwrap_or(f64::INFINITY);
    row.figure = format!("p99 send→deliver {p99:.1} ms over {} messages", step.sent);
    row.pass = Some(p99 <= 25.0 && row.delivery_ok() && step.sent > 0);
    fleet.close();
    node.stop().await;
    Ok(row)
}

/// Starts the bare broadcast server (this tool's `baseline-server`) and waits until it listens.
async fn start_baseline(bench: &Bench) -> Result<Proc, String> {
    let mut command = tokio::process::Command::new(std::env::current_exe().expect("own path"));
    command.arg("baseline-server").arg("--listen").arg(bench.addr(BASELINE).to_string());
    let base = Proc::spawn("baseline", command, &bench.path("baseline.log"))?;
    procs::wait_for_port(bench.addr(BASELINE), Duration::from_secs(10)).await?;
    Ok(base)
}

/// Scenario 3's reference: the bare broadcast server, same groups, same rates.
async fn baseline_fanout(bench: &Bench) -> Result<Option<Step>, String> {
    let base = start_baseline(bench).await?;
    let mut fleet = Fleet::with_changes(bench.opts.changes_percent);
    baseline_groups(&mut fleet, bench.addr(BASELINE), GROUPS, GROUP).await?;
    let (best, _) = rising("s3 baseline", &fleet, &GROUP_RATES, bench.opts.step_secs, &[&base]).await;
    fleet.close();
    base.stop().await;
    Ok(best)
}

pub async fn s3_fanout(bench: &Bench) -> Result<Row, String> {
    let mut row = Row {
        id: "3".into(),
        scenario: format!("fan-out, one node, {GROUPS} groups of {GROUP}, rising rate"),
        target: format!("≥ {:.0}% of the bare server's deliveries/s at p99 ≤ {FANOUT_P99_MS} ms", FANOUT_SHARE * 100.0),
        ..Row::default()
    };
    let (node, accounts) = bench.embedded_node("fanout", GROUPS * GROUP).await?;
    let api = Api::new(bench.addr(NODE_1));
    let mut fleet = Fleet::with_changes(bench.opts.changes_percent);
    let addr = bench.addr(NODE_1);
    natter_groups(&api, &mut fleet, &accounts, GROUPS, GROUP, |_| addr).await?;
    let (best, all) = rising("s3 natter", &fleet, &GROUP_RATES, bench.opts.step_secs, &[&node]).await;
    fleet_row(&mut row, &all, &fleet, best.as_ref());
    fleet.close();
    node.stop().await;
    let reference = baseline_fanout(bench).await?;
    let ours = best.as_ref().map(Step::deliveries_per_sec).unwrap_or(0.0);
    let theirs = reference.as_ref().map(Step::deliveries_per_sec).unwrap_or(0.0);
    let ratio = if theirs > 0.0 { ours / theirs } else { 0.0 };
    row.figure = format!("Natter {ours:.0} deliveries/s; bare server {theirs:.0}/s; ratio {:.0}%", ratio * 100.0);
    row.notes = format!("{}; {}", row.notes, procs::placement());
    row.pass = Some(ratio >= FANOUT_SHARE && row.delivery_ok());
    Ok(row)
}

/// A rising-rate row: the best step's latencies and rates, the run's errors
/// and the final exactly-once check.
fn fleet_row(row: &mut Row, all: &Tally, fleet: &Fleet, best: Option<&Step>) {
    fill_row(row, all, fleet, 1.0);
    match best {
        Some(step) => {
            row.deliver_ms = Percentiles::of_us(&step.tally.deliver);
            row.ack_ms = Percentiles::of_us(&step.tally.ack);
            row.acks_per_sec = Some(step.acks_per_sec());
            row.deliveries_per_sec = Some(step.deliveries_per_sec());
            row.server_cpu_percent = Some(step.server_cpu_percent);
            row.server_rss_mb = Some(mb(step.server_rss_bytes));
            row.notes = format!("best step: {} msg/s per group; {}", step.rate_per_group, step.tool_cpu());
        }
        None => {
            row.acks_per_sec = None;
            row.deliveries_per_sec = None;
            row.notes = "even the lowest rate passed the latency limit".into();
        }
    }
}

pub async fn s4_big_group(bench: &Bench) -> Result<Row, String> {
    let mut row = Row {
        id: "4".into(),
        scenario: format!("one group of {BIG_GROUP}, one sender, rising rate"),
        target: format!("deliveries/s at p99 ≤ {FANOUT_P99_MS} ms"),
        ..Row::default()
    };
    let (node, accounts) = bench.embedded_node("big", BIG_GROUP).await?;
    let api = Api::new(bench.addr(NODE_1));
    let conversation = api.group("load big group", &accounts).await?;
    // The one sender uses several connections: the server allows each ten sends a second.
    let sender_connections = (BIG_GROUP_RATES[BIG_GROUP_RATES.len() - 1] / MAX_SENDER_RATE).ceil() as usize;
    let addr = bench.addr(NODE_1);
    let mut seats: Vec<Seat> =
        (0..sender_connections).map(|_| Seat { addr, token: Some(accounts[0].token.clone()), sends: true }).collect();
    seats.extend(accounts[1..].iter().map(|a| Seat { addr, token: Some(a.token.clone()), sends: false }));
    let mut fleet = Fleet::with_changes(bench.opts.changes_percent);
    fleet.add_group(conversation, seats).await?;
    let (best, all) = rising("s4", &fleet, &BIG_GROUP_RATES, bench.opts.step_secs, &[&node]).await;
    fleet_row(&mut row, &all, &fleet, best.as_ref());
    let ours = best.as_ref().map(Step::deliveries_per_sec).unwrap_or(0.0);
    row.figure = format!("{ours:.0} deliveries/s ({} connections)", fleet.clients());
    row.pass = Some(ours > 0.0 && row.delivery_ok());
    fleet.close();
    node.stop().await;
    Ok(row)
}

pub async fn s5_cluster(bench: &mut Bench) -> Result<Row, String> {
    let mut row = Row {
        id: "5".into(),
        scenario: format!("fan-out, two nodes through Redis (MongoDB), {GROUPS} groups of {GROUP}"),
        target: format!("deliveries/s at p99 ≤ {FANOUT_P99_MS} ms"),
        ..Row::default()
    };
    let (nodes, accounts) = bench.cluster(&[NODE_1, NODE_2], GROUPS * GROUP).await?;
    let api = Api::new(bench.addr(NODE_1));
    let mut fleet = Fleet::with_changes(bench.opts.changes_percent);
    let (a, b) = (bench.addr(NODE_1), bench.addr(NODE_2));
    natter_groups(&api, &mut fleet, &accounts, GROUPS, GROUP, |i| if i % 2 == 0 { a } else { b }).await?;
    let servers: Vec<&Proc> = nodes.iter().collect();
    let (best, all) = rising("s5", &fleet, &CLUSTER_RATES, bench.opts.step_secs, &servers).await;
    fleet_row(&mut row, &all, &fleet, best.as_ref());
    let ours = best.as_ref().map(Step::deliveries_per_sec).unwrap_or(0.0);
    row.figure = format!("{ours:.0} deliveries/s over two nodes");
    row.pass = Some(ours > 0.0 && row.delivery_ok());
    fleet.close();
    for node in nodes {
        node.stop().await;
    }
    Ok(row)
}

pub async fn s6_persistence(bench: &mut Bench) -> Result<Row, String> {
    let mut row = Row {
        id: "6".into(),
        scenario: "persistence alone (messages/s)".into(),
        target: "≥ 20,000/s into the embedded store".into(),
        ..Row::default()
    };
    let tag = natter_server::store::new_id().replace('-', "");
    let data = bench.path("run-persist");
    procs::fresh_dir(&data)?;
    let embedded = persist::open(&data, &bench.secret_file(), None).await?;
    let limit = Duration::from_secs(20);
    let e_batched = persist::append_rate(&embedded, &format!("{tag}b"), 128, 200_000, limit).await?;
    let e_single = persist::append_rate(&embedded, &format!("{tag}s"), 1, 20_000, limit).await?;
    drop(embedded);
    let mongo = match bench.services().await {
        Ok((uri, _)) => {
            let store = persist::open(&data, &bench.secret_file(), Some((&uri, "natter_load_persist"))).await?;
            let batched = persist::append_rate(&store, &format!("{tag}b"), 128, 50_000, limit).await?;
            let single = persist::append_rate(&store, &format!("{tag}s"), 1, 5_000, limit).await?;
            format!("; MongoDB (FerretDB): {batched:.0}/s batched, {single:.0}/s one by one")
        }
        Err(e) => format!("; MongoDB not measured: {e}"),
    };
    row.figure = format!("embedded: {e_batched:.0}/s batched (128), {e_single:.0}/s one by one{mongo}");
    row.pass = Some(e_batched >= 20_000.0);
    Ok(row)
}

pub async fn s7_history(bench: &Bench) -> Result<Row, String> {
    let n = bench.opts.history_messages;
    let mut row = Row {
        id: "7".into(),
        scenario: format!("history: a page of 50 in a conversation of {n} messages"),
        target: "p99 ≤ 10 ms".into(),
        ..Row::default()
    };
    let store = persist::open(&bench.path(&format!("history-{n}")), &bench.secret_file(), None).await?;
    let conversation = ConversationId("history".into());
    persist::fill(&store, &conversation, n).await?;
    let mut parts = Vec::new();
    let mut worst: f64 = 0.0;
    for (name, before) in [("start", Some(51)), ("middle", Some(n / 2 + 25)), ("end", None)] {
        let (p50, p99) = persist::page_latency(&store, &conversation, before, 50, 2000).await?;
        worst = worst.max(p99);
        parts.push(format!("{name} {p50:.2}/{p99:.2}"));
    }
    row.figure = format!("p50/p99 ms: {} (embedded store)", parts.join(", "));
    row.pass = Some(worst <= 10.0);
    Ok(row)
}

pub async fn s8_page(bench: &Bench) -> Result<Row, String> {
    let mut row = Row {
        id: "8".into(),
        scenario: "cold page load".into(),
        target: "wasm ≤ 400 KB brotli".into(),
        ..Row::default()
    };
    let wasm = page::wasm_sizes(&bench.opts.site_root)?;
    let (node, accounts) = bench.embedded_node("page", 2).await?;
    let base = format!("http://{}", bench.addr(NODE_1));
    // The heaviest page: a chat open in the list, signed in.
    let chat = Api::new(bench.addr(NODE_1)).group("Cold load", &accounts).await;
    let (script, node_path) = (&bench.opts.page_script, &bench.opts.node_path);
    let home = page::page_times(script, node_path, &format!("{base}/"), 5, None);
    let chat = chat.and_then(|id| page::page_times(script, node_path, &format!("{base}/chats/{id}"), 5, Some(&accounts[0].token)));
    node.stop().await;
    let kb = |bytes: u64| format!("{:.0} KB", bytes as f64 / 1024.0);
    let load = |name: &str, times: &Result<page::PageTimes, String>| match times {
        Ok(t) => format!(
            "{name}: {} of wasm fetched, first paint {:.0} ms, interactive {:.0} ms",
            kb(t.wasm_bytes),
            t.first_paint_ms,
            t.interactive_ms
        ),
        Err(e) => format!("{name} not measured: {e}"),
    };
    row.figure = format!(
        "{}; {} (medians of 5; main wasm {} raw, {} brotli)",
        load("a chat", &chat),
        load("the home page", &home),
        kb(wasm.raw),
        kb(wasm.brotli)
    );
    // The target holds when every page's cold load fetches at most 400 KB:
    // as computed from the build, and as measured over the wire.
    let measured = [&chat, &home].into_iter().filter_map(|t| t.as_ref().ok().map(|t| t.wasm_bytes));
    let heaviest = wasm.pages.iter().map(|page| page.1).chain([wasm.brotli]).chain(measured).max().unwrap_or_default();
    row.pass = Some(heaviest <= 400 * 1024);
    if wasm.pages.is_empty() {
        row.notes = "built without --split: one wasm holds every page".into();
    } else {
        let pages: Vec<String> = wasm.pages.iter().map(|(page, bytes)| format!("{page} {}", kb(*bytes))).collect();
        row.notes = format!(
            "the chat page is in the main module; a cold load of each other page fetches (brotli, main module included): {}",
            pages.join(", ")
        );
    }
    Ok(row)
}

/// The CI smoke run: a handful of users, one group, a few hundred messages,
/// on the embedded store and, when given MongoDB and Redis, on two nodes.
pub async fn smoke(bench: &mut Bench) -> Result<Vec<Row>, String> {
    const USERS: usize = 6;
    const RATE: f64 = 40.0;
    let secs = 5.0;
    let mut rows = Vec::new();
    let (node, accounts) = bench.embedded_node("smoke", USERS).await?;
    let api = Api::new(bench.addr(NODE_1));
    let mut fleet = Fleet::new();
    let addr = bench.addr(NODE_1);
    natter_groups(&api, &mut fleet, &accounts, 1, USERS, |_| addr).await?;
    rows.push(smoke_row("smoke", "embedded store, one node", &fleet, RATE, secs, &[&node]).await);
    fleet.close();
    node.stop().await;
    if bench.opts.mongodb_uri.is_some() && bench.opts.redis_url.is_some() {
        let (nodes, accounts) = bench.cluster(&[NODE_1, NODE_2], USERS).await?;
        let api = Api::new(bench.addr(NODE_1));
        let mut fleet = Fleet::new();
        let (a, b) = (bench.addr(NODE_1), bench.addr(NODE_2));
        natter_groups(&api, &mut fleet, &accounts, 1, USERS, |i| if i % 2 == 0 { a } else { b }).await?;
        let servers: Vec<&Proc> = nodes.iter().collect();
        rows.push(smoke_row("smoke", "MongoDB, two nodes through Redis", &fleet, RATE, secs, &servers).await);
        fleet.close();
        for node in nodes {
            node.stop().await;
        }
    }
    Ok(rows)
}

async fn smoke_row(id: &str, scenario: &str, fleet: &Fleet, rate: f64, secs: f64, servers: &[&Proc]) -> Row {
    let mut row = Row { id: id.into(), scenario: scenario.into(), target: "lost 0, duplicated 0".into(), ..Row::default() };
    let step = fleet.step(id, rate, secs, servers).await;
    let mut tally = step.tally.clone();
    tally.merge(&fleet.drain(Duration::from_secs(15)).await);
    fill_row(&mut row, &tally, fleet, step.secs);
    let acked = fleet.check().acked;
    row.figure = format!("{} sent, {acked} acked", step.sent);
    row.pass = Some(row.delivery_ok() && acked == step.sent && acked > 0);
    row
}

/// Runs the bare broadcast server in this process (the hidden `baseline-server` command).
pub async fn serve_baseline(listen: std::net::SocketAddr) -> Result<(), String> {
    baseline::serve(listen).await
}
