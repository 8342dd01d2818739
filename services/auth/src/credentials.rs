//! What guards a password against guessing: each guess counts against the client's and the
//! account's budgets, and repeated wrong ones lock the account, telling its owner once.
//! Login and `me/password` (which checks the current password) share these rules, and so do
//! second-factor codes, which complete a password. A new password, changed or reset, ends
//! what the old one earned ([`void_old_password`]); an unverified account taken over by the
//! owner of its address ends everything its registrant held ([`void_pre_registration`]).

use chrono::Utc;
use db::{
    PgConnection, Postgres, Transaction,
    auth::{User, one_time_tokens::Purpose, users::FailedLogin},
    ids::{SessionId, UserId},
};
use platform::client::ClientInfo;
use serde_json::json;

use crate::{
    audit::Audit,
    device::Budget,
    error::ApiError,
    links::{self, LinkMail},
    password::Verified,
    rate_limit::{Rule, client_key},
    state::AppState,
};

/// Counts one password guess against the client IP's budget and the account's (`account`
/// names its bucket), each `RATE_LIMIT_LOGIN_PER_MINUTE`.
pub async fn count_guess(
    state: &AppState,
    client: &ClientInfo,
    account: &str,
) -> Result<(), ApiError> {
    count_client_guess(state, client).await?;
    count_account_guess(state, account).await
}

fn guess_rule(state: &AppState) -> Rule {
    Rule::per_minute("login", state.config.rate_limit_login_per_minute)
}

/// The client half of [`count_guess`], for a guess whose account is not known yet.
pub async fn count_client_guess(state: &AppState, client: &ClientInfo) -> Result<(), ApiError> {
    let key = format!("ip:{}", client_key(client));
    state.limiter.check(guess_rule(state), &key).await?;
    Ok(())
}

/// The account half of [`count_guess`].
pub async fn count_account_guess(state: &AppState, account: &str) -> Result<(), ApiError> {
    state.limiter.check(guess_rule(state), account).await?;
    Ok(())
}

/// Counts a wrong password against `budget` and answers like one, also when this failure
/// locks the account (or spends the device's budget).
pub async fn wrong_password(
    state: &AppState,
    user: &User,
    client: &ClientInfo,
    budget: Budget,
) -> ApiError {
    match count_failure(state, user, client, budget, "wrong_password").await {
        Ok(details) => {
            Audit::new(&state.pool, client)
                .refused(Some(user.id), "login", details)
                .await;
            ApiError::InvalidCredentials
        }
        Err(error) => error,
    }
}

/// Checks `password`, sent as `user`'s current password to prove a change (`action`): a guess
/// like a login's, which the caller has counted with [`count_guess`]. It costs one
/// verification whatever the outcome (503 `busy` when every hashing slot is taken); a locked
/// account takes no password, right or wrong; a wrong one is audited as a refused `action` and
/// counts toward the lockout.
pub async fn check_current_password(
    state: &AppState,
    client: &ClientInfo,
    user: &User,
    password: String,
    action: &str,
) -> Result<(), ApiError> {
    let stored = Some(user.password_hash.clone());
    let verified = state.passwords.verify(password, stored).await?;
    if user.locked_at(Utc::now()).is_some() {
        return Err(ApiError::InvalidCredentials);
    }
    if verified == Verified::No {
        let details = json!({ "reason": "wrong_password" });
        Audit::new(&state.pool, client)
            .refused(Some(user.id), action, details)
            .await;
        return Err(wrong_password(state, user, client, Budget::Account).await);
    }
    Ok(())
}

/// Counts a wrong second-factor code like a wrong password (a code is the rest of the
/// credential: guessing it must cost what guessing a password costs), against `budget`, and
/// answers `invalid_code`. `action` and `reason` name the audit row (`mfa_login`/`wrong_code`,
/// ...).
pub async fn wrong_code(
    state: &AppState,
    user: &User,
    client: &ClientInfo,
    action: &str,
    reason: &str,
    budget: Budget,
) -> ApiError {
    match count_failure(state, user, client, budget, reason).await {
        Ok(details) => {
            Audit::new(&state.pool, client)
                .refused(Some(user.id), action, details)
                .await;
            ApiError::InvalidCode
        }
        Err(error) => error,
    }
}

/// Begins a transaction that first locks `user_id`'s account row, for work on rows that hang
/// off the account: one-time tokens (mailed links, `mfa_token`s), the second factor, passkeys,
/// the sessions' proofs. A change of the account's credentials (password or email change,
/// reset, factor reset, GitHub takeover) takes the account's row first and then voids or
/// deletes those rows; a transaction that took one of them first and the account's row after
/// (spending a link or an `mfa_token`, recording a passkey's use) deadlocked with it, and
/// PostgreSQL failed one of the two with a 500. Taking the account's row first, they queue.
pub async fn begin_on_account(
    state: &AppState,
    user_id: UserId,
) -> Result<Transaction<'static, Postgres>, ApiError> {
    let mut tx = state.pool.begin().await?;
    db::auth::users::lock_for_sign_in(&mut *tx, user_id).await?;
    Ok(tx)
}

/// Ends what the password being replaced earned, in the transaction that stores the new
/// one: outstanding reset links, second-factor logins begun with it (a challenge earned with
/// the old password must not finish a login after the change), and every session but
/// `keep`, revoked with `reason`. Returns how many sessions ended.
pub async fn void_old_password(
    conn: &mut PgConnection,
    user_id: UserId,
    reason: &str,
    keep: Option<SessionId>,
) -> Result<u64, sqlx::Error> {
    db::auth::one_time_tokens::void_outstanding(&mut *conn, user_id, Purpose::ResetPassword)
        .await?;
    db::auth::one_time_tokens::void_outstanding(&mut *conn, user_id, Purpose::MfaLogin).await?;
    db::auth::sessions::revoke_all_for_user(&mut *conn, user_id, reason, keep).await
}

/// What [`void_pre_registration`] ended, for the audit row.
#[derive(Debug, Clone, Copy)]
pub struct PreRegistrationVoided {
    pub sessions_ended: u64,
    /// One-time tokens of every purpose: mailed links, login challenges.
    pub tokens_voided: u64,
    pub totp_was_confirmed: bool,
    pub recovery_codes_removed: i64,
    pub passkeys_removed: u64,
}

/// Takes an unverified account from whoever registered it, in the transaction that links it
/// to the identity that just proved its address (pre-registration takeover): the password
/// becomes `unusable_hash`, and nothing the registrant may hold survives. Every outstanding
/// one-time token whatever its purpose, the TOTP factor (pending or confirmed) and recovery
/// codes, every passkey and unfinished ceremony, and every session (revoked as
/// `oauth_link`). It ends what a new password ends too ([`void_old_password`]), so a grant
/// added there is ended here as well.
pub async fn void_pre_registration(
    conn: &mut PgConnection,
    user_id: UserId,
    unusable_hash: &str,
) -> Result<PreRegistrationVoided, sqlx::Error> {
    db::auth::users::update_password_hash(&mut *conn, user_id, unusable_hash).await?;
    // Voided first, so that the count covers every purpose, including the ones the calls
    // below void again.
    let tokens_voided =
        db::auth::one_time_tokens::void_all_outstanding(&mut *conn, user_id).await?;
    let factor = db::auth::mfa::status(&mut *conn, user_id).await?;
    db::auth::mfa::remove(&mut *conn, user_id).await?;
    let passkeys_removed = db::auth::passkeys::delete_all(&mut *conn, user_id).await?;
    db::auth::passkeys::delete_ceremonies(&mut *conn, user_id).await?;
    let sessions_ended = void_old_password(&mut *conn, user_id, "oauth_link", None).await?;
    Ok(PreRegistrationVoided {
        sessions_ended,
        tokens_voided,
        totp_was_confirmed: factor.totp,
        recovery_codes_removed: factor.recovery_codes_left,
        passkeys_removed,
    })
}

/// Counts a wrong guess against the account's `budget`; answers the audit row's details, which say why
/// (`reason`) and what was counted.
async fn count_failure(
    state: &AppState,
    user: &User,
    client: &ClientInfo,
    budget: Budget,
    reason: &str,
) -> Result<serde_json::Value, ApiError> {
    Ok(match budget {
        Budget::Account => {
            let failed = record_failure(state, user, client).await?;
            json!({ "reason": reason, "failed_attempts": failed.attempts })
        }
        // Counted already: the guess took its place in the device's budget when admitted.
        Budget::Device { device, .. } => json!({ "reason": reason, "device_id": device.0 }),
    })
}

/// Counts the failure; the one that locks the account also tells its owner (a reset link)
/// and writes the `account_locked` audit row, in the same transaction as the lock, so the
/// owner hears of each lock exactly once.
async fn record_failure(
    state: &AppState,
    user: &User,
    client: &ClientInfo,
) -> Result<FailedLogin, ApiError> {
    let mut tx = state.pool.begin().await?;
    let failed = db::auth::users::record_failed_login(
        &mut *tx,
        user.id,
        state.config.login_max_failed_attempts,
        state.config.login_lockout_secs as f64,
    )
    .await?;
    let Some(until) = failed.locked_until.filter(|_| failed.newly_locked) else {
        tx.commit().await?;
        return Ok(failed);
    };
    // A deactivated account gets no mail, as with forgot-password: it cannot use the link.
    let notified = user.is_active;
    if notified {
        let notice = LinkMail::AccountLocked {
            attempts: failed.attempts,
        };
        links::queue(&mut tx, &state.config, user, notice).await?;
    }
    let details = json!({ "failed_attempts": failed.attempts, "locked_until": until, "owner_notified": notified });
    let audit = Audit::new(&state.pool, client);
    let event = audit.event(Some(user.id), "account_locked", true, details);
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    crate::metrics::account_locked();
    if notified {
        state.mail_wakeup.notify_one();
    }
    Ok(failed)
}
