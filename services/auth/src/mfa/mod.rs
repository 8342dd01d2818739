//! The second factor: a TOTP authenticator, the recovery codes that stand in for it, the
//! owner's mails about both, the login challenge between a right password and a code, and
//! the proof that login and step-up share.

pub mod cipher;
pub mod login;
pub mod proof;
pub mod recovery;
pub mod totp;

use db::{PgConnection, auth::User, ids::UserId};

use crate::{error::ApiError, mail::SecurityNotice, state::AppState};

/// How checking a TOTP code ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Accepted,
    Wrong,
    /// Right, but its step (or a later one) was already used: a code is good once.
    Replayed,
}

impl CodeCheck {
    /// The audit reason of a refused code.
    pub fn reason(self) -> &'static str {
        match self {
            CodeCheck::Accepted => "accepted",
            CodeCheck::Wrong => "wrong_code",
            CodeCheck::Replayed => "replayed_code",
        }
    }
}

/// Checks `code` against the user's confirmed factor and, when right, spends its step, inside
/// the caller's transaction (so a refused action leaves the step unspent).
pub async fn check_totp(
    conn: &mut PgConnection,
    state: &AppState,
    user_id: UserId,
    code: &str,
) -> Result<CodeCheck, ApiError> {
    let factor = db::auth::mfa::find_totp(&mut *conn, user_id)
        .await?
        .filter(|factor| factor.confirmed_at.is_some())
        .ok_or_else(not_enabled)?;
    let secret = state
        .mfa_cipher
        .open(user_id, &factor.secret_ciphertext)
        .map_err(ApiError::Internal)?;
    let Some(step) = totp::matching_step(&secret, code, totp::now()).map_err(ApiError::Internal)?
    else {
        return Ok(CodeCheck::Wrong);
    };
    Ok(
        match db::auth::mfa::accept_totp_step(&mut *conn, user_id, step).await? {
            true => CodeCheck::Accepted,
            false => CodeCheck::Replayed,
        },
    )
}

/// A six-digit code from the request, or a clear 422.
pub fn parse_code(raw: &str) -> Result<String, ApiError> {
    totp::parse_code(raw).ok_or_else(|| {
        ApiError::validation(
            "invalid_code_format",
            "code must be the 6 digits your authenticator app shows",
        )
    })
}

/// A recovery code from the request (normalised), or a clear 422.
pub fn parse_recovery_code(raw: &str) -> Result<String, ApiError> {
    recovery::normalize(raw).ok_or_else(|| {
        ApiError::validation(
            "invalid_recovery_code_format",
            "recovery_code must be one of your 16-character recovery codes (xxxx-xxxx-xxxx-xxxx)",
        )
    })
}

pub fn not_enabled() -> ApiError {
    ApiError::Conflict {
        code: "mfa_not_enabled",
        message: "two-factor sign-in is not on for this account",
    }
}

pub fn already_enabled() -> ApiError {
    ApiError::Conflict {
        code: "mfa_already_enabled",
        message: "two-factor sign-in is already on: turn it off first to enroll another authenticator",
    }
}

/// Replaces every recovery code of the user with ten new ones and returns them in the clear:
/// the only time anyone sees them.
pub async fn new_recovery_codes(
    conn: &mut PgConnection,
    user_id: UserId,
) -> Result<Vec<String>, sqlx::Error> {
    let codes = recovery::generate();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|code| recovery::normalize(code))
        .map(|code| recovery::hash(&code))
        .collect();
    db::auth::mfa::replace_recovery_codes(conn, user_id, &hashes).await?;
    Ok(codes)
}

/// What the owner is told about their second factor.
#[derive(Debug, Clone, Copy)]
pub enum Notice {
    Enabled,
    Disabled,
    RecoveryCodeUsed {
        left: i64,
    },
    RecoveryCodesRegenerated,
    /// An admin removed the factor (the owner lost it, or asked support to).
    ResetByAdmin,
}

/// Queues the notice in the caller's transaction (the outbox worker sends it after commit).
pub async fn queue_notice(
    conn: &mut PgConnection,
    user: &User,
    notice: Notice,
) -> Result<(), sqlx::Error> {
    let (subject, what, kind) = match notice {
        Notice::Enabled => (
            "Two-factor sign-in is on",
            "two-factor sign-in was turned on for your DevMentor account. Keep your recovery \
             codes somewhere safe."
                .to_owned(),
            "mfa_enabled",
        ),
        Notice::Disabled => (
            "Two-factor sign-in was turned off",
            "two-factor sign-in was turned off for your DevMentor account; your password alone \
             now signs in."
                .to_owned(),
            "mfa_disabled",
        ),
        Notice::RecoveryCodeUsed { left } => (
            "A recovery code was used",
            format!(
                "a recovery code was used to sign in to your DevMentor account; {left} left. \
                 Generate new ones when you run low."
            ),
            "mfa_recovery_code_used",
        ),
        Notice::RecoveryCodesRegenerated => (
            "New recovery codes",
            "new recovery codes were generated for your DevMentor account; the old ones no \
             longer work."
                .to_owned(),
            "mfa_recovery_codes_regenerated",
        ),
        Notice::ResetByAdmin => (
            "Two-factor sign-in was reset by an administrator",
            "an administrator removed the authenticator, recovery codes and passkeys of your \
             DevMentor account; your password alone now signs in. Set up a new authenticator under your \
             account settings."
                .to_owned(),
            "mfa_reset_by_admin",
        ),
    };
    SecurityNotice {
        kind,
        subject,
        what: &what,
        if_not_you: "If this wasn't you, change your password now and review your sessions.",
    }
    .queue(conn, user)
    .await
}
