//! Which addresses a push may be posted to. An endpoint is a URL a user
//! gave, so the server must not be led by it into its own network: a host
//! name is resolved here and only its public addresses are kept, an
//! address written in the URL must be public too, and redirects are not
//! followed. `--push-insecure-endpoints` (tests, development) lifts it.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::{
    dns::{Addrs, Name, Resolve, Resolving},
    Url,
};

/// How long a push service may take to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client pushes are sent with: no redirects, and unless
/// `insecure`, host names resolved to public addresses only.
pub fn client(insecure: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder().timeout(SEND_TIMEOUT).redirect(reqwest::redirect::Policy::none());
    let builder = if insecure { builder } else { builder.dns_resolver(Arc::new(PublicOnly)) };
    builder.build().expect("the TLS backend initialises")
}

/// Whether `url` may be posted to: a URL naming its host by an address
/// skips the resolver, so that address is checked here.
pub fn allowed(url: &Url, insecure: bool) -> bool {
    let Some(host) = url.host_str() else { return false };
    // The URL standard has already turned `0x7f.1` and the like into dotted quads.
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    insecure || literal.is_none_or(is_public)
}

/// Resolves with the system's resolver and keeps only public addresses;
/// a name with none fails as if it did not exist.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let why = format!("{} has no public address", name.as_str());
                return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, why).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is reachable on the public internet: not loopback,
/// private, shared, link-local, unique-local, multicast, unspecified,
/// reserved or for documentation; IPv6 addresses that carry an IPv4 one
/// (mapped, compatible, NAT64, 6to4) are judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |ip: Ipv6Addr| {
        let [.., a, b, c, d] = ip.octets();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) carry one in the last 32 bits.
    if s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(ip));
    }
    if s[0] == 0x2002 {
        // 6to4: the IPv4 address is in segments 1 and 2.
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]); // discard-only
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_reached() {
        for private in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
            "0.1.2.3", "224.0.0.1", "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1", "::", "::1",
            "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
            "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::a00:1", "2002:7f00:1::1", "2001:db8::1", "fec0::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private} is not public");
        }
        for public in ["8.8.8.8", "142.250.72.10", "2607:f8b0:4005:80a::200a", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
    }

    #[test]
    fn addresses_written_in_the_url_are_checked_too() {
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(allowed(&url("https://fcm.googleapis.com/fcm/send/x"), false));
        // The URL standard reads these as 127.0.0.1 and [::ffff:a9fe:a9fe].
        for local in ["https://0x7f.0.0.1/x", "https://2130706433/x", "https://[::ffff:169.254.169.254]/x"] {
            assert!(!allowed(&url(local), false), "{local}");
            assert!(allowed(&url(local), true), "{local} with the test flag");
        }
    }

    /// A name that resolves only to a private address is not reached.
    #[tokio::test]
    async fn a_name_for_a_private_address_fails_to_resolve() {
        let addrs = PublicOnly.resolve("localhost".parse().unwrap()).await;
        let why = addrs.err().expect("no public address").to_string();
        assert!(why.contains("no public address"), "{why}");
    }

    /// Without the test flag a local name is never connected to; with it,
    /// it is, but a redirect is an answer, not followed.
    #[tokio::test]
    async fn local_names_are_not_reached_and_redirects_not_followed() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let redirect = || async { (axum::http::StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")]) };
        let elsewhere = move || async move {
            counted.fetch_add(1, Ordering::SeqCst);
        };
        let app = axum::Router::new()
            .route("/push", axum::routing::post(redirect))
            .route("/elsewhere", axum::routing::post(elsewhere));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://localhost:{port}/push");
        let refused = client(false).post(&url).send().await.expect_err("localhost is not public");
        assert!(format!("{refused:?}").contains("no public address"), "{refused:?}");
        let answer = client(true).post(&url).send().await.expect("the test flag lets it through");
        assert_eq!(answer.status(), 307, "the redirect comes back as the answer");
        assert_eq!(hits.load(Ordering::SeqCst), 0, "and is not followed");
    }
}
