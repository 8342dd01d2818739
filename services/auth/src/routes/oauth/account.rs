//! Which account a GitHub identity signs in to: linked before, same verified email, or new;
//! and the audit row of a refused GitHub sign-in.

use authn::Aal;
use db::auth::{User, oauth::NewOAuthUser};
use platform::client::ClientInfo;
use serde_json::json;

use crate::{
    audit::Audit,
    credentials,
    error::ApiError,
    mfa::login::MfaChallenge,
    oauth::{
        github::GitHubProfile,
        usernames::{username_base, username_candidates, with_suffix},
    },
    secrets::new_secret,
    sessions::{self, SignedIn},
    state::AppState,
    validate,
};

/// How the GitHub identity maps to an account.
enum Match {
    /// Linked before: sign in.
    Linked(User),
    /// An account with the same email: link, then sign in.
    SameEmail(User),
    /// Nobody: create the account.
    New { email: String },
}

/// What a GitHub sign-in ends with.
pub(super) enum Outcome {
    SignedIn(Box<SignedIn>),
    /// The account has a second factor: GitHub stands in for the password, not for the code,
    /// so the sign-in finishes at `POST /api/auth/login/mfa` like a password login.
    SecondFactor(MfaChallenge),
}

/// Finds, links or creates the account for `profile` and starts a session (or, for an
/// account with a second factor, asks for it), all audited.
pub(super) async fn sign_in(
    state: &AppState,
    client: &ClientInfo,
    profile: &GitHubProfile,
) -> Result<Outcome, ApiError> {
    let found = match db::auth::oauth::find_user_by_github_id(&state.pool, &profile.id).await? {
        Some(user) => Match::Linked(user),
        None => {
            let Some(email) = profile.email.as_deref() else {
                let error = ApiError::validation(
                    "github_email_unverified",
                    "your GitHub account has no verified primary email address: verify one at GitHub and try again",
                );
                return Err(refused(state, client, None, "github_email_unverified", error).await);
            };
            let email = validate::email(email)?;
            match db::auth::users::find_by_email(&state.pool, &email).await? {
                Some(user) if user.github_id.is_some() => {
                    let error = github_conflict();
                    return Err(refused(
                        state,
                        client,
                        Some(&user),
                        "github_account_conflict",
                        error,
                    )
                    .await);
                }
                Some(user) => Match::SameEmail(user),
                None => Match::New { email },
            }
        }
    };
    // A password lockout does not apply here: it stops password guessing, and GitHub has
    // already authenticated this person (the lock would only shut the owner out).
    if let Match::Linked(user) | Match::SameEmail(user) = &found
        && !user.is_active
    {
        return Err(refused(
            state,
            client,
            Some(user),
            "account_disabled",
            ApiError::AccountDisabled,
        )
        .await);
    }
    // An unverified account with the same email is taken over below, factors and all (its
    // registrant never proved the address); any other existing account keeps its factors.
    let guarded = match &found {
        Match::Linked(user) => Some(user),
        Match::SameEmail(user) if user.is_verified => Some(user),
        Match::SameEmail(_) | Match::New { .. } => None,
    };
    if let Some(user) = guarded
        && db::auth::mfa::status(&state.pool, user.id)
            .await?
            .has_second_factor()
    {
        let tx = state.pool.begin().await?;
        let challenge = crate::mfa::login::challenge(tx, state, user, client).await?;
        return Ok(Outcome::SecondFactor(challenge));
    }
    // New accounts, and unverified ones taken over below, get a password nobody knows: the
    // hash of 256 random bits that are thrown away at once. Hashed before the transaction.
    let needs_unusable_hash = match &found {
        Match::Linked(_) => false,
        Match::SameEmail(user) => !user.is_verified,
        Match::New { .. } => true,
    };
    let unusable_hash = match needs_unusable_hash {
        true => Some(state.passwords.hash(new_secret()).await?),
        false => None,
    };
    let avatar_url = profile
        .avatar_url
        .as_deref()
        .and_then(|url| validate::avatar_url(url).ok());

    // One transaction: link or account, session and audit rows exist together or not at all.
    let mut tx = state.pool.begin().await?;
    // A link is a sign-in too: it gets both rows, so `oauth_login` lists every GitHub sign-in.
    let (user, actions, mut details): (_, &[&str], _) = match found {
        Match::Linked(user) => (user, &["oauth_login"], json!({})),
        Match::SameEmail(user) => {
            let linked =
                db::auth::oauth::link_github(&mut *tx, user.id, &profile.id, avatar_url.as_deref())
                    .await?
                    .ok_or_else(github_conflict)?;
            // Nobody proved this address before GitHub did: whoever registered it may not own
            // it (pre-registration takeover), so nothing they hold may outlive the link.
            let details = match &unusable_hash {
                Some(hash) => {
                    let voided = credentials::void_pre_registration(&mut tx, user.id, hash).await?;
                    json!({
                        "password_cleared": true,
                        "sessions_ended": voided.sessions_ended,
                        "tokens_voided": voided.tokens_voided,
                        "totp_was_confirmed": voided.totp_was_confirmed,
                        "recovery_codes_removed": voided.recovery_codes_removed,
                        "passkeys_removed": voided.passkeys_removed,
                    })
                }
                None => json!({ "password_cleared": false }),
            };
            (linked, &["oauth_link", "oauth_login"], details)
        }
        Match::New { email } => {
            let hash = unusable_hash
                .ok_or_else(|| ApiError::Internal("no password hash for a new account".into()))?;
            let username = free_username(&mut tx, &profile.login).await?;
            let full_name = full_name(profile);
            let new_user = NewOAuthUser {
                email: &email,
                username: &username,
                full_name: &full_name,
                password_hash: &hash,
                github_id: &profile.id,
                avatar_url: avatar_url.as_deref(),
            };
            let user = db::auth::oauth::create_user(&mut *tx, &new_user).await?;
            (user, &["register"], json!({}))
        }
    };
    // Leaves the password's failure count and lock alone: this sign-in says nothing about
    // whoever may be guessing the password.
    db::auth::users::record_passwordless_login(&mut *tx, user.id).await?;
    if let Some(details) = details.as_object_mut() {
        details.insert("provider".into(), json!("github"));
        details.insert("github_id".into(), json!(profile.id));
    }
    // GitHub stands in for the password: one factor, like a password login.
    let signed_in = sessions::sign_in(tx, state, user, client, actions, details, Aal::Aal1).await?;
    Ok(Outcome::SignedIn(Box::new(signed_in)))
}

/// Audits a refused sign-in (as `oauth_login`, failed) and passes the error on.
pub(super) async fn refused(
    state: &AppState,
    client: &ClientInfo,
    user: Option<&User>,
    reason: &str,
    error: ApiError,
) -> ApiError {
    let details = json!({ "provider": "github", "reason": reason });
    let user_id = user.map(|user| user.id);
    Audit::new(&state.pool, client)
        .refused(user_id, "oauth_login", details)
        .await;
    error
}

fn github_conflict() -> ApiError {
    ApiError::Conflict {
        code: "github_account_conflict",
        message: "the account with this email is linked to another GitHub account: sign in with that one",
    }
}

/// The first free username made from the GitHub login (`octocat`, `octocat-2`, ...): neither
/// taken nor reserved (a GitHub login `admin` becomes `admin-2`).
async fn free_username(conn: &mut db::PgConnection, login: &str) -> Result<String, ApiError> {
    let base = username_base(login);
    let candidates = username_candidates(&base, 20);
    let taken = db::auth::oauth::usernames_taken(&mut *conn, &candidates).await?;
    let free = candidates.into_iter().find(|candidate| {
        !taken.contains(&candidate.to_lowercase()) && !validate::is_reserved_username(candidate)
    });
    Ok(free.unwrap_or_else(|| {
        // Twenty namesakes: a random suffix will do.
        let suffix: String = new_secret()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(6)
            .collect();
        with_suffix(&base, &format!("-{}", suffix.to_lowercase()))
    }))
}

/// The GitHub profile's name, or its login. The provider's text, not the client's, but it goes
/// into mails all the same (and PostgreSQL refuses NUL): what a full name may not hold
/// ([`validate::is_hidden_markup`]) is dropped.
fn full_name(profile: &GitHubProfile) -> String {
    let clean = |text: &str| {
        let kept: String = text
            .chars()
            .filter(|c| !validate::is_hidden_markup(*c))
            .take(255)
            .collect();
        kept.trim().to_owned()
    };
    profile
        .name
        .as_deref()
        .map(clean)
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| clean(&profile.login))
}
