//! Who a request comes from: the connection's peer, or — when the peer is a
//! reverse proxy named by `--trusted-proxy` — the client the proxies say they
//! forwarded (`Forwarded: for=…`, else `X-Forwarded-For`), read from the
//! right and skipping trusted proxies, so a client cannot pose as another by
//! sending the header itself. And the key an address counts under in
//! limits: IPv4 as is, IPv6 by its /64 (what one host or customer holds).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The reverse proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    /// Parses `--trusted-proxy` entries: an address or a network (CIDR).
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        let nets = entries
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(|e| {
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{e:?} is neither an IP address nor a network such as 10.0.0.0/8"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedProxies(nets))
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_chain(headers).iter().rev() {
            match hop {
                Some(ip) => {
                    client = *ip;
                    if !self.trusts(*ip) {
                        break;
                    }
                }
                // An obfuscated or malformed hop: the last known address stands.
                None => break,
            }
        }
        client
    }
}

/// Whether a request carries any forwarding header.
pub fn forwarded(headers: &HeaderMap) -> bool {
    ["forwarded", "x-forwarded-for", "x-real-ip"].iter().any(|h| headers.contains_key(*h))
}

/// The forwarded-for addresses, the client first: from `Forwarded` if
/// present, else `X-Forwarded-For` (several headers read as one list).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::to_owned).collect()
    };
    let standard = values("forwarded");
    if !standard.is_empty() {
        return standard
            .iter()
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (key, value) = pair.trim().split_once('=')?;
                        key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"').to_owned())
                    })
                    .and_then(|node| parse_node(&node))
            })
            .collect();
    }
    values("x-forwarded-for").iter().map(|v| parse_node(v.trim())).collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse::<IpAddr>().ok().map(canonical);
    }
    node.parse::<SocketAddr>().ok().map(|a| canonical(a.ip()))
}

/// IPv4 mapped into IPv6 as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The address a client counts against in limits: IPv4 as is (also when
/// mapped into IPv6), IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use axum::http::HeaderValue;

    use super::*;

    /// Request headers of `pairs`, in order (the same name may repeat).
    pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_addresses_count_only_through_trusted_proxies() {
        let proxies = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.2.3")]);
        assert_eq!(proxies.client(local, &xff), "203.0.113.9".parse::<IpAddr>().unwrap(), "the rightmost untrusted hop");
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(proxies.client(stranger, &xff), stranger, "a client's own header is ignored");
        assert_eq!(TrustedProxies::default().client(local, &xff), local);
        let fwd = headers(&[("forwarded", "for=192.0.2.60;proto=https, for=\"[2001:db8::1]:4711\"")]);
        assert_eq!(proxies.client(local, &fwd), "2001:db8::1".parse::<IpAddr>().unwrap());
        let hidden = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(proxies.client(local, &hidden), local);
        assert!(TrustedProxies::parse(&["proxy.example".into()]).is_err());
    }

    #[test]
    fn ipv6_counts_by_its_64_prefix_and_mapped_ipv4_as_ipv4() {
        let key = |s: &str| address_key(s.parse().unwrap()).to_string();
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), key("2001:db8:1:2:ffff::1"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), "192.0.2.1");
    }
}
