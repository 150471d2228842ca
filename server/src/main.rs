use std::process::ExitCode;

use clap::Parser;
use natter_server::{config::Cli, telemetry};
use tokio::net::TcpListener;

/// Exit code for a configuration the server refuses to start with.
const BAD_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
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
    telemetry::init(config.log_format);
    for (key, value) in config.summary() {
        tracing::info!("config {key} = {value}");
    }
    tracing::info!("Natter listens on http://{}", config.listen);
    match natter_server::run(config, listener, shutdown_signal()).await {
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

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
