//! Where the media socket listens and what browsers are told to send media to
//! (`--media-udp-port`, `--media-announce-addr`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Where the media socket listens and what address browsers are told.
#[derive(Clone, Copy, Debug)]
pub struct MediaSettings {
    pub bind: SocketAddr,
    pub announce: SocketAddr,
}

impl MediaSettings {
    /// The address announced when none is configured: the HTTP listen
    /// address, or, when that is a wildcard, the address of the interface
    /// holding the default route (loopback when there is none).
    pub fn default_announce(listen: IpAddr) -> IpAddr {
        if !listen.is_unspecified() {
            return listen;
        }
        // Connecting a UDP socket sends nothing; it only picks the route.
        let routed = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
            .and_then(|s| s.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).map(|()| s))
            .and_then(|s| s.local_addr());
        routed.map(|a| a.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}
