//! One push: the request a push service takes (RFC 8030), its payload
//! encrypted for the subscription (RFC 8291, `aes128gcm`) and signed for
//! (RFC 8292, VAPID), and what the service's answer means.

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use reqwest::header::{HeaderValue, RETRY_AFTER};
use sha2::{Digest, Sha256};
use web_push_native::{p256::PublicKey, Auth, WebPushBuilder};

use super::keys::VapidKey;
use crate::store::push::StoredSubscription;

/// How long a push service keeps a push for a device that is offline
/// (a call's: while it rings).
pub const TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest `Retry-After` waited for; a longer one fails the push.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A push ready to encrypt and send.
#[derive(Clone, Debug)]
pub struct Push {
    pub subscription: StoredSubscription,
    /// The JSON of a `wire::push::PushEvent`.
    pub payload: Vec<u8>,
    pub urgency: Urgency,
    /// How long the push service keeps it for a device that is offline.
    pub ttl: Duration,
    /// The push service replaces an undelivered push of the same topic.
    pub topic: String,
}

/// How soon the push service should wake the device (RFC 8030 `Urgency`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    /// A conversation read elsewhere: whenever the device is awake anyway.
    Low,
    Normal,
    /// Private chats, mentions, calls and tests wake a phone.
    High,
}

impl Urgency {
    fn header(self) -> &'static str {
        match self {
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }
}

/// The `Topic` of a conversation's pushes: at most 32 characters of
/// base64url (RFC 8030), so a hash of the id rather than the id.
pub fn topic(conversation: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(conversation.as_bytes())[..24])
}

/// The HTTP request of `push`, signed with `key` for `contact` at `now_secs`.
pub fn request(push: &Push, key: &VapidKey, contact: &str, now_secs: u64) -> Result<reqwest::Request, String> {
    let s = &push.subscription;
    let endpoint: reqwest::Url = s.endpoint.parse().map_err(|e| format!("endpoint: {e}"))?;
    let decode = |text: &str| URL_SAFE_NO_PAD.decode(text).map_err(|_| "keys: not base64url".to_owned());
    let public = PublicKey::from_sec1_bytes(&decode(&s.p256dh)?).map_err(|_| "keys.p256dh: not a P-256 point")?;
    let auth = decode(&s.auth)?;
    if auth.len() != 16 {
        return Err("keys.auth: not 16 bytes".into());
    }
    let uri = s.endpoint.parse().map_err(|e| format!("endpoint: {e}"))?;
    let mut request = WebPushBuilder::new(uri, public, Auth::clone_from_slice(&auth))
        .with_valid_duration(push.ttl)
        .build(push.payload.clone())
        .map_err(|e| format!("encryption: {e}"))?;
    let audience = endpoint.origin().ascii_serialization();
    let header = |text: &str| HeaderValue::from_str(text).map_err(|e| e.to_string());
    let headers = request.headers_mut();
    headers.insert("authorization", header(&key.authorization(&audience, contact, now_secs))?);
    headers.insert("urgency", HeaderValue::from_static(push.urgency.header()));
    headers.insert("topic", header(&push.topic)?);
    reqwest::Request::try_from(request).map_err(|e| e.to_string())
}

/// What a push service's answer means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// 404 or 410: the subscription expired or was withdrawn; remove it.
    Gone,
    /// 429, a 5xx or no answer: try again, after the service's wait if it gave one.
    Retry(Option<Duration>),
    /// Any other answer (a bad request, a VAPID key the service refuses): do not try again.
    Failed(String),
}

/// The meaning of an answer with `status` and the `Retry-After` header `retry_after` (in seconds).
pub fn outcome(status: u16, retry_after: Option<&str>) -> Outcome {
    match status {
        200..=299 => Outcome::Sent,
        404 | 410 => Outcome::Gone,
        429 | 500..=599 => {
            let wait = retry_after.and_then(|s| s.trim().parse().ok()).map(Duration::from_secs);
            match wait {
                Some(wait) if wait > MAX_RETRY_AFTER => Outcome::Failed(format!("{status}, retry after {wait:?}")),
                wait => Outcome::Retry(wait),
            }
        }
        _ => Outcome::Failed(format!("the push service answered {status}")),
    }
}

/// Sends `request` and reads what the answer means.
pub async fn post(client: &reqwest::Client, request: reqwest::Request) -> Outcome {
    match client.execute(request).await {
        Ok(answer) => {
            let retry_after = answer.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok());
            outcome(answer.status().as_u16(), retry_after)
        }
        Err(e) => {
            tracing::debug!(error = %e, "push service unreachable");
            Outcome::Retry(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_mean_sent_gone_retry_or_failed() {
        assert_eq!(outcome(201, None), Outcome::Sent);
        assert_eq!(outcome(404, None), Outcome::Gone);
        assert_eq!(outcome(410, None), Outcome::Gone);
        assert_eq!(outcome(429, Some("3")), Outcome::Retry(Some(Duration::from_secs(3))));
        assert_eq!(outcome(503, Some("soon")), Outcome::Retry(None));
        assert!(matches!(outcome(429, Some("3600")), Outcome::Failed(_)));
        assert!(matches!(outcome(400, None), Outcome::Failed(_)));
        assert!(matches!(outcome(403, None), Outcome::Failed(_)));
    }

    #[test]
    fn topics_are_short_base64url_per_conversation() {
        let t = topic("g-0190e8a1-7c1b-7d4e-9a7f-2f6b1e1b2c3d");
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(t, topic("g-0190e8a1-7c1b-7d4e-9a7f-2f6b1e1b2c3d"));
        assert_ne!(t, topic("p-a-b"));
    }
}
