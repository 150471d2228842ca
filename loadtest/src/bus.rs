//! Scenario 13, the bus: 1, 2 and 3 nodes on one store and one Redis,
//! groups of 100 laid out three ways: spread (every group's members dealt
//! over every node), local (each group wholly on one node, the groups dealt
//! over the nodes) and all on the first node (the others idle). At one
//! fixed rate it prints each node's CPU per 1,000 of its own deliveries,
//! the bus messages each node received and published (from its `/metrics`),
//! and Redis's CPU.
//!
//! What it shows is whether a node's bus work follows its own members: with
//! the groups all on node 1, nodes 2 and 3 should receive nothing and spend
//! next to nothing. The store is the nodes' shared embedded one (nodes on one
//! machine share a data dir), which keeps up, so that what is measured is
//! the nodes and the bus; or, with `--bus-store mongodb`, FerretDB, whose
//! writes then set the pace and every latency.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use crate::{
    bench::{Bench, ClusterStore, NODE_1, NODE_2, NODE_3},
    fanout::Fleet,
    procs::{self, Usage},
    report::{Percentiles, Row},
    scenarios::{natter_groups, GROUP},
    users::Api,
};

/// Six groups: as many on each node with one, two or three nodes.
const GROUPS: usize = 6;

/// Messages a second into each group (each is 100 deliveries): on FerretDB
/// well under what it stores, on the embedded store enough that a node's
/// deliveries outweigh its idle connections' timers.
fn rate(store: ClusterStore) -> f64 {
    match store {
        ClusterStore::Embedded => 20.0,
        ClusterStore::Mongodb => 4.0,
    }
}

fn store_name(store: ClusterStore) -> &'static str {
    match store {
        ClusterStore::Embedded => "the embedded store in one shared data dir",
        ClusterStore::Mongodb => "MongoDB (FerretDB here)",
    }
}

#[derive(Clone, Copy)]
enum Layout {
    Spread,
    Local,
    OnFirst,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Spread => "spread",
            Layout::Local => "local",
            Layout::OnFirst => "all on node 1",
        }
    }

    /// The node (0-based) of member `i` of group `g` with `nodes` nodes.
    fn node(self, g: usize, i: usize, nodes: usize) -> usize {
        match self {
            Layout::Spread => i % nodes,
            Layout::Local => g % nodes,
            Layout::OnFirst => 0,
        }
    }
}

/// One node's share of a measured step.
struct NodeFigures {
    seats: usize,
    cpu_percent: f64,
    received: f64,
    published: f64,
}

pub async fn s13_bus(bench: &mut Bench) -> Result<Row, String> {
    let secs = bench.opts.step_secs.max(20.0);
    let store = bench.opts.bus_store;
    let mut row = Row {
        id: "13".into(),
        scenario: format!(
            "the bus: 1–3 nodes ({}, one Redis), {GROUPS} groups of {GROUP} at {} msg/s each",
            store_name(store),
            rate(store)
        ),
        target: "a node's bus work follows its own members".into(),
        ..Row::default()
    };
    let runs: [(usize, Layout); 7] = [
        (1, Layout::Local),
        (2, Layout::Spread),
        (2, Layout::Local),
        (2, Layout::OnFirst),
        (3, Layout::Spread),
        (3, Layout::Local),
        (3, Layout::OnFirst),
    ];
    let mut notes = Vec::new();
    let mut ok = true;
    let wanted = bench.opts.bus_nodes.clone();
    for (nodes, layout) in runs.into_iter().filter(|(nodes, _)| wanted.contains(nodes)) {
        let line = measure(bench, nodes, layout, secs, &mut row).await?;
        eprintln!("  [s13] {line}");
        ok &= row.lost == Some(0) && row.duplicated == Some(0);
        notes.push(line);
    }
    row.figure = "see notes: per node CPU per 1,000 own deliveries and bus messages received".into();
    row.notes = notes.join("; ");
    row.pass = Some(ok);
    Ok(row)
}

/// Runs one layout for one step; its line, and the row's delivery columns from it.
async fn measure(bench: &mut Bench, nodes: usize, layout: Layout, secs: f64, row: &mut Row) -> Result<String, String> {
    let offsets = &[NODE_1, NODE_2, NODE_3][..nodes];
    let store = bench.opts.bus_store;
    let (procs, accounts) = match store {
        ClusterStore::Embedded => bench.embedded_cluster(offsets, GROUPS * GROUP).await?,
        ClusterStore::Mongodb => bench.cluster(offsets, GROUPS * GROUP).await?,
    };
    let addrs: Vec<SocketAddr> = offsets.iter().map(|&o| bench.addr(o)).collect();
    let (mongodb_port, redis_port) = bench.service_ports();
    let redis = procs::find("redis-server", &format!(":{redis_port}"));
    let ferretdb = (store == ClusterStore::Mongodb).then(|| procs::find("ferretdb", &format!(":{mongodb_port}"))).flatten();
    let placement = place(procs.iter().map(|p| p.pid).chain(redis).chain(ferretdb).collect());
    let mut fleet = Fleet::new();
    let api = Api::new(addrs[0]);
    let seat = |k: usize| addrs[layout.node(k / GROUP, k % GROUP, nodes)];
    natter_groups(&api, &mut fleet, &accounts, GROUPS, GROUP, seat).await?;
    let mut seats = vec![0usize; nodes];
    (0..GROUPS * GROUP).for_each(|k| seats[layout.node(k / GROUP, k % GROUP, nodes)] += 1);

    let label = format!("s13 {nodes} nodes {}", layout.name());
    let bus_before = scrape_all(&addrs).await?;
    let redis_before = redis.map(Usage::of);
    let cpu_before: Vec<Usage> = procs.iter().map(|p| p.usage()).collect();
    let measured: Vec<&procs::Proc> = procs.iter().collect();
    let step = fleet.step(&label, rate(store), secs, &measured).await;
    let cpu_after: Vec<Usage> = procs.iter().map(|p| p.usage()).collect();
    let redis_cpu = redis.zip(redis_before).map(|(pid, before)| Usage::of(pid).cpu_percent_since(&before));
    let bus_after = scrape_all(&addrs).await?;
    let mut tally = step.tally.clone();
    tally.merge(&fleet.drain(Duration::from_secs(30)).await);
    let check = fleet.check();
    let close_codes = fleet.close_codes_text();
    fleet.close();
    for p in procs {
        p.stop().await;
    }

    let per_node: Vec<NodeFigures> = (0..nodes)
        .map(|n| NodeFigures {
            seats: seats[n],
            cpu_percent: cpu_after[n].cpu_percent_since(&cpu_before[n]),
            received: (bus_after[n].0 - bus_before[n].0) / step.secs,
            published: (bus_after[n].1 - bus_before[n].1) / step.secs,
        })
        .collect();
    let deliveries = step.deliveries_per_sec();
    let total_seats: usize = seats.iter().sum();
    let nodes_text: Vec<String> = per_node
        .iter()
        .enumerate()
        .map(|(n, f)| {
            // Every group gets the same rate, so a node's deliveries are its share of the seats.
            let own = deliveries * f.seats as f64 / total_seats as f64;
            let per_thousand = if own > 0.0 { format!("{:.1}", f.cpu_percent * 10_000.0 / own) } else { "–".into() };
            format!(
                "node {}: {} members, CPU {:.1}% ({per_thousand} ms CPU per 1,000 own deliveries), \
                 bus in {:.0}/s, out {:.0}/s",
                n + 1,
                f.seats,
                f.cpu_percent,
                f.received,
                f.published
            )
        })
        .collect();
    row.deliver_ms = Percentiles::of_us(&tally.deliver);
    row.ack_ms = Percentiles::of_us(&tally.ack);
    row.deliveries_per_sec = Some(deliveries);
    row.acks_per_sec = Some(step.acks_per_sec());
    row.lost = Some(row.lost.unwrap_or(0) + check.lost);
    row.duplicated = Some(row.duplicated.unwrap_or(0) + check.duplicated);
    row.errors.extend(tally.errors.clone());
    Ok(format!(
        "{nodes} node(s), {}: {deliveries:.0} deliveries/s, p99 {:.0} ms ({}), {}; Redis CPU {}; \
         load generator CPU {:.0}%; lost {} ({} by closed readers), dup {}, readers closed {} ({}); {placement}",
        layout.name(),
        step.p99_ms(),
        store_name(store),
        nodes_text.join(", "),
        redis_cpu.map_or("not found".into(), |c| format!("{c:.1}%")),
        step.tool_cpu_percent,
        check.lost,
        check.lost_by_closed,
        check.duplicated,
        check.closed,
        close_codes,
    ))
}

/// The nodes, Redis and FerretDB (if it is the store) on the first allowed
/// CPU, this tool on the second; says where they went.
fn place(servers: Vec<u32>) -> String {
    let pinned = |server, tool| {
        servers.iter().all(|&pid| procs::pin(pid, server)) && procs::pin(std::process::id(), tool)
    };
    match procs::allowed_cpus()[..] {
        [server, tool, ..] if pinned(server, tool) => {
            format!("nodes, Redis and any FerretDB on CPU {server}, load generator on CPU {tool}")
        }
        _ => "not pinned: nodes and load generator share the CPUs".into(),
    }
}

/// Each node's bus messages received and published so far.
async fn scrape_all(addrs: &[SocketAddr]) -> Result<Vec<(f64, f64)>, String> {
    let mut out = Vec::new();
    for addr in addrs {
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("{addr}/metrics: {e}"))?
            .text()
            .await
            .map_err(|e| format!("{addr}/metrics: {e}"))?;
        let sums = counters(&text);
        let get = |name: &str| sums.get(name).copied().unwrap_or(0.0);
        out.push((get("natter_bus_received_total"), get("natter_bus_published_total")));
    }
    Ok(out)
}

/// Each counter of a Prometheus text page, summed over its labels.
fn counters(text: &str) -> BTreeMap<&str, f64> {
    let mut sums = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name_labels, value)) = line.rsplit_once(' ') else { continue };
        let name = name_labels.split('{').next().unwrap_or(name_labels);
        if let Ok(v) = value.parse::<f64>() {
            *sums.entry(name).or_insert(0.0) += v;
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_over_labels() {
        let page = "# TYPE natter_bus_received_total counter\n\
                    natter_bus_received_total{node=\"a\"} 5\n\
                    natter_bus_received_total{node=\"b\"} 2\n\
                    natter_ws_connections 3\n";
        let sums = counters(page);
        assert_eq!(sums["natter_bus_received_total"], 7.0);
        assert_eq!(sums["natter_ws_connections"], 3.0);
    }

    #[test]
    fn layouts_place_members() {
        assert_eq!((0..4).map(|i| Layout::Spread.node(0, i, 2)).collect::<Vec<_>>(), [0, 1, 0, 1]);
        assert_eq!((0..4).map(|g| Layout::Local.node(g, 7, 3)).collect::<Vec<_>>(), [0, 1, 2, 0]);
        assert_eq!(Layout::OnFirst.node(5, 99, 3), 0);
    }
}
