//! The HTTP serve loop, in place of `axum::serve`, which arms no timer and
//! caps nothing: here a request head must arrive within the header timeout,
//! a connection that moves no byte for the idle timeout is closed, and
//! connections are capped per client address and in total (over a cap the
//! connection is closed at once, unanswered). Also raises the open-file
//! limit the connections count against.
//!
//! Graceful shutdown as before: the loop stops accepting, asks every
//! connection to finish its requests in flight and waits for them;
//! websocket sessions have left their connection at the upgrade (the
//! caller closes and awaits them).

use std::{
    collections::HashMap,
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{extract::ConnectInfo, middleware::AddExtension, Router};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::watch,
};
use tokio_util::task::TaskTracker;
use tower::Service;

/// The router, told the client's address (handlers read `ConnectInfo`).
type App = AddExtension<Router, ConnectInfo<SocketAddr>>;

/// What a connection may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From the connection's start, or the end of the last answer, until a
    /// request head has arrived whole.
    pub header_timeout: Duration,
    /// With no byte moving either way, the connection closes.
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Per IPv4 address, or IPv6 /64 (what one host or customer usually holds).
    pub max_connections_per_ip: usize,
}

/// Open connections, in total and per client address.
pub struct ConnectionCaps {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection's place; given back when dropped.
pub struct Permit {
    caps: Arc<ConnectionCaps>,
    key: IpAddr,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Total,
    PerIp,
}

impl ConnectionCaps {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<ConnectionCaps> {
        Arc::new(ConnectionCaps { max_total, max_per_ip, open: Mutex::default() })
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refused> {
        let key = crate::client_addr::address_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.max_total {
            return Err(Refused::Total);
        }
        let mine = open.per_ip.entry(key).or_default();
        if *mine >= self.max_per_ip {
            return Err(Refused::PerIp);
        }
        *mine += 1;
        open.total += 1;
        Ok(Permit { caps: self.clone(), key })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.caps.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total -= 1;
        if let Some(n) = open.per_ip.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&self.key);
            }
        }
    }
}

/// Raises this process's soft open-file limit to its hard limit, and
/// returns the limit in force (`None` where it cannot be read).
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        Some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    None
}

/// The default total cap: three quarters of the open-file limit, leaving
/// the rest to the store, uploads and the media socket.
pub fn default_max_connections(open_file_limit: Option<u64>) -> usize {
    let limit = open_file_limit.unwrap_or(1024).min(1 << 20) as usize;
    (limit / 4 * 3).max(64)
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let caps = ConnectionCaps::new(limits.max_connections, limits.max_connections_per_ip);
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    // HTTP/1.1 only, as `axum::serve` served it here (axum's `http2` is off).
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let builder = Arc::new(builder);
    let (stop_tx, stop_rx) = watch::channel(false);
    let connections = TaskTracker::new();
    let mut refused_logged = None::<Instant>;
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or memory: wait a little rather
                    // than spin; a connection's own error needs no pause.
                    if !is_connection_error(&e) {
                        tracing::error!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let permit = match caps.admit(peer.ip()) {
            Ok(permit) => permit,
            Err(why) => {
                // Dropping the socket closes it; one log line a second at most.
                if refused_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                    tracing::warn!(peer = %peer.ip(), cap = ?why, "connection refused: too many open");
                    refused_logged = Some(Instant::now());
                }
                metrics::counter!("natter_connections_refused_total").increment(1);
                continue;
            }
        };
        // Chat frames are small and each should leave at once: without this,
        // Nagle's algorithm held them for the peer's delayed ACK (~40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let service = match make_service.call(peer).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let builder = builder.clone();
        let stop = stop_rx.clone();
        connections.spawn(serve_connection(builder, tcp, permit, service, limits, stop));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Serves one connection until it ends, idles out or the server stops.
async fn serve_connection(
    builder: Arc<http1::Builder>,
    tcp: TcpStream,
    permit: Permit,
    service: App,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let io = Tracked::new(tcp, permit);
    let activity = io.activity.clone();
    let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)).with_upgrades();
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        // Until its first byte a connection is held to the header timeout
        // (hyper's own timer does the same, and alone cuts a head that
        // trickles in byte by byte).
        let allowed = if activity.moved() { limits.idle_timeout } else { limits.header_timeout };
        let deadline = activity.last() + allowed;
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = stop.wait_for(|stopped| *stopped), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                if activity.last() + allowed > Instant::now() {
                    continue; // bytes moved meanwhile
                }
                if closing {
                    return; // asked to finish and still silent: cut it
                }
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// When bytes last moved on a connection.
struct Activity {
    start: Instant,
    /// Milliseconds after `start`, plus one; 0 until the first byte.
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
    }

    fn moved(&self) -> bool {
        self.last_ms.load(Ordering::Relaxed) > 0
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed).saturating_sub(1))
    }
}

/// A TCP stream that notes when bytes move, and holds its connection's
/// [`Permit`] for as long as it lives: through a websocket's life too.
struct Tracked {
    tcp: TcpStream,
    activity: Arc<Activity>,
    _permit: Permit,
}

impl Tracked {
    fn new(tcp: TcpStream, permit: Permit) -> Tracked {
        let activity = Arc::new(Activity { start: Instant::now(), last_ms: AtomicU64::new(0) });
        Tracked { tcp, activity, _permit: permit }
    }

    fn note<T>(&self, result: Poll<io::Result<T>>, moved: impl FnOnce(&T) -> bool) -> Poll<io::Result<T>> {
        if let Poll::Ready(Ok(value)) = &result {
            if moved(value) {
                self.activity.touch();
            }
        }
        result
    }
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.tcp).poll_read(cx, buf);
        let after = buf.filled().len();
        self.note(result, |_| after > before)
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.note(result, |n| *n > 0)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.note(result, |n| *n > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_per_address_and_in_total_and_given_back() {
        let caps = ConnectionCaps::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = caps.admit(a).unwrap();
        let _a2 = caps.admit(a).unwrap();
        assert_eq!(caps.admit(a).err(), Some(Refused::PerIp));
        let _b1 = caps.admit(b).unwrap();
        assert_eq!(caps.admit(b).err(), Some(Refused::Total));
        drop(a1);
        assert_eq!(caps.open(), 2);
        assert!(caps.admit(a).is_ok(), "a closed connection gives its place back");
    }

    #[test]
    fn ipv6_counts_by_its_64_prefix_and_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let two: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(crate::client_addr::address_key(one), crate::client_addr::address_key(two));
        assert_ne!(crate::client_addr::address_key(one), crate::client_addr::address_key(other));
        assert_eq!(crate::client_addr::address_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_default_total_leaves_room_under_the_open_file_limit() {
        assert_eq!(default_max_connections(Some(1024)), 768);
        assert_eq!(default_max_connections(None), 768);
        assert_eq!(default_max_connections(Some(10)), 64);
    }
}
