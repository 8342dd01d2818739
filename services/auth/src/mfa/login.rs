//! Logging in with a second factor. A right password earns a short-lived single-use
//! `mfa_token` (only its digest is stored, in `auth.one_time_tokens`) instead of tokens; the
//! token and a TOTP or recovery code then finish the login. Wrong codes count toward the
//! account's lockout and the guess rate limits exactly as wrong passwords do, and the failure
//! count is only cleared once the whole login succeeds: a right password alone must not reset
//! the budget for guessing codes.

use authn::Aal;
use chrono::Utc;
use db::auth::{User, one_time_tokens::Purpose};
use platform::client::ClientInfo;
use serde::Serialize;
use serde_json::json;
use sqlx::{Postgres, Transaction};

use super::proof::{Proof, ProofAttempt};
use crate::{
    audit::Audit,
    credentials,
    device::Budget,
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
    /// What can complete the login: `totp` (`code`), `recovery_code`, `passkey` (start with
    /// `POST /api/auth/login/mfa/passkey`).
    pub methods: Vec<&'static str>,
    /// Seconds until `mfa_token` expires.
    pub expires_in: u64,
}

/// Issues the challenge for `user`, whose first factor was just verified, committing `tx`:
/// a password login passes the transaction holding the account's row, so that a reset
/// committing after the check waits for the challenge, then voids it.
pub async fn challenge(
    mut tx: Transaction<'_, Postgres>,
    state: &AppState,
    user: &User,
    client: &ClientInfo,
) -> Result<MfaChallenge, ApiError> {
    let status = db::auth::mfa::status(&mut *tx, user.id).await?;
    let methods = methods(&status);
    let token = new_secret();
    let expires_at = Utc::now() + chrono::Duration::seconds(MFA_TOKEN_TTL_SECS as i64);
    db::auth::one_time_tokens::create(
        &mut *tx,
        user.id,
        Purpose::MfaLogin,
        &digest(&token),
        expires_at,
    )
    .await?;
    let audit = Audit::new(&state.pool, client);
    let details = json!({ "methods": methods });
    let event = audit.event(Some(user.id), "mfa_challenge_issued", true, details);
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    Ok(MfaChallenge {
        mfa_required: true,
        mfa_token: token,
        methods,
        expires_in: MFA_TOKEN_TTL_SECS,
    })
}

/// The factors that can finish a login: recovery codes stand in for the TOTP authenticator
/// (and keep working while any are left).
fn methods(status: &db::auth::mfa::MfaStatus) -> Vec<&'static str> {
    let mut methods = Vec::new();
    if status.totp {
        methods.push("totp");
    }
    if status.totp || status.recovery_codes_left > 0 {
        methods.push("recovery_code");
    }
    if status.passkeys > 0 {
        methods.push("passkey");
    }
    methods
}

/// Finishes the login of `mfa_token` with `proof`: the same answer as a password login, with
/// an `aal2` session. A `device_token` that verifies for the account makes the proof the
/// device's ([`Budget`]).
pub async fn complete(
    state: &AppState,
    client: &ClientInfo,
    mfa_token: &str,
    proof: Proof,
    device_token: Option<&str>,
) -> Result<SignedIn, ApiError> {
    credentials::count_client_guess(state, client).await?;
    let token_hash = digest(mfa_token);
    let user_id =
        db::auth::one_time_tokens::find_usable(&state.pool, Purpose::MfaLogin, &token_hash).await?;
    let user = match user_id {
        Some(id) => db::auth::users::find(&state.pool, id).await?,
        None => None,
    };
    let Some(user) = user else {
        let audit = Audit::new(&state.pool, client);
        let invalid = ApiError::InvalidMfaToken;
        return Err(audit
            .refuse(None, "mfa_login", "invalid_mfa_token", invalid)
            .await);
    };
    let attempt = ProofAttempt {
        state,
        client,
        user: &user,
        proof: &proof,
        action: "mfa_login",
        budget: Budget::of(state, &user, device_token),
    };
    attempt.admit().await?;

    let mut tx = credentials::begin_on_account(state, user.id).await?;
    // Spent in the same transaction as the code: a wrong code rolls it back (the user may
    // retry until it expires or the account locks), and of two completions only one wins.
    if db::auth::one_time_tokens::consume(&mut *tx, Purpose::MfaLogin, &token_hash)
        .await?
        .is_none()
    {
        return Err(ApiError::InvalidMfaToken);
    }
    // A refused proof rolls back the token's spend too: it stays usable for another try.
    let mut tx = attempt.spend(tx).await?;
    let user = db::auth::users::record_successful_login(&mut *tx, user.id)
        .await?
        .ok_or(ApiError::InvalidMfaToken)?;
    if !user.is_active {
        // Checked again on the locked row, after the proof: a deactivation that committed
        // since the account was read ended every session and must end this sign-in too, or
        // reactivation would bring back a session made meanwhile (one that commits later
        // waits for the row, then ends the session made here).
        drop(tx);
        let audit = Audit::new(&state.pool, client);
        let disabled = ApiError::AccountDisabled;
        return Err(audit
            .refuse(Some(user.id), "mfa_login", "account_disabled", disabled)
            .await);
    }
    let details = json!({ "mfa": proof.method() });
    let signed_in =
        sessions::sign_in(tx, state, user, client, &["login"], details, Aal::Aal2).await?;
    if proof.mails_the_owner() {
        state.mail_wakeup.notify_one();
    }
    Ok(signed_in)
}
