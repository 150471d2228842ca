//! Each user's storage quota: what their uploads take (every file of theirs
//! counts its content in full, even content deduplicated with other files,
//! plus their avatar's stored images) against `--upload-quota-mib`.

use wire::{
    model::UserId,
    protocol::{ApiError, ErrorCode},
};

use crate::{avatar, blobs::Blobs, store::DynStore, store::StoreError};

#[derive(Clone, Copy, Debug)]
pub struct Quota {
    pub limit: u64,
}

/// An upload refused for the quota.
#[derive(Debug, PartialEq, Eq)]
pub struct OverQuota {
    pub used: u64,
    /// What the upload needs; `None` when its body passed the room left before its end.
    pub adding: Option<u64>,
    pub limit: u64,
}

/// What the uploads of one user take, and what one more may.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub used: u64,
    pub quota: Quota,
}

impl Quota {
    /// What `user`'s files take, and with `with_avatar` their avatar too (an
    /// avatar upload leaves it out: the new one replaces it).
    pub async fn usage(
        self,
        store: &DynStore,
        avatars: &dyn Blobs,
        user: &UserId,
        with_avatar: bool,
    ) -> Result<Usage, StoreError> {
        let mut used = store.bytes_used_by(user).await?;
        if with_avatar {
            if let Some(version) = store.user_by_id(user).await?.and_then(|u| u.avatar) {
                // Unreadable avatar storage is the operator's problem, not the user's.
                used += avatar::stored_bytes(avatars, user, &version).await.unwrap_or(0);
            }
        }
        Ok(Usage { used, quota: self })
    }
}

impl Usage {
    /// Bytes one more upload may have.
    pub fn room(&self) -> u64 {
        self.quota.limit.saturating_sub(self.used)
    }

    /// Whether an upload of `adding` bytes fits.
    pub fn admit(&self, adding: u64) -> Result<(), OverQuota> {
        match adding <= self.room() {
            true => Ok(()),
            false => Err(self.refuse(Some(adding))),
        }
    }

    pub fn refuse(&self, adding: Option<u64>) -> OverQuota {
        OverQuota { used: self.used, adding, limit: self.quota.limit }
    }
}

impl From<OverQuota> for ApiError {
    fn from(e: OverQuota) -> Self {
        let needs = match e.adding {
            Some(n) => format!("this upload needs {}", bytes(n)),
            None => format!("this upload is larger than the {} left", bytes(e.limit.saturating_sub(e.used))),
        };
        ApiError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "storage quota exceeded: your uploads take {} of the {} allowed and {needs}; nothing was stored \
                 (files never posted are deleted after a while)",
                bytes(e.used),
                bytes(e.limit),
            ),
        )
    }
}

/// `12345 bytes (12.1 KiB)`: exact, and readable.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let (mut value, mut unit) = (n as f64, None);
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = Some(u);
    }
    match unit {
        Some(unit) => format!("{n} bytes ({value:.1} {unit})"),
        None => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_fits_the_room_left_exactly() {
        let usage = Usage { used: 700, quota: Quota { limit: 1000 } };
        assert_eq!(usage.room(), 300);
        assert!(usage.admit(300).is_ok());
        assert_eq!(usage.admit(301), Err(OverQuota { used: 700, adding: Some(301), limit: 1000 }));
        let over = Usage { used: 1200, quota: Quota { limit: 1000 } };
        assert_eq!(over.room(), 0, "a lowered quota leaves no room, not an overflow");
    }

    #[test]
    fn the_refusal_says_what_is_used_and_allowed() {
        let e = ApiError::from(OverQuota { used: 3 << 20, adding: Some(1536), limit: 4 << 20 });
        assert_eq!(e.code, ErrorCode::QuotaExceeded);
        assert!(e.message.contains("3145728 bytes (3.0 MiB) of the 4194304 bytes (4.0 MiB)"), "{}", e.message);
        assert!(e.message.contains("needs 1536 bytes (1.5 KiB)"), "{}", e.message);
    }
}
