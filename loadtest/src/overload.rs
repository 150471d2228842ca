//! Scenario 12, overload: the fan-out of scenario 3 (groups of 100 on one
//! node, every member sending and reading), first its capacity measured by
//! the rising rate, then 1×, 2× and 4× that rate offered for
//! `--overload-secs` each. Readers that read must not be closed and must
//! lose nothing: the server pushes back on the senders instead (sends held,
//! then refused with `retry` and a `retry_after_ms`, sent again here after
//! it, as the browser does). Each step reports deliveries a second during
//! the step and until everything arrived, p99 send → deliver (from the
//! first send, so a held or refused send counts its whole wait) and p99
//! stored → deliver (how late the readers are, without the senders' wait), the sends
//! pushed back, the readers closed, lost and duplicated (0 each), and this
//! tool's own CPU, flagged past 90%: then it measured itself.

use std::time::{Duration, Instant};

use crate::{
    bench::{Bench, NODE_1},
    fanout::Fleet,
    report::{Percentiles, Row},
    scenarios::{mb, natter_groups, rising, GROUP, GROUPS, GROUP_RATES},
    users::Api,
};

/// The offered rates, as multiples of the measured capacity.
const FACTORS: [f64; 3] = [1.0, 2.0, 4.0];
/// How long a step's deliveries may take to arrive after it.
const DRAIN: Duration = Duration::from_secs(60);

pub async fn s12_overload(bench: &Bench) -> Result<Row, String> {
    let secs = bench.opts.overload_secs;
    let mut row = Row {
        id: "12".into(),
        scenario: format!("overload, one node, {GROUPS} groups of {GROUP}: 1×, 2×, 4× the capacity for {secs} s"),
        target: "no reader closed, lost 0, duplicated 0; senders pushed back".into(),
        ..Row::default()
    };
    let (node, accounts) = bench.embedded_node("overload", GROUPS * GROUP).await?;
    let api = Api::new(bench.addr(NODE_1));
    let mut fleet = Fleet::new();
    let addr = bench.addr(NODE_1);
    natter_groups(&api, &mut fleet, &accounts, GROUPS, GROUP, |_| addr).await?;
    let (best, _) = rising("s12 capacity", &fleet, &GROUP_RATES, bench.opts.step_secs, &[&node]).await;
    let Some(capacity) = best else {
        fleet.close();
        node.stop().await;
        return Err("even the lowest rate passed the latency limit".into());
    };
    let mut notes = vec![format!(
        "capacity {} msg/s per group, {:.0} deliveries/s",
        capacity.rate_per_group,
        capacity.deliveries_per_sec()
    )];
    let mut closed_before = fleet.check().closed;
    let mut ok = closed_before == 0;
    for factor in FACTORS {
        let before = fleet.check();
        let label = format!("s12 {factor}×");
        let step = fleet.step(&label, capacity.rate_per_group * factor, secs, &[&node]).await;
        let draining = Instant::now();
        let mut tally = step.tally.clone();
        tally.merge(&fleet.drain(DRAIN).await);
        let until_drained = step.secs + draining.elapsed().as_secs_f64();
        let check = fleet.check();
        let closed = check.closed - closed_before;
        closed_before = check.closed;
        let line = format!(
            "{factor}×: offered {:.0} msg/s, {:.0} deliveries/s in the step, \
             {:.0}/s until drained ({until_drained:.0} s), p99 {:.0} ms (stored → deliver {:.0} ms), pushed back {}, \
             readers closed {closed} (all so far, by close code: {}), lost {} ({} by closed readers), dup {}, \
             server CPU {:.0}%, {}",
            capacity.rate_per_group * factor * GROUPS as f64,
            step.deliveries_per_sec(),
            tally.deliveries as f64 / until_drained,
            Percentiles::of_us(&tally.deliver).map_or(0.0, |p| p.p99),
            Percentiles::of_us(&tally.stored).map_or(0.0, |p| p.p99),
            check.pushed_back - before.pushed_back,
            fleet.close_codes_text(),
            check.lost,
            check.lost_by_closed,
            check.duplicated,
            step.server_cpu_percent,
            step.tool_cpu(),
        );
        eprintln!("  [s12] {line}");
        notes.push(line);
        ok &= closed == 0 && check.lost == 0 && check.duplicated == 0;
        if factor == *FACTORS.last().expect("factors") {
            row.deliver_ms = Percentiles::of_us(&tally.deliver);
            row.ack_ms = Percentiles::of_us(&tally.ack);
            row.deliveries_per_sec = Some(tally.deliveries as f64 / until_drained);
            row.acks_per_sec = Some(tally.acks as f64 / until_drained);
            row.errors = tally.errors.clone();
            row.lost = Some(check.lost);
            row.duplicated = Some(check.duplicated);
            row.server_cpu_percent = Some(step.server_cpu_percent);
            row.server_rss_mb = Some(mb(step.server_rss_bytes));
            row.figure = format!(
                "at 4×: {:.0} deliveries/s until drained, p99 stored → deliver {:.0} ms, {} sends pushed back, \
                 {closed} readers closed",
                tally.deliveries as f64 / until_drained,
                Percentiles::of_us(&tally.stored).map_or(0.0, |p| p.p99),
                check.pushed_back - before.pushed_back
            );
        }
    }
    fleet.close();
    node.stop().await;
    row.pass = Some(ok);
    row.notes = notes.join("; ");
    Ok(row)
}
