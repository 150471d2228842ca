//! JSON Web Tokens: HS256 only (the algorithm is pinned on decoding, so
//! `alg: none` or a swapped algorithm is refused), carrying the user, the
//! device and the token id (`jti`) that the device's session must still hold.


use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use wire::model::{Millis, UserId};

use crate::secret::Secret;

/// How long a token is good for by default (`--token-ttl-secs`). Browsers
/// get a fresh one while active; API clients call `POST /api/auth/refresh`.
pub const TOKEN_TTL_SECS: i64 = 15 * 60;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The device id the token was issued to.
    pub dev: String,
    /// The token id; the device's session names the one valid token.
    pub jti: String,
    /// The device session: when it was signed in (ms), which a sign-in again
    /// on the device changes. 0 in tokens from before it was carried.
    #[serde(default)]
    pub ses: Millis,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn new(user: &UserId, device_id: &str, token_id: &str, session_ms: Millis, now_ms: Millis, ttl_secs: i64) -> Claims {
        let iat = now_ms / 1000;
        Claims {
            sub: user.0.clone(),
            dev: device_id.to_owned(),
            jti: token_id.to_owned(),
            ses: session_ms,
            iat,
            exp: iat + ttl_secs,
        }
    }

    pub fn expires_ms(&self) -> Millis {
        self.exp * 1000
    }

    /// Past half its life: time to hand out a fresh one.
    pub fn is_ageing(&self, now_ms: Millis) -> bool {
        now_ms / 1000 >= self.iat + (self.exp - self.iat) / 2
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Well signed but past `exp`; carries the claims, for refreshing.
    Expired(Claims),
    /// Anything else: bad signature, other algorithm, malformed, missing claims.
    Invalid,
}

pub fn encode(secret: &Secret, claims: &Claims) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.bytes()))
        .expect("HS256 encoding of plain claims cannot fail")
}

pub fn decode(secret: &Secret, token: &str) -> Result<Claims, TokenError> {
    let key = DecodingKey::from_secret(secret.bytes());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "sub", "iat"]);
    match jsonwebtoken::decode::<Claims>(token, &key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => {
            // The signature was checked before expiry was: read the claims again without the clock.
            validation.validate_exp = false;
            match jsonwebtoken::decode::<Claims>(token, &key, &validation) {
                Ok(data) => Err(TokenError::Expired(data.claims)),
                Err(_) => Err(TokenError::Invalid),
            }
        }
        Err(_) => Err(TokenError::Invalid),
    }
}
