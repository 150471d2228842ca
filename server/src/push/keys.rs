//! The server's VAPID key pair (RFC 8292): browsers subscribe with its
//! public key, and every push carries a token signed with its private key,
//! which is how a push service knows the pushes come from the server the
//! subscription was made for.
//!
//! The private key is a P-256 scalar kept as unpadded base64url (as other
//! Web Push tools keep it) in `<data dir>/vapid_private_key`, generated on
//! first start and written `0600`, or read from `--vapid-private-key-file`.
//! A new key orphans every subscription, so the file must be kept.

use std::{fmt, io, path::Path};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use p256::ecdsa::{signature::Signer, Signature, SigningKey};

/// File name of the generated key inside the data dir.
pub const KEY_FILE_NAME: &str = "vapid_private_key";
/// How long a signed token is valid: RFC 8292 allows at most 24 hours.
pub const TOKEN_LIFETIME_SECS: u64 = 12 * 60 * 60;

/// The key pair; its `Debug` shows the public key only.
#[derive(Clone)]
pub struct VapidKey {
    signing: SigningKey,
    /// The uncompressed public point in unpadded base64url.
    public: String,
}

impl fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VapidKey {{ public: {}, private: <redacted> }}", self.public)
    }
}

impl VapidKey {
    /// A fresh key pair from the system's randomness.
    pub fn generate() -> io::Result<VapidKey> {
        loop {
            let mut scalar = [0u8; 32];
            getrandom::fill(&mut scalar).map_err(io::Error::other)?;
            // A scalar of zero or past the group order (odds 2^-32) is drawn again.
            if let Ok(signing) = SigningKey::from_slice(&scalar) {
                return Ok(VapidKey::from_signing(signing));
            }
        }
    }

    /// Reads the private key from its unpadded base64url text (whitespace around it ignored).
    pub fn from_base64url(text: &str) -> Result<VapidKey, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .map_err(|_| "not base64url".to_owned())?;
        if bytes.len() != 32 {
            return Err(format!("a P-256 private key is 32 bytes, not {}", bytes.len()));
        }
        SigningKey::from_slice(&bytes).map(VapidKey::from_signing).map_err(|_| "not a P-256 private key".to_owned())
    }

    fn from_signing(signing: SigningKey) -> VapidKey {
        let point = signing.verifying_key().to_encoded_point(false);
        VapidKey { public: URL_SAFE_NO_PAD.encode(point.as_bytes()), signing }
    }

    /// The private key as it is kept in its file.
    fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signing.to_bytes())
    }

    /// The public key in unpadded base64url, as `GET /api/push/key` serves it.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header of a push to a push service at `audience`
    /// (the endpoint's origin): `vapid t=<ES256 JWT>, k=<public key>`, the
    /// token valid [`TOKEN_LIFETIME_SECS`] from `now_secs`. `subject` is the
    /// operator's contact (`mailto:` or `https:`), which push services may use.
    pub fn authorization(&self, audience: &str, subject: &str, now_secs: u64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": audience, "exp": now_secs + TOKEN_LIFETIME_SECS, "sub": subject });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        // JWS wants the plain 64-byte r‖s, which is what p256's signature is.
        let signature: Signature = self.signing.sign(signed.as_bytes());
        format!("vapid t={signed}.{}, k={}", URL_SAFE_NO_PAD.encode(signature.to_bytes()), self.public)
    }
}

/// Where the key came from, for the start-up summary.
#[derive(Clone, Debug)]
pub enum KeySource {
    File(std::path::PathBuf),
    Generated(std::path::PathBuf),
}

/// The key from `file`, else from the data dir, made there if absent.
pub fn load(file: Option<&Path>, data_dir: &Path) -> Result<(VapidKey, KeySource), String> {
    let read = |path: &Path| {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        VapidKey::from_base64url(&text).map_err(|why| format!("invalid VAPID key in {}: {why}", path.display()))
    };
    if let Some(path) = file {
        return Ok((read(path)?, KeySource::File(path.to_owned())));
    }
    let path = data_dir.join(KEY_FILE_NAME);
    match path.try_exists() {
        Ok(true) => Ok((read(&path)?, KeySource::File(path))),
        Ok(false) => {
            let key = VapidKey::generate().map_err(|e| format!("cannot generate a VAPID key: {e}"))?;
            crate::private::write_new(&path, key.to_base64url().as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok((key, KeySource::Generated(path)))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::{signature::Verifier, VerifyingKey};

    use super::*;

    #[test]
    fn the_key_survives_its_file_and_never_shows() {
        let dir = tempfile::tempdir().unwrap();
        let (made, source) = load(None, dir.path()).unwrap();
        assert!(matches!(source, KeySource::Generated(_)));
        let (again, source) = load(None, dir.path()).unwrap();
        assert!(matches!(source, KeySource::File(_)));
        assert_eq!(made.public_key(), again.public_key());
        assert_eq!(URL_SAFE_NO_PAD.decode(made.public_key()).unwrap().len(), 65);
        let shown = format!("{made:?}");
        assert!(!shown.contains(&made.to_base64url()) && shown.contains("redacted"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE_NAME)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(VapidKey::from_base64url("short").is_err());
    }

    #[test]
    fn the_token_is_an_es256_jwt_for_the_push_service() {
        let key = VapidKey::generate().unwrap();
        let header = key.authorization("https://push.example.com", "mailto:ops@example.com", 1_000);
        let (token, k) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(k, key.public_key());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(signed.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.com");
        assert_eq!(claims["exp"], 1_000 + TOKEN_LIFETIME_SECS);
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        let verifying = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).unwrap()).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        verifying.verify(signed.as_bytes(), &signature).unwrap();
    }
}
