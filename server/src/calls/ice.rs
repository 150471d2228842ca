//! The STUN and TURN servers browsers use for calls (`--ice-servers`),
//! served by `GET /api/rtc/config`. With a TURN secret
//! (`--turn-secret-file`) each answer carries fresh TURN credentials in the
//! scheme of coturn's
//! `use-auth-secret`: the username is `<expiry>:<user id>`, the credential
//! base64(HMAC-SHA1(secret, username)); the TURN server checks both with the
//! same secret and refuses them after the expiry.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use wire::{
    call::{IceServer, RtcConfig},
    model::UserId,
};

use crate::secret::Secret;

/// How long TURN credentials last, in seconds: they cannot be revoked, so
/// those of a device that signs out must run out soon. (A relayed call
/// that is up outlives them: coturn checks them when the allocation is made
/// and refreshed, and browsers fetch new ones for each call.)
const TURN_CREDENTIALS_SECS: u64 = 3600;

/// What `user` is told now: TURN credentials last [`TURN_CREDENTIALS_SECS`].
pub fn for_user(urls: &[String], turn_secret: Option<&Secret>, user: &UserId) -> RtcConfig {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rtc_config(urls, turn_secret.map(Secret::bytes), user, now + TURN_CREDENTIALS_SECS)
}

/// STUN servers as they are; TURN servers with credentials valid until `expiry` when there is a secret.
fn rtc_config(urls: &[String], turn_secret: Option<&[u8]>, user: &UserId, expiry: u64) -> RtcConfig {
    let (turn, stun): (Vec<String>, Vec<String>) = urls.iter().cloned().partition(|u| u.starts_with("turn"));
    let mut ice_servers = Vec::new();
    if !stun.is_empty() {
        ice_servers.push(IceServer { urls: stun, username: None, credential: None });
    }
    if !turn.is_empty() {
        let (username, credential) = match turn_secret {
            Some(secret) => {
                let (username, credential) = turn_credentials(secret, user, expiry);
                (Some(username), Some(credential))
            }
            None => (None, None),
        };
        ice_servers.push(IceServer { urls: turn, username, credential });
    }
    RtcConfig { ice_servers }
}

/// coturn's REST credentials: `(username, credential)`.
fn turn_credentials(secret: &[u8], user: &UserId, expiry: u64) -> (String, String) {
    let username = format!("{expiry}:{user}");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_coturns_scheme() {
        // HMAC-SHA1("secret", "1700000000:u1"), base64, as `openssl dgst -sha1 -hmac secret -binary | base64` gives it.
        let (username, credential) = turn_credentials(b"secret", &UserId::from("u1"), 1_700_000_000);
        assert_eq!(username, "1700000000:u1");
        assert_eq!(credential, "nHzZnCmm4aatc14e91U9AY8VNQM=");
    }

    #[test]
    fn stun_servers_go_as_they_are_and_turn_servers_get_credentials() {
        let user = UserId::from("u1");
        assert_eq!(rtc_config(&[], Some(b"s"), &user, 1), RtcConfig::default(), "host candidates only");
        let urls = ["stun:stun.example.org:3478".to_owned(), "turn:turn.example.org:3478?transport=udp".to_owned()];
        let config = rtc_config(&urls, Some(b"secret"), &user, 1_700_000_000);
        assert_eq!(config.ice_servers.len(), 2);
        assert_eq!(config.ice_servers[0], IceServer { urls: vec![urls[0].clone()], username: None, credential: None });
        assert_eq!(config.ice_servers[1].username.as_deref(), Some("1700000000:u1"));
        let without_secret = rtc_config(&urls[1..], None, &user, 1);
        assert_eq!(without_secret.ice_servers[0].credential, None);
    }
}
