//! The processes a benchmark measures or needs: Natter nodes, the baseline
//! server, FerretDB and Redis; started on fresh data, stopped with SIGTERM,
//! and sampled for memory and CPU through `/proc`.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
    time::{Duration, Instant},
};

use tokio::process::{Child, Command};

/// A child process that is stopped when dropped.
pub struct Proc {
    pub name: String,
    pub pid: u32,
    child: Child,
}

impl Proc {
    /// Starts `command` with its output in `log`, on the servers' CPU (see [`placement`]).
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Proc, String> {
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        command.stdin(Stdio::null()).stdout(out).stderr(err).kill_on_drop(true);
        if let Some((server, _)) = cpus() {
            // Pinned before it starts, as `taskset -c` would: its runtime sizes itself for one CPU.
            // SAFETY: the closure only calls sched_setaffinity, which is async-signal-safe.
            unsafe { command.pre_exec(move || if set_affinity(0, server) { Ok(()) } else { Err(std::io::Error::last_os_error()) }) };
        }
        let child = command.spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id().expect("a running child has an id");
        Ok(Proc { name: name.to_owned(), pid, child })
    }

    /// SIGTERM, then up to 15 s for a graceful stop, then SIGKILL.
    pub async fn stop(mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await.is_err() {
            eprintln!("{} did not stop within 15 s; killing it", self.name);
            let _ = self.child.kill().await;
        }
    }

    pub fn usage(&self) -> Usage {
        Usage::of(self.pid)
    }
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS:`, `VmHWM:` the peak), 0 if unreadable.
pub fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .unwrap_or(0)
}

/// Memory and CPU time of a process at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub rss_bytes: u64,
    /// User + system CPU time.
    pub cpu: Duration,
    pub at: Option<Instant>,
}

impl Usage {
    pub fn of(pid: u32) -> Usage {
        let rss_kb = status_kb(pid, "VmRSS:");
        let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
                let rest = s.rsplit_once(')')?.1;
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Usage { rss_bytes: rss_kb * 1024, cpu: Duration::from_millis(ticks * 1000 / hz), at: Some(Instant::now()) }
    }

    /// Average CPU use since `earlier`, in percent of one core.
    pub fn cpu_percent_since(&self, earlier: &Usage) -> f64 {
        let wall = match (self.at, earlier.at) {
            (Some(a), Some(b)) => a.duration_since(b).as_secs_f64(),
            _ => 0.0,
        };
        if wall <= 0.0 {
            return 0.0;
        }
        (self.cpu.saturating_sub(earlier.cpu)).as_secs_f64() / wall * 100.0
    }
}

/// Waits until something accepts TCP connections on `addr`.
pub async fn wait_for_port(addr: SocketAddr, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {addr} after {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// How a Natter node is started.
pub struct NodeSpec {
    pub bin: PathBuf,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub secret_file: PathBuf,
    pub site_root: PathBuf,
    /// (URI, database) for MongoDB; the embedded store otherwise.
    pub mongodb: Option<(String, String)>,
    pub redis_url: Option<String>,
    pub node_id: String,
    /// The media relay's UDP port (opened only when a room starts).
    pub media_udp_port: u16,
    /// More flags, after the ones above.
    pub extra_args: Vec<String>,
}

/// Flags every node of the benchmark gets unless its `extra_args` set them.
const BENCHMARK_FLAGS: [(&str, &str); 5] = [
    ("--max-connections-per-ip", "1000000"),
    ("--sign-ins-per-sec", "1000000"),
    ("--sockets-per-user", "100000"),
    ("--sockets-per-device", "100000"),
    ("--sends-per-sec", "100000"),
];

/// Starts a node and waits until `/readyz` answers 200.
pub async fn start_node(spec: &NodeSpec) -> Result<Proc, String> {
    std::fs::create_dir_all(&spec.data_dir).map_err(|e| format!("{}: {e}", spec.data_dir.display()))?;
    let mut command = Command::new(&spec.bin);
    command
        .arg("--listen")
        .arg(spec.addr.to_string())
        .arg("--data-dir")
        .arg(&spec.data_dir)
        .arg("--jwt-secret-file")
        .arg(&spec.secret_file)
        .arg("--site-root")
        .arg(&spec.site_root)
        .arg("--node-id")
        .arg(&spec.node_id)
        .arg("--media-udp-port")
        .arg(spec.media_udp_port.to_string())
        .env("RUST_LOG", "warn");
    // The benchmark's shapes, each unless `extra_args` sets that flag itself
    // (a flag given twice is an error): the clients come from 100 loopback
    // addresses, hundreds each, so the per-address cap is for the internet,
    // not for this machine's benchmark; thousands of sign-ups are paced by
    // the bounded hashing (the client waits out each 429) but not capped per
    // second; hundreds of tabs per user (scenario 1) and one sender at
    // hundreds of messages a second (scenario 4) are shapes of a benchmark,
    // not of people.
    for (flag, value) in BENCHMARK_FLAGS {
        if !spec.extra_args.iter().any(|a| a == flag || a.starts_with(&format!("{flag}="))) {
            command.arg(flag).arg(value);
        }
    }
    if let Some((uri, db)) = &spec.mongodb {
        command.arg("--mongodb-uri").arg(uri).arg("--mongodb-db").arg(db);
    }
    if let Some(url) = &spec.redis_url {
        command.arg("--redis-url").arg(url);
    }
    command.args(&spec.extra_args);
    let log = spec.data_dir.with_extension("log");
    let proc = Proc::spawn(&spec.node_id, command, &log)?;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client.get(format!("http://{}/readyz", spec.addr)).send().await.map(|r| r.status().as_u16() == 200);
        if ready.unwrap_or(false) {
            return Ok(proc);
        }
        if Instant::now() > deadline {
            return Err(format!("{} not ready after 60 s; see {}", spec.node_id, log.display()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh, empty directory.
pub fn fresh_dir(path: &Path) -> Result<(), String> {
    if path.exists() {
        std::fs::remove_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The CPUs this process could run on when first asked. Asked again after
/// the tool pinned itself to one CPU, the system would answer that one
/// alone, and every later step would run unpinned.
pub fn allowed_cpus() -> Vec<usize> {
    static FIRST_ANSWER: OnceLock<Vec<usize>> = OnceLock::new();
    // SAFETY: sched_getaffinity writes only the set passed; CPU_ISSET reads it.
    let ask = || unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize).filter(|&cpu| libc::CPU_ISSET(cpu, &set)).collect()
    };
    FIRST_ANSWER.get_or_init(ask).clone()
}

/// The servers' CPU and this tool's: the first two allowed, if there are two.
pub fn cpus() -> Option<(usize, usize)> {
    match allowed_cpus()[..] {
        [server, tool, ..] => Some((server, tool)),
        _ => None,
    }
}

/// Pins this tool, and the clients it starts, to its CPU (on the first
/// call), apart from every server it starts ([`Proc::spawn`]): the tool's
/// CPU never comes out of a server's, and the bare reference server gets
/// the core Natter gets. Says where each runs, or why not: under `taskset`
/// with one CPU the tool has nowhere to put the servers apart.
pub fn placement() -> &'static str {
    static PLACED: OnceLock<String> = OnceLock::new();
    PLACED.get_or_init(|| match cpus() {
        Some((server, tool)) if pin(std::process::id(), tool) => {
            format!("servers on CPU {server}, load generator on CPU {tool}")
        }
        Some(_) => "not pinned (sched_setaffinity failed): servers and load generator share the CPUs".into(),
        None => "not pinned (one CPU allowed): servers and load generator share it".into(),
    })
}

/// Pins every thread of `pid` to `cpu`, as `taskset -a -p -c <cpu> <pid>`
/// does (threads started later inherit it from the one starting them);
/// false if any thread could not be pinned.
pub fn pin(pid: u32, cpu: usize) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    let mut all = true;
    for tid in tasks.flatten().filter_map(|t| t.file_name().to_str()?.parse::<i32>().ok()) {
        all &= set_affinity(tid, cpu);
    }
    all
}

/// Pins thread `tid` (0: the calling one) to `cpu`.
fn set_affinity(tid: i32, cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes inside it;
    // sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// The first process whose command line's first word contains `program`
/// and whose whole command line (as it shows it: Redis shows
/// `redis-server 127.0.0.1:6379`) contains `arg`.
pub fn find(program: &str, arg: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
        let line = std::fs::read(entry.path().join("cmdline")).ok()?;
        let line = String::from_utf8_lossy(&line).replace('\0', " ");
        let first = line.split(' ').next()?;
        (first.contains(program) && line.contains(arg)).then_some(pid)
    })
}

/// Resets the peak RSS (`VmHWM`) of `pid` to its current RSS (Linux ≥ 4.0);
/// false if not allowed.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The soft open-file limit of `pid`, from `/proc/<pid>/limits`.
pub fn open_file_limit(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

/// Files `pid` has open now.
pub fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}
