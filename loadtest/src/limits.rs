//! Raising the open-file limit (inherited by the servers this tool starts)
//! and checking the kernel settings that cap how many sockets can be open.

/// Raises this process's open-file limit to `want` (or as far as the kernel
/// allows); returns the soft limit now in force.
pub fn raise_open_files(want: u64) -> u64 {
    let nr_open = read_number("/proc/sys/fs/nr_open").unwrap_or(want);
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        let target = want.min(nr_open);
        let raised = libc::rlimit { rlim_cur: target.max(limit.rlim_cur), rlim_max: target.max(limit.rlim_max) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return raised.rlim_cur;
        }
        // Not allowed to raise the hard limit: go as far as it.
        let soft = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        libc::setrlimit(libc::RLIMIT_NOFILE, &soft);
        limit.rlim_max
    }
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.split_whitespace().next()?.parse().ok()
}

/// Warnings about kernel settings too low for `connections` sockets.
pub fn check_kernel(connections: u64) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(max) = read_number("/proc/sys/fs/file-max") {
        if max < connections * 2 + 1000 {
            warnings.push(format!("fs.file-max is {max}: too low for {connections} connections on both ends"));
        }
    }
    if let Some(backlog) = read_number("/proc/sys/net/core/somaxconn") {
        if backlog < 1024 {
            warnings.push(format!("net.core.somaxconn is {backlog}: bursts of connects may be refused"));
        }
    }
    if let Ok(range) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") {
        let ports: Vec<u64> = range.split_whitespace().filter_map(|p| p.parse().ok()).collect();
        if let [low, high] = ports[..] {
            eprintln!("ephemeral ports {low}–{high}: {} per source address, spread over 100 addresses", high - low + 1);
        }
    }
    warnings
}
