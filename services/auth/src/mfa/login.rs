//! Logging in with a second factor. A right password earns a short-lived single-use
//! `mfa_token` (only its digest is stored, in `auth.one_time_tokens`) instead of tokens; the
//! token and a TOTP or recovery code then finish the login. Wrong codes count toward the
//! account's lockout and the guess rate limits exactly as wrong passwords do, and the failure
//! count is only cleared once the whole login succeeds: a right password alone must not reset
//! the budget for guessing codes.

use chrono::Utc;
use db::auth::{User, one_time_tokens::Purpose};
use platform::client::ClientInfo;
use serde::Serialize;
use serde_json::json;

use super::{CodeCheck, Notice};
use crate::{
    audit::Audit,
    credentials,
    error::ApiError,
    secrets::{digest, new_secret},
    sessions::{self, SignedIn},
    state::AppState,
};

/// How long an `mfa_token` lasts.
pub const MFA_TOKEN_TTL_SECS: u64 = 5 * 60;

/// The answer to a right password when the account has a second factor: no tokens yet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MfaChallenge {
    /// Always `true`.
    pub mfa_required: bool,
    /// Send it to `POST /api/auth/login/mfa` with a code; works once, for 5 minutes.
    pub mfa_token: String,
    /// What can complete the login: `totp` (`code`) and `recovery_code`.
    pub methods: Vec<&'static str>,
    /// Seconds until `mfa_token` expires.
    pub expires_in: u64,
}

/// Issues the challenge for `user`, whose password was just verified.
pub async fn challenge(
    state: &AppState,
    user: &User,
    client: &ClientInfo,
) -> Result<MfaChallenge, ApiError> {
    let token = new_secret();
    let expires_at = Utc::now() + chrono::Duration::seconds(MFA_TOKEN_TTL_SECS as i64);
    let mut tx = state.pool.begin().await?;
    db::auth::one_time_tokens::create(
        &mut *tx,
        user.id,
        Purpose::MfaLogin,
        &digest(&token),
        expires_at,
    )
    .await?;
    let audit = Audit::new(&state.pool, client);
    let details = json!({ "methods": ["totp", "recovery_code"] });
    let event = audit.event(Some(user.id), "mfa_challenge_issued", true, details);
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    Ok(MfaChallenge {
        mfa_required: true,
        mfa_token: token,
        methods: vec!["totp", "recovery_code"],
        expires_in: MFA_TOKEN_TTL_SECS,
    })
}

/// What completes the login.
#[derive(Debug, Clone)]
pub enum Proof {
    /// Six digits, already checked for shape.
    Totp(String),
    /// A normalised recovery code.
    RecoveryCode(String),
}

impl Proof {
    fn method(&self) -> &'static str {
        match self {
            Proof::Totp(_) => "totp",
            Proof::RecoveryCode(_) => "recovery_code",
        }
    }
}

/// Finishes the login of `mfa_token` with `proof`: the same answer as a password login.
pub async fn complete(
    state: &AppState,
    client: &ClientInfo,
    mfa_token: &str,
    proof: Proof,
) -> Result<SignedIn, ApiError> {
    credentials::count_client_guess(state, client).await?;
    let token_hash = digest(mfa_token);
    let audit = Audit::new(&state.pool, client);
    let user_id =
        db::auth::one_time_tokens::find_usable(&state.pool, Purpose::MfaLogin, &token_hash).await?;
    let user = match user_id {
        Some(id) => db::auth::users::find(&state.pool, id).await?,
        None => None,
    };
    let Some(user) = user else {
        let details = json!({ "reason": "invalid_mfa_token" });
        audit.refused(None, "mfa_login", details).await;
        return Err(ApiError::InvalidMfaToken);
    };
    credentials::count_account_guess(state, &format!("mfa:{}", user.id)).await?;
    if user.locked_at(Utc::now()).is_some() {
        // As with passwords: a locked account takes no code, right or wrong, until the lock
        // ends (or a reset lifts it), and nothing more is counted.
        let details = json!({ "reason": "account_locked", "method": proof.method() });
        audit.refused(Some(user.id), "mfa_login", details).await;
        return Err(ApiError::InvalidCode);
    }
    if !user.is_active {
        let details = json!({ "reason": "account_disabled" });
        audit.refused(Some(user.id), "mfa_login", details).await;
        return Err(ApiError::AccountDisabled);
    }

    let mut tx = state.pool.begin().await?;
    // Spent in the same transaction as the code: a wrong code rolls it back (the user may
    // retry until it expires or the account locks), and of two completions only one wins.
    if db::auth::one_time_tokens::consume(&mut *tx, Purpose::MfaLogin, &token_hash)
        .await?
        .is_none()
    {
        return Err(ApiError::InvalidMfaToken);
    }
    let refused = match &proof {
        Proof::Totp(code) => {
            let check = super::check_totp(&mut tx, state, user.id, code).await?;
            (check != CodeCheck::Accepted).then_some(check.reason())
        }
        Proof::RecoveryCode(code) => {
            let hash = super::recovery::hash(code);
            let spent = db::auth::mfa::use_recovery_code(&mut *tx, user.id, &hash).await?;
            if spent {
                let left = db::auth::mfa::status(&mut *tx, user.id)
                    .await?
                    .recovery_codes_left;
                super::queue_notice(&mut tx, &user, Notice::RecoveryCodeUsed { left }).await?;
                let details = json!({ "recovery_codes_left": left });
                let event = audit.event(Some(user.id), "mfa_recovery_code_used", true, details);
                db::auth::audit::record(&mut *tx, &event).await?;
            }
            (!spent).then_some("wrong_recovery_code")
        }
    };
    if let Some(reason) = refused {
        // Rolls back the token's spend: it stays usable for another try.
        drop(tx);
        return Err(credentials::wrong_code(state, &user, client, "mfa_login", reason).await);
    }
    db::auth::users::record_successful_login(&mut *tx, user.id).await?;
    let details = json!({ "mfa": proof.method() });
    let signed_in = sessions::sign_in(tx, state, user, client, &["login"], details).await?;
    if matches!(proof, Proof::RecoveryCode(_)) {
        state.mail_wakeup.notify_one();
    }
    Ok(signed_in)
}
