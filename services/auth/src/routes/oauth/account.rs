//! Which account a GitHub identity signs in to: linked before, same verified email, or new.

use db::auth::{User, oauth::NewOAuthUser};
use platform::client::ClientInfo;
use serde_json::json;

use super::refused;
use crate::{
    error::ApiError,
    oauth::{GitHubProfile, username_base, username_candidates, with_suffix},
    routes::views::SignedIn,
    sessions,
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

/// Finds, links or creates the account for `profile` and starts a session, all audited.
pub(super) async fn sign_in(
    state: &AppState,
    client: &ClientInfo,
    profile: &GitHubProfile,
) -> Result<SignedIn, ApiError> {
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
    // New accounts, and unverified ones taken over below, get a password nobody knows: the
    // hash of 256 random bits that are thrown away at once. Hashed before the transaction.
    let needs_unusable_hash = match &found {
        Match::Linked(_) => false,
        Match::SameEmail(user) => !user.is_verified,
        Match::New { .. } => true,
    };
    let unusable_hash = match needs_unusable_hash {
        true => Some(state.passwords.hash(crate::secrets::new_secret()).await?),
        false => None,
    };
    let avatar_url = profile
        .avatar_url
        .as_deref()
        .and_then(|url| validate::avatar_url(url).ok());

    // One transaction: link or account, session and audit rows exist together or not at all.
    let mut tx = state.pool.begin().await?;
    let (user, action, mut details) = match found {
        Match::Linked(user) => (user, "oauth_login", json!({})),
        Match::SameEmail(user) => {
            let linked =
                db::auth::oauth::link_github(&mut *tx, user.id, &profile.id, avatar_url.as_deref())
                    .await
                    .map_err(github_race)?
                    .ok_or_else(github_conflict)?;
            // Nobody proved this address before GitHub did: whoever registered it may not own
            // it (pre-registration takeover), so their password and sessions go.
            let cleared = match &unusable_hash {
                Some(hash) => {
                    db::auth::users::update_password_hash(&mut *tx, user.id, hash).await?;
                    db::auth::sessions::revoke_all_for_user(&mut *tx, user.id, "oauth_link", None)
                        .await?;
                    true
                }
                None => false,
            };
            (linked, "oauth_link", json!({ "password_cleared": cleared }))
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
            let user = db::auth::oauth::create_user(&mut *tx, &new_user)
                .await
                .map_err(github_race)?;
            (user, "register", json!({}))
        }
    };
    // Leaves the password's failure count and lock alone: this sign-in says nothing about
    // whoever may be guessing the password.
    db::auth::users::record_passwordless_login(&mut *tx, user.id).await?;
    let tokens = sessions::start(&mut tx, state, &user, client).await?;
    if let Some(details) = details.as_object_mut() {
        details.insert("provider".into(), json!("github"));
        details.insert("github_id".into(), json!(profile.id));
        details.insert("session_id".into(), json!(tokens.session_id));
    }
    let mut actions = vec![(action, details.clone())];
    if action == "oauth_link" {
        actions.push(("oauth_login", details));
    }
    for (action, details) in actions {
        let event = db::auth::AuditEvent {
            user_id: Some(user.id),
            action,
            ip: client.ip_text(),
            user_agent: client.user_agent.as_deref(),
            success: true,
            details,
        };
        db::auth::audit::record(&mut *tx, &event).await?;
    }
    tx.commit().await?;
    let user = db::auth::users::find(&state.pool, user.id)
        .await?
        .unwrap_or(user);
    Ok(SignedIn {
        user: user.into(),
        tokens,
    })
}

fn github_conflict() -> ApiError {
    ApiError::Conflict {
        code: "github_account_conflict",
        message: "the account with this email is linked to another GitHub account: sign in with that one",
    }
}

/// Two callbacks for the same new GitHub user at once: the loser hits the unique key.
fn github_race(error: sqlx::Error) -> ApiError {
    match db::Violation::of(&error) {
        Some(db::Violation::GithubAccountLinked) => ApiError::Conflict {
            code: "github_account_conflict",
            message: "this GitHub account was just linked to an account: sign in again",
        },
        _ => error.into(),
    }
}

/// The first free username made from the GitHub login (`octocat`, `octocat-2`, ...).
async fn free_username(conn: &mut db::PgConnection, login: &str) -> Result<String, ApiError> {
    let base = username_base(login);
    let candidates = username_candidates(&base, 20);
    let taken = db::auth::oauth::usernames_taken(&mut *conn, &candidates).await?;
    let free = candidates
        .into_iter()
        .find(|candidate| !taken.contains(&candidate.to_lowercase()));
    Ok(free.unwrap_or_else(|| {
        // Twenty namesakes: a random suffix will do.
        let suffix: String = crate::secrets::new_secret()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(6)
            .collect();
        with_suffix(&base, &format!("-{}", suffix.to_lowercase()))
    }))
}

fn full_name(profile: &GitHubProfile) -> String {
    let name = profile
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or(&profile.login);
    // The provider's text, not the client's, but PostgreSQL refuses NUL all the same.
    name.chars().filter(|c| !c.is_control()).take(255).collect()
}
