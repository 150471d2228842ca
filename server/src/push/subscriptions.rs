//! A device's subscription, checked before it is kept: the shape by the
//! wire's rules, the browser's key by decoding it as a P-256 point (a key
//! that is not one could never be encrypted for), the number per user.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use web_push_native::p256::PublicKey;
use wire::{
    model::UserId,
    protocol::{ApiError, ErrorCode},
    push::{PushSubscription, MAX_PUSH_SUBSCRIPTIONS},
};

use crate::{
    clock::now_millis,
    store::{push::StoredSubscription, DynStore},
};

/// Keeps `subscription` as `device`'s, replacing the one it had.
/// `insecure` lets `http` and local endpoints through (tests, development).
pub async fn subscribe(
    store: &DynStore,
    user: &UserId,
    device: &str,
    subscription: PushSubscription,
    insecure: bool,
) -> Result<(), ApiError> {
    let PushSubscription { endpoint, keys } = subscription.check(insecure)?;
    if !endpoint.parse().is_ok_and(|url| super::reach::allowed(&url, insecure)) {
        return Err(ApiError::invalid("endpoint", "the endpoint's host is a public name, not an address"));
    }
    let point = URL_SAFE_NO_PAD.decode(&keys.p256dh).ok().filter(|p| PublicKey::from_sec1_bytes(p).is_ok());
    if point.is_none() {
        return Err(ApiError::invalid("keys.p256dh", "keys.p256dh is not a P-256 public key"));
    }
    let held = store.push_subscriptions_of(user).await?;
    if held.len() >= MAX_PUSH_SUBSCRIPTIONS && !held.iter().any(|s| s.device_id == device) {
        let why = format!("at most {MAX_PUSH_SUBSCRIPTIONS} devices receive pushes; sign one out first");
        return Err(ApiError::new(ErrorCode::TooManySubscriptions, why));
    }
    let stored = StoredSubscription {
        user_id: user.clone(),
        device_id: device.to_owned(),
        endpoint,
        p256dh: keys.p256dh,
        auth: keys.auth,
        created_ms: now_millis(),
    };
    Ok(store.put_push_subscription(&stored).await?)
}
