//! The `natter-server` binary itself: invalid configurations end with one
//! line and exit code 2 before anything binds; a valid one starts, prints its
//! configuration with secrets redacted, and stops cleanly on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_natter-server");
const SECRET: &str = "a-long-enough-secret-for-the-tests-0123456789";

fn natter(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("NATTER_MONGODB_URI")
        .env_remove("NATTER_REDIS_URL")
        .env("NATTER_JWT_SECRET", SECRET);
    cmd
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs with a fresh data dir and expects exit code 2 and one line naming `needle`.
fn refuses(args: &[&str], needle: &str) {
    let data = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut all = vec!["--data-dir", data.path().to_str().unwrap(), "--listen", &listen];
    all.extend_from_slice(args);
    let out = natter(&all).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(!stderr.contains(SECRET));
    // Nothing was left listening.
    assert!(TcpListener::bind(&listen).is_ok(), "{args:?} bound the port");
}

#[test]
fn unknown_flag() {
    refuses(&["--no-such-flag"], "--no-such-flag");
}

#[test]
fn bad_listen_address() {
    let out = natter(&["--listen", "not-an-address"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-address"));
}

#[test]
fn malformed_mongodb_uri() {
    refuses(&["--mongodb-uri", "mongo://nope"], "invalid --mongodb-uri");
}

#[test]
fn mongodb_uri_password_is_not_printed() {
    refuses(&["--mongodb-uri", "mongodb://u:hunter2@host:notaport/"], "<redacted>");
    let data = tempfile::tempdir().unwrap();
    let out = natter(&["--data-dir", data.path().to_str().unwrap(), "--mongodb-uri", "mongodb://u:hunter2@host:notaport/"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
}

#[test]
fn bad_database_name() {
    refuses(&["--mongodb-uri", "mongodb://127.0.0.1:1", "--mongodb-db", "a/b"], "--mongodb-db");
}

#[test]
fn malformed_redis_url() {
    refuses(&["--redis-url", "http://not-redis"], "invalid --redis-url");
}

#[test]
fn one_redis_or_a_redis_cluster() {
    refuses(&["--redis-url", "redis://127.0.0.1:6379/", "--redis-cluster-nodes", "127.0.0.1:7000"], "cannot be used with");
    refuses(&["--redis-cluster-nodes", "127.0.0.1:7000,not a node"], "invalid --redis-cluster-nodes");
}

#[test]
fn bad_session_settings() {
    refuses(&["--public-url", "chat.example.org"], "invalid --public-url");
    refuses(&["--allowed-origins", "ftp://x"], "invalid --allowed-origins");
    refuses(&["--trusted-proxy", "proxy.example"], "invalid --trusted-proxy");
    refuses(&["--session-lifetime", "3w"], "--session-lifetime");
    refuses(&["--session-recheck-secs", "61"], "--session-recheck-secs");
}

#[test]
fn bad_node_id() {
    refuses(&["--node-id", "no spaces"], "--node-id");
}

#[test]
fn upload_limit_out_of_range() {
    refuses(&["--max-upload-mib", "0"], "--max-upload-mib");
}

#[test]
fn unwritable_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let out = natter(&["--data-dir", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not writable"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn short_jwt_secret() {
    let data = tempfile::tempdir().unwrap();
    let out = natter(&["--data-dir", data.path().to_str().unwrap()]).env("NATTER_JWT_SECRET", "short").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));
}

#[test]
fn help_documents_every_flag() {
    let out = natter(&["--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen", "--data-dir", "--mongodb-uri", "--mongodb-db", "--redis-url", "--node-id",
        "--jwt-secret-file", "--max-upload-mib", "--max-avatar-mib", "--log-format", "--public-url",
        "--allowed-origins", "--trusted-proxy", "--token-ttl-secs", "--token-renew-grace-secs",
        "--token-reuse-grace-secs", "--session-lifetime", "--session-recheck-secs", "--vapid-private-key-file",
        "--push-contact", "--push-coalesce-secs", "--notify-group-size",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn starts_prints_redacted_config_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = natter(&["--data-dir", data.path().to_str().unwrap(), "--listen", &listen, "--log-format", "json"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    let started = Instant::now();
    for line in lines.by_ref() {
        let line = line.unwrap();
        serde_json::from_str::<serde_json::Value>(&line).expect("JSON log lines");
        log.push_str(&line);
        log.push('\n');
        if line.contains("listens on") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no start-up line: {log}");
    }
    assert!(log.contains("jwt_secret = <redacted>"), "{log}");
    assert!(log.contains("store = embedded"), "{log}");
    assert!(!log.contains(SECRET), "the secret was printed");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}
