//! Structured logs through `tracing`, as text or JSON; `RUST_LOG` filters them.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written: `--log-format`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    // tantivy logs every commit and merge at info: lines a second on a busy node.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tantivy=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
