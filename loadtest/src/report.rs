//! One summary row per scenario: printed as a Markdown table line (so the
//! report can quote it as is) and collected for the JSON output.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// From a histogram of microseconds; `None` when it is empty.
    pub fn of_us(h: &Histogram<u64>) -> Option<Percentiles> {
        (!h.is_empty()).then(|| {
            let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
            Percentiles { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), max: h.max() as f64 / 1000.0 }
        })
    }

    fn cell(p: &Option<Percentiles>) -> String {
        match p {
            Some(p) => format!("{:.1} / {:.1} / {:.1} / {:.1}", p.p50, p.p90, p.p99, p.max),
            None => "–".into(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Row {
    pub id: String,
    pub scenario: String,
    /// The headline figure, in words.
    pub figure: String,
    pub target: String,
    /// `None` when the scenario has no target (or could not run).
    pub pass: Option<bool>,
    pub deliver_ms: Option<Percentiles>,
    pub ack_ms: Option<Percentiles>,
    pub acks_per_sec: Option<f64>,
    pub deliveries_per_sec: Option<f64>,
    pub lost: Option<u64>,
    pub duplicated: Option<u64>,
    pub errors: BTreeMap<String, u64>,
    pub server_rss_mb: Option<f64>,
    pub server_cpu_percent: Option<f64>,
    pub notes: String,
}

pub const HEADER: &str = "| # | scenario | figure | target | pass | send→deliver ms p50/p90/p99/max | send→ack ms p50/p90/p99/max | acks/s | deliveries/s | lost | dup | errors | server RSS MB | server CPU % | notes |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "–".into())
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".into())
}

impl Row {
    pub fn line(&self) -> String {
        let pass = match self.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "–",
        };
        let errors = if self.errors.is_empty() {
            "0".to_owned()
        } else {
            self.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.id,
            self.scenario,
            self.figure,
            self.target,
            pass,
            Percentiles::cell(&self.deliver_ms),
            Percentiles::cell(&self.ack_ms),
            num(self.acks_per_sec),
            num(self.deliveries_per_sec),
            opt(self.lost),
            opt(self.duplicated),
            errors,
            num(self.server_rss_mb),
            num(self.server_cpu_percent),
            self.notes,
        )
    }

    /// A row for a scenario that could not run, saying why.
    pub fn failed(id: &str, scenario: &str, target: &str, why: String) -> Row {
        Row { id: id.into(), scenario: scenario.into(), target: target.into(), pass: Some(false), figure: "did not run".into(), notes: why, ..Row::default() }
    }

    /// Lost and duplicated are 0, and so is every other target in `pass`.
    pub fn delivery_ok(&self) -> bool {
        self.lost.unwrap_or(0) == 0 && self.duplicated.unwrap_or(0) == 0
    }
}
