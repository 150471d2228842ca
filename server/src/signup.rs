//! Who may sign up (`--signup`), who administers the server, and the
//! invitation links administrators make.
//!
//! The modes follow Synapse and Mattermost: `closed` takes no sign-up at all,
//! not even with an invitation link (Synapse ignores registration tokens when
//! registration is off; Mattermost's invite links stop when account creation
//! is off), so closing a server never leaves a forgotten link open. `invite`
//! takes sign-ups with a valid link only. In every mode the first account may
//! sign up, so a fresh server can be set up by its administrator: that
//! account is the administrator, and so is every account `--admin` names.
//!
//! A link's token is 32 random bytes; only its SHA-256 is stored, and is
//! what the token is looked up by, so neither a leaked database nor the
//! lookup's timing gives a usable token away.

use std::sync::OnceLock;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};
use wire::{
    api::{CreateInvite, InviteInfo, SignupInfo, SignupMode},
    model::{Millis, UserId},
    protocol::{ApiError, ErrorCode},
};

use crate::{
    clock::now_millis,
    store::{
        signup::InviteRecord,
        users::UserRecord,
        DynStore, StoreError,
    },
};

/// The slot the first account takes, under a key no token's hash can be
/// (those are base64): of two racing first sign-ups, one gets it.
const FIRST_ACCOUNT: &str = "first-account";

/// Longest token looked up; real ones have 43 characters.
const MAX_TOKEN_CHARS: usize = 64;

const DAY_MS: Millis = 24 * 3600 * 1000;

/// Most invitation links kept at once (expired ones included, until revoked).
pub const MAX_INVITES: usize = 100;

/// Why a sign-up is refused.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("sign-ups are closed")]
    Closed,
    #[error("an invitation is required")]
    InviteRequired,
    #[error("the invitation is not valid")]
    InviteInvalid,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SignupError> for ApiError {
    fn from(e: SignupError) -> Self {
        match e {
            SignupError::Closed => ApiError::new(ErrorCode::SignupClosed, "this server takes no new sign-ups"),
            SignupError::InviteRequired => {
                ApiError::new(ErrorCode::InviteRequired, "this server takes sign-ups with an invitation link only")
            }
            SignupError::InviteInvalid => ApiError::new(
                ErrorCode::InviteInvalid,
                "this invitation link is not valid: it may have expired, been used up or been revoked",
            ),
            SignupError::Store(e) => e.into(),
        }
    }
}

/// What a sign-up that passed [`Signup::check`] may take.
#[derive(Debug)]
pub enum Ticket {
    /// Open sign-ups: nothing to take.
    Open,
    /// No account exists yet: the first account's slot.
    First,
    /// A use of this invitation.
    Invite(InviteRecord),
}

/// The slot a sign-up took, given back if the account is not made after all.
#[derive(Debug)]
pub struct Claim(Option<(String, u32)>);

pub struct Signup {
    mode: SignupMode,
    /// Lower-cased e-mail addresses of the administrators `--admin` names.
    admins: Vec<String>,
    store: DynStore,
    /// The first account, once there is one (it stays first).
    first: OnceLock<UserId>,
}

impl Signup {
    pub fn new(mode: SignupMode, admins: Vec<String>, store: DynStore) -> Signup {
        Signup { mode, admins, store, first: OnceLock::new() }
    }

    async fn first_user(&self) -> Result<Option<UserId>, StoreError> {
        if let Some(first) = self.first.get() {
            return Ok(Some(first.clone()));
        }
        let found = self.store.first_user().await?;
        Ok(found.map(|id| self.first.get_or_init(|| id).clone()))
    }

    /// Who may sign up now: anyone, until the first account exists.
    pub async fn info(&self) -> Result<SignupInfo, StoreError> {
        let mode = if self.first_user().await?.is_none() { SignupMode::Open } else { self.mode };
        Ok(SignupInfo { mode })
    }

    pub async fn is_admin(&self, user: &UserRecord) -> Result<bool, StoreError> {
        Ok(self.admins.contains(&user.email) || self.first_user().await? == Some(user.id.clone()))
    }

    /// Whether a sign-up with this invitation token may go ahead; checked
    /// before the password is hashed, so refusals cost little.
    pub async fn check(&self, token: Option<&str>) -> Result<Ticket, SignupError> {
        if self.mode == SignupMode::Open {
            return Ok(Ticket::Open);
        }
        if self.first_user().await?.is_none() {
            return Ok(Ticket::First);
        }
        if self.mode == SignupMode::Closed {
            return Err(SignupError::Closed);
        }
        let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or(SignupError::InviteRequired)?;
        if token.len() > MAX_TOKEN_CHARS {
            return Err(SignupError::InviteInvalid);
        }
        let invite = self.store.invite(&token_id(token)).await?.ok_or(SignupError::InviteInvalid)?;
        if invite.expires_ms <= now_millis() || self.store.uses(&invite.id).await? >= invite.max_uses {
            return Err(SignupError::InviteInvalid);
        }
        Ok(Ticket::Invite(invite))
    }

    /// Takes what the ticket promised: a use of the invitation (of two
    /// racing for the last, one gets it), or the first account's slot.
    pub async fn claim(&self, ticket: Ticket) -> Result<Claim, SignupError> {
        let now = now_millis();
        match ticket {
            Ticket::Open => Ok(Claim(None)),
            Ticket::First => match self.store.claim_use(FIRST_ACCOUNT, 1, now).await? {
                true => Ok(Claim(Some((FIRST_ACCOUNT.to_owned(), 1)))),
                false if self.mode == SignupMode::Closed => Err(SignupError::Closed),
                false => Err(SignupError::InviteRequired),
            },
            Ticket::Invite(invite) => {
                // Slots after those taken first, then any a failed sign-up gave back.
                let used = self.store.uses(&invite.id).await?.min(invite.max_uses);
                for n in (used + 1..=invite.max_uses).chain(1..=used) {
                    if !self.store.claim_use(&invite.id, n, now).await? {
                        continue;
                    }
                    let claim = Claim(Some((invite.id.clone(), n)));
                    // Revoked meanwhile: the use goes with it.
                    if self.store.invite(&invite.id).await?.is_none() {
                        self.release(claim).await;
                        return Err(SignupError::InviteInvalid);
                    }
                    return Ok(claim);
                }
                Err(SignupError::InviteInvalid)
            }
        }
    }

    /// Gives a claimed slot back, when the account could not be made.
    pub async fn release(&self, claim: Claim) {
        if let Some((id, n)) = claim.0 {
            if let Err(e) = self.store.release_use(&id, n).await {
                tracing::warn!(error = %e, "a sign-up's invitation use was not given back");
            }
        }
    }

    /// A new invitation link by `by`: its token (shown this once) and how it reads.
    pub async fn create_invite(&self, by: &UserId, req: CreateInvite) -> Result<(String, InviteInfo), ApiError> {
        let req = req.check()?;
        if self.store.invites().await?.len() >= MAX_INVITES {
            let full = format!("there are {MAX_INVITES} invitation links already: revoke some first");
            return Err(ApiError::new(ErrorCode::Conflict, full));
        }
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| ApiError::new(ErrorCode::Internal, format!("no random token: {e}")))?;
        let token = URL_SAFE_NO_PAD.encode(raw);
        let now = now_millis();
        let invite = InviteRecord {
            id: token_id(&token),
            created_by: by.clone(),
            created_ms: now,
            expires_ms: now + Millis::from(req.valid_days) * DAY_MS,
            max_uses: req.max_uses,
        };
        self.store.insert_invite(&invite).await?;
        Ok((token, info(&invite, 0)))
    }

    /// Every invitation link, newest first.
    pub async fn invites(&self) -> Result<Vec<InviteInfo>, StoreError> {
        Ok(self.store.invites().await?.iter().map(|(invite, used)| info(invite, *used)).collect())
    }

    /// Revokes a link; `false` if there was none.
    pub async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        self.store.remove_invite(id).await
    }
}

/// The stored id of a token: its SHA-256, base64url.
pub fn token_id(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

fn info(invite: &InviteRecord, used: u32) -> InviteInfo {
    InviteInfo {
        id: invite.id.clone(),
        created_ms: invite.created_ms,
        expires_ms: invite.expires_ms,
        max_uses: invite.max_uses,
        uses_left: invite.max_uses.saturating_sub(used),
    }
}
