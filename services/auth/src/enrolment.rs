//! What adding a credential that signs in or stands as a second factor (a TOTP authenticator,
//! a passkey) needs beyond the bearer token. An access token is something a thief can hold
//! for a while (a leaked log, an XSS): with the token alone they could add their own
//! authenticator, and a passkey keeps signing in after the owner resets the password. So the
//! caller proves more, by what the account has:
//!
//! - a second factor already: an `aal2` token (the factor proved within `AAL2_MAX_AGE_SECS`,
//!   as for every sensitive action); the password alone is not enough;
//! - otherwise the current password, a guess like a login's (counted, and a wrong one counts
//!   toward the lockout);
//! - an account linked to GitHub may instead show a session that signed in within the last
//!   [`RECENT_SIGN_IN_SECS`]: one made from GitHub has a password nobody knows (the hash of
//!   discarded random bits, which nothing tells apart from a chosen one).

use authn::{Aal, AuthError};
use db::auth::User;
use platform::client::ClientInfo;
use serde::Deserialize;

use crate::{credentials, error::ApiError, sessions::CurrentSession, state::AppState};

/// How recently a GitHub-linked account's session must have signed in to add a credential
/// without the password: the session's start, which refreshing does not move.
pub const RECENT_SIGN_IN_SECS: i64 = 10 * 60;

/// The body of `mfa/totp/enroll` and `passkeys/register/start`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentProof {
    /// The account's current password. Not needed when the account already has a second
    /// factor (send an `aal2` token instead, after `POST /api/auth/step-up`), nor for an
    /// account linked to GitHub whose session signed in within the last 10 minutes.
    pub password: Option<String>,
}

/// Refuses to add a credential (`action` names the audit row and the guess bucket) to `user`,
/// the caller's account, without the proof the account's state asks for (see the module):
/// 403 `step_up_required`, 422 `proof_required`, or the password check's answers.
pub async fn require(
    state: &AppState,
    client: &ClientInfo,
    session: &CurrentSession,
    user: &User,
    proof: EnrolmentProof,
    action: &str,
) -> Result<(), ApiError> {
    let status = db::auth::mfa::status(&state.pool, user.id).await?;
    if status.has_second_factor() {
        // Read here, not only with the session: a factor confirmed a moment ago counts.
        return match session.aal() {
            Aal::Aal2 => Ok(()),
            _ => Err(AuthError::StepUpRequired.into()),
        };
    }
    if let Some(password) = proof.password {
        let account = format!("{action}:{}", user.id);
        credentials::count_guess(state, client, &account).await?;
        return credentials::check_current_password(state, client, user, password, action).await;
    }
    if user.github_id.is_some()
        && db::auth::sessions::signed_in_within(
            &state.pool,
            session.session_id,
            RECENT_SIGN_IN_SECS,
        )
        .await?
    {
        return Ok(());
    }
    Err(ApiError::validation(
        "proof_required",
        match user.github_id {
            Some(_) => {
                "send password (your current password), or sign in with GitHub again and add \
                 it within 10 minutes"
            }
            None => {
                "send password: adding a second factor or a passkey needs your current password"
            }
        },
    ))
}
