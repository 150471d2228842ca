//! Natter's load generator and benchmark. One command runs every scenario
//! (`natter-loadtest`), or some (`--only 2,3`), or the CI smoke run
//! (`--smoke`), and prints one Markdown table row per scenario; `--json`
//! also writes the rows as JSON. See docs/PERFORMANCE.md.

mod baseline;
mod bench;
mod bus;
mod client;
mod fanout;
mod idle;
mod imageflood;
mod ledger;
mod limits;
mod live;
mod loris;
mod overload;
mod page;
mod persist;
mod procs;
mod report;
mod scenarios;
mod signin;
mod socket;
mod users;

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{
    bench::{Bench, ClusterStore, Options},
    report::{Row, HEADER},
};

#[derive(Parser, Debug)]
#[command(name = "natter-loadtest", about = "Measures Natter: connections, fan-out, latency, persistence, page load")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Scenarios to run, e.g. `--only 2,3`; all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<u8>,
    /// The CI smoke run: a few users, one group, a few hundred messages; fails unless lost = duplicated = 0.
    #[arg(long)]
    smoke: bool,
    /// The natter-server binary to measure (build it with `cargo build --release -p natter-server`).
    #[arg(long, env = "NATTER_SERVER_BIN", default_value = "target/release/natter-server")]
    server_bin: PathBuf,
    /// Where cached users, the JWT secret, the history database and logs are kept.
    #[arg(long, env = "NATTER_LOAD_DIR", default_value = "/tmp/natter-load")]
    work_dir: PathBuf,
    #[arg(long, env = "NATTER_FERRETDB_LAUNCHER", default_value = "~/.cache/natter/bin/ferretdb-launcher")]
    ferretdb_launcher: String,
    #[arg(long, env = "NATTER_REDIS_SERVER", default_value = "redis-server")]
    redis_server: PathBuf,
    /// Use this MongoDB instead of starting FerretDB (with --redis-url).
    #[arg(long, env = "NATTER_TEST_MONGODB_URI")]
    mongodb_uri: Option<String>,
    /// Use this Redis instead of starting one (with --mongodb-uri).
    #[arg(long, env = "NATTER_TEST_REDIS_URL")]
    redis_url: Option<String>,
    /// First of the three HTTP ports the servers under test listen on; 0 picks free ones.
    #[arg(long, default_value_t = 3931)]
    port: u16,
    #[arg(long, default_value_t = 27933)]
    ferretdb_port: u16,
    #[arg(long, default_value_t = 26333)]
    redis_port: u16,
    /// The built web app, for scenario 8 (`cargo leptos build --release`).
    #[arg(long, default_value = "target/site")]
    site_root: PathBuf,
    /// The Playwright script of scenario 8, and where Playwright is installed.
    #[arg(long, default_value = "loadtest/page-load.cjs")]
    page_script: PathBuf,
    #[arg(long, default_value = "end2end/node_modules")]
    node_path: PathBuf,
    /// Scenario 1's connections.
    #[arg(long, default_value_t = 50_000)]
    idle_connections: usize,
    /// Scenario 1's users, each in a group of 100, their connections dealt
    /// over them: a few hundred with many tabs each, or one connection each.
    #[arg(long, default_value_t = 300)]
    idle_users: usize,
    /// Scenario 7's conversation length.
    #[arg(long, default_value_t = 1_000_000)]
    history_messages: u64,
    /// Seconds of each step of a rising rate.
    #[arg(long, default_value_t = 5.0)]
    step_secs: f64,
    /// UDP port of the media relay of the servers under test (scenario 9;
    /// the second node of scenario 10 uses the next one).
    #[arg(long, default_value_t = 3960)]
    media_udp_port: u16,
    /// Seconds of scenario 2.
    #[arg(long, default_value_t = 20.0)]
    latency_secs: f64,
    /// Seconds of each step (1×, 2×, 4× the capacity) of scenario 12.
    #[arg(long, default_value_t = 30.0)]
    overload_secs: f64,
    /// Scenario 13's numbers of nodes to run, e.g. `3` or `1,2`: a run of
    /// all of them grows one database that FerretDB scans ever slower.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 3],
          value_parser = clap::value_parser!(u64).range(1..=3))]
    bus_nodes: Vec<u64>,
    /// Scenario 13's store: the nodes share one data dir's embedded store,
    /// which keeps up (so the figures are the bus's), or MongoDB (FerretDB
    /// here, which is then most of what is measured).
    #[arg(long, value_enum, default_value_t = ClusterStore::Embedded)]
    bus_store: ClusterStore,
    /// Percentage of the sends of scenarios 2–5 that are changes (edits and
    /// 👍 given or taken back, each to the sender's own newest message)
    /// instead of messages; the reference server gets the same frames.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100))]
    changes_percent: u64,
    /// Also write the rows to this file as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The bare websocket broadcast server the fan-out is compared with.
    #[command(hide = true)]
    BaselineServer {
        #[arg(long)]
        listen: SocketAddr,
    },
    /// Opens and holds a share of scenario 1's idle connections, in a process
    /// of its own (each process can open only so many files).
    #[command(hide = true)]
    HoldIdle {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        count: usize,
        /// A JSON array of tokens to cycle over; none for the baseline server.
        #[arg(long)]
        tokens_file: Option<PathBuf>,
        /// Where in the tokens this worker starts.
        #[arg(long, default_value_t = 0)]
        first_token: usize,
    },
    /// Many wrong sign-ins at once from several addresses against a fresh
    /// node: prints its peak RSS, the answers, a real sign-in's time.
    SignInFlood {
        #[arg(long, default_value_t = 500)]
        attempts: usize,
        /// Addresses they come from: 127.0.0.2 and on.
        #[arg(long, default_value_t = 4)]
        sources: u8,
        /// Flags for the node, after `--`.
        #[arg(last = true)]
        server_args: Vec<String>,
    },
    /// Many users at once each upload a 36-megapixel image (a PNG that
    /// compresses to ~100 KiB, then a noisy JPEG) as a message image to a
    /// fresh node with its default image limits: prints the answers, its RSS
    /// before and its peak, a real user's small uploads meanwhile.
    ImageFlood {
        /// Users uploading at once (one upload each per round).
        #[arg(long, default_value_t = 20)]
        users: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// The images' width and height in pixels (6000: 36 megapixels).
        #[arg(long, default_value_t = 6000)]
        side: u32,
        /// Flags for the node, after `--`.
        #[arg(last = true)]
        server_args: Vec<String>,
    },
    /// Thousands of connections that never finish their request head (a
    /// byte every few seconds), reopened as the server closes them, while a
    /// real user signs in and sends messages: prints the user's times, how
    /// many were held and closed, the server's RSS and CPU and this tool's.
    SlowLoris {
        /// Connections held at once.
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Connections per source address (127.2.0.1 and on); the server's
        /// default cap is 256 per address.
        #[arg(long, default_value_t = 250)]
        per_source: usize,
        /// Seconds between two bytes of one connection.
        #[arg(long, default_value_t = 3.0)]
        byte_secs: f64,
        /// Seconds over which the connections are first opened.
        #[arg(long, default_value_t = 5.0)]
        ramp_secs: f64,
        /// Seconds measured once they are open.
        #[arg(long, default_value_t = 60.0)]
        secs: f64,
        /// The real user's sign-ins (a fresh account each), spread over the measurement.
        #[arg(long, default_value_t = 10)]
        sign_ins: usize,
        /// Messages the real user sends after each sign-in, each waiting for its ack.
        #[arg(long, default_value_t = 20)]
        sends: usize,
        /// Flags for the node, after `--` (without one, `--max-connections-per-ip 256`, its default).
        #[arg(last = true)]
        server_args: Vec<String>,
    },
}

/// The subcommands that measure a node started on the benchmark's work dir.
enum Flood {
    SignIn { attempts: usize, sources: u8, server_args: Vec<String> },
    Image { users: usize, rounds: usize, side: u32, server_args: Vec<String> },
    Loris { spec: loris::Loris, server_args: Vec<String> },
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The tool pins itself to its CPU before its runtime starts, so that the
/// runtime sizes itself for that one CPU: started first, it had two workers
/// taking turns on one core, waking and stealing from each other. The
/// subcommands that serve (the bare server, the idle workers) run where
/// they were started.
fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Some(Command::BaselineServer { .. } | Command::HoldIdle { .. })) {
        procs::placement();
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime").block_on(start(cli))
}

async fn start(mut cli: Cli) -> ExitCode {
    let flood = match cli.command.take() {
        Some(Command::SignInFlood { attempts, sources, server_args }) => Some(Flood::SignIn { attempts, sources, server_args }),
        Some(Command::ImageFlood { users, rounds, side, server_args }) => {
            Some(Flood::Image { users, rounds, side, server_args })
        }
        Some(Command::SlowLoris { connections, per_source, byte_secs, ramp_secs, secs, sign_ins, sends, server_args }) => {
            let spec = loris::Loris { connections, per_source, byte_secs, ramp_secs, secs, sign_ins, sends };
            Some(Flood::Loris { spec, server_args })
        }
        other => {
            cli.command = other;
            None
        }
    };
    if let Some(command) = cli.command {
        limits::raise_open_files(1 << 20);
        let result = match command {
            Command::BaselineServer { listen } => scenarios::serve_baseline(listen).await,
            Command::HoldIdle { addr, count, tokens_file, first_token } => {
                let tokens = match tokens_file {
                    Some(file) => std::fs::read(&file)
                        .map_err(|e| format!("{}: {e}", file.display()))
                        .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).map_err(|e| e.to_string()))
                        .map(|tokens| tokens.into_iter().map(Some).collect()),
                    None => Ok(vec![None]),
                };
                match tokens {
                    Ok(tokens) => idle::worker(addr, count, tokens, first_token).await,
                    Err(e) => Err(e),
                }
            }
            Command::SignInFlood { .. } | Command::ImageFlood { .. } | Command::SlowLoris { .. } => {
                unreachable!("taken above")
            }
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("natter-loadtest: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let files = limits::raise_open_files(1 << 20);
    eprintln!("open-file limit: {files} (the servers started here inherit it)");
    eprintln!("{}", procs::placement());
    for warning in limits::check_kernel(cli.idle_connections as u64) {
        eprintln!("warning: {warning}");
    }
    let opts = Options {
        server_bin: cli.server_bin,
        work_dir: cli.work_dir,
        ferretdb_launcher: expand_home(&cli.ferretdb_launcher),
        redis_server: cli.redis_server,
        mongodb_uri: cli.mongodb_uri,
        redis_url: cli.redis_url,
        port: cli.port,
        ferretdb_port: cli.ferretdb_port,
        redis_port: cli.redis_port,
        site_root: cli.site_root,
        page_script: cli.page_script,
        node_path: cli.node_path,
        idle_connections: cli.idle_connections,
        idle_users: cli.idle_users,
        history_messages: cli.history_messages,
        step_secs: cli.step_secs,
        latency_secs: cli.latency_secs,
        overload_secs: cli.overload_secs,
        bus_nodes: cli.bus_nodes.iter().map(|&n| n as usize).collect(),
        bus_store: cli.bus_store,
        media_udp_port: cli.media_udp_port,
        changes_percent: cli.changes_percent,
    };
    let mut bench = match Bench::new(opts, files) {
        Ok(bench) => bench,
        Err(e) => {
            eprintln!("natter-loadtest: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(flood) = flood {
        let result = match flood {
            Flood::SignIn { attempts, sources, server_args } => signin::flood(&bench, attempts, sources, &server_args).await,
            Flood::Image { users, rounds, side, server_args } => {
                imageflood::flood(&bench, users, rounds, side, &server_args).await
            }
            Flood::Loris { spec, server_args } => loris::run(&bench, &spec, &server_args).await,
        };
        bench.stop().await;
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("natter-loadtest: {e}");
                ExitCode::FAILURE
            }
        };
    }
    println!("{HEADER}");
    let rows = if cli.smoke { smoke(&mut bench).await } else { run(&mut bench, &cli.only).await };
    bench.stop().await;
    println!("\n{HEADER}");
    for row in &rows {
        println!("{}", row.line());
    }
    if let Some(file) = cli.json {
        if let Err(e) = std::fs::write(&file, serde_json::to_vec_pretty(&rows).expect("rows serialize")) {
            eprintln!("natter-loadtest: {}: {e}", file.display());
        }
    }
    let delivered = rows.iter().all(Row::delivery_ok);
    let ok = if cli.smoke { rows.iter().all(|r| r.pass == Some(true)) } else { delivered };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn smoke(bench: &mut Bench) -> Vec<Row> {
    match scenarios::smoke(bench).await {
        Ok(rows) => {
            rows.iter().for_each(|r| println!("{}", r.line()));
            rows
        }
        Err(e) => vec![Row::failed("smoke", "smoke", "lost 0, duplicated 0", e)],
    }
}

/// The scenarios `run` runs, in order.
const SCENARIOS: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13];

async fn run(bench: &mut Bench, only: &[u8]) -> Vec<Row> {
    let mut rows = Vec::new();
    for id in SCENARIOS {
        if !only.is_empty() && !only.contains(&id) {
            continue;
        }
        eprintln!("scenario {id} …");
        let result = match id {
            1 => scenarios::s1_idle(bench).await,
            2 => scenarios::s2_latency(bench).await,
            3 => scenarios::s3_fanout(bench).await,
            4 => scenarios::s4_big_group(bench).await,
            5 => scenarios::s5_cluster(bench).await,
            6 => scenarios::s6_persistence(bench).await,
            7 => scenarios::s7_history(bench).await,
            8 => scenarios::s8_page(bench).await,
            9 => live::s9_live_viewers(bench).await,
            10 => live::s10_cluster_viewers(bench).await,
            12 => overload::s12_overload(bench).await,
            _ => bus::s13_bus(bench).await,
        };
        let row = result.unwrap_or_else(|e| Row::failed(&id.to_string(), &format!("scenario {id}"), "", e));
        println!("{}", row.line());
        rows.push(row);
    }
    rows
}
