//! Prometheus metrics: the recorder, the `/metrics` text, and the middleware
//! that counts and times every HTTP request.

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request},
    http::Method,
    middleware::Next,
    response::Response,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const REQUESTS: &str = "natter_http_requests_total";
const DURATION: &str = "natter_http_request_duration_seconds";
const IN_FLIGHT: &str = "natter_http_requests_in_flight";

/// The process-wide recorder; installed on first use (tests start several servers).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(DURATION.into()),
                &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
            )
            .expect("valid buckets")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        metrics::describe_counter!(REQUESTS, "HTTP requests answered, by method, route and status");
        metrics::describe_histogram!(DURATION, metrics::Unit::Seconds, "HTTP request latency, by method and route");
        metrics::describe_gauge!(IN_FLIGHT, "HTTP requests being answered now");
        handle
    })
}

/// The method as a label: the standard ones by name, any other as `other`
/// (a client may send any token as a method; each would be a new series).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Runs the recorder's upkeep every `every`, until `stop` turns true: it
/// folds the histograms' recorded samples into their buckets, which
/// otherwise pile up in memory until the next scrape (and with nobody
/// scraping, for ever).
pub async fn upkeep(every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => handle().run_upkeep(),
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// Middleware: counts and times each request, labelled by its route
/// pattern (never the raw path, which would make unbounded label sets).
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    metrics::gauge!(IN_FLIGHT).increment(1.0);
    let response = next.run(req).await;
    metrics::gauge!(IN_FLIGHT).decrement(1.0);
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "method" => method, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!(DURATION, "method" => method, "route" => route).record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"PROPFIND").unwrap()), "other");
        assert_eq!(method_label(&Method::from_bytes(b"X1234").unwrap()), "other");
    }
}
