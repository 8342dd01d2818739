//! What guards a password against guessing: each guess counts against the client's and the
//! account's budgets, and repeated wrong ones lock the account, telling its owner once.
//! Login and `me/password` (which checks the current password) share these rules, and so do
//! second-factor codes, which complete a password. A new password, changed or reset, ends
//! what the old one earned ([`void_old_password`]).

use db::{
    PgConnection,
    auth::{User, one_time_tokens::Purpose, users::FailedLogin},
    ids::{SessionId, UserId},
};
use platform::client::ClientInfo;
use serde_json::json;

use crate::{
    audit::Audit,
    error::ApiError,
    links::{self, LinkMail},
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

/// Counts a wrong password and answers like one, also when this failure locks the account.
pub async fn wrong_password(state: &AppState, user: &User, client: &ClientInfo) -> ApiError {
    match record_failure(state, user, client).await {
        Ok(failed) => {
            let details = json!({ "reason": "wrong_password", "failed_attempts": failed.attempts });
            Audit::new(&state.pool, client)
                .refused(Some(user.id), "login", details)
                .await;
            ApiError::InvalidCredentials
        }
        Err(error) => error,
    }
}

/// Counts a wrong second-factor code like a wrong password (a code is the rest of the
/// credential: guessing it must cost what guessing a password costs) and answers `invalid_code`.
/// `action` and `reason` name the audit row (`mfa_login`/`wrong_code`, ...).
pub async fn wrong_code(
    state: &AppState,
    user: &User,
    client: &ClientInfo,
    action: &str,
    reason: &str,
) -> ApiError {
    match record_failure(state, user, client).await {
        Ok(failed) => {
            let details = json!({ "reason": reason, "failed_attempts": failed.attempts });
            Audit::new(&state.pool, client)
                .refused(Some(user.id), action, details)
                .await;
            ApiError::InvalidCode
        }
        Err(error) => error,
    }
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
