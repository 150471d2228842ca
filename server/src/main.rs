use std::process::ExitCode;

use clap::Parser;
use natter_server::{config::Cli, telemetry};
use tokio::net::TcpListener;

/// Exit code for a configuration the server refuses to start with.
const BAD_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    give_large_blocks_back();
    // clap itself exits with code 2 on an unknown flag or a malformed value.
    let config = match Cli::parse().validate().await {
        Ok(config) => config,
        Err(e) => {
            eprintln!("natter-server: {e}");
            return ExitCode::from(BAD_CONFIG);
        }
    };
    let listener = match TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("natter-server: cannot listen on {}: {e}", config.listen);
            return ExitCode::from(BAD_CONFIG);
        }
    };
    let shutdown = shutdown_signal();
    telemetry::init(config.log_format);
    for (key, value) in config.summary() {
        tracing::info!("config {key} = {value}");
    }
    tracing::info!("Natter listens on http://{}", config.listen);
    match natter_server::run(config, listener, shutdown).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// glibc serves a large block from its own mapping, handed back on free,
/// only until one is freed: it then raises the threshold to that size, and
/// password hashes (19 MiB each) come from the heaps of the threads that ran
/// them and stay there. A fixed threshold keeps every hash's memory in a
/// mapping of its own, unmapped when the hash is done.
fn give_large_blocks_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator; called once, first thing.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Registers for SIGINT (Ctrl-C) and SIGTERM at once, so a signal that
/// arrives during start-up is not lost, and completes on the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
