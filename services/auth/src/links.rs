//! Mailed single-use links (confirm an address, reset a password): the token, of which the
//! database keeps only the digest, and the mail carrying it, queued in the outbox within the
//! caller's transaction so both exist or neither does.

use chrono::Utc;
use db::{
    PgConnection,
    auth::{User, one_time_tokens::Purpose, outbox::NewMail},
};

use crate::{
    config::AuthConfig,
    secrets::{digest, new_secret},
};

/// A mail that carries a link, and why it is sent.
#[derive(Debug, Clone, Copy)]
pub enum LinkMail {
    /// Asked for by the owner: confirm the address.
    VerifyEmail,
    /// Asked for by the owner: choose a new password.
    ResetPassword,
    /// The account was locked after `attempts` wrong passwords. A reset link comes along in
    /// case it was not the owner guessing (a reset also lifts the lock).
    AccountLocked { attempts: i32 },
}

/// Creates the link's token for `user` and queues the mail carrying it. Older links of the
/// same purpose are voided, so only the newest works.
pub async fn queue(
    conn: &mut PgConnection,
    config: &AuthConfig,
    user: &User,
    mail: LinkMail,
) -> Result<(), sqlx::Error> {
    let (purpose, ttl_secs, path) = match mail {
        LinkMail::VerifyEmail => (
            Purpose::VerifyEmail,
            config.verify_email_ttl_secs,
            "verify-email",
        ),
        LinkMail::ResetPassword | LinkMail::AccountLocked { .. } => (
            Purpose::ResetPassword,
            config.password_reset_ttl_secs,
            "reset-password",
        ),
    };
    let token = new_secret();
    db::auth::one_time_tokens::void_outstanding(&mut *conn, user.id, purpose).await?;
    let expires_at = Utc::now() + chrono::Duration::seconds(ttl_secs as i64);
    db::auth::one_time_tokens::create(&mut *conn, user.id, purpose, &digest(&token), expires_at)
        .await?;
    let link = format!(
        "{}/{path}?token={token}",
        config.public_app_url.trim_end_matches('/')
    );
    let (name, minutes) = (&user.full_name, ttl_secs / 60);
    let asked_for = |what: &str| {
        format!(
            "Hi {name},\n\nOpen this link to {what} on DevMentor:\n\n{link}\n\n\
             It works once and expires in {minutes} minutes. If you did not ask for this, ignore this mail.\n"
        )
    };
    let (subject, body, kind) = match mail {
        LinkMail::VerifyEmail => (
            "Confirm your email address",
            asked_for("confirm your email address"),
            purpose.as_str(),
        ),
        LinkMail::ResetPassword => (
            "Reset your password",
            asked_for("choose a new password"),
            purpose.as_str(),
        ),
        LinkMail::AccountLocked { attempts } => (
            "Your DevMentor account was locked",
            format!(
                "Hi {name},\n\nYour DevMentor account was locked for {lock_minutes} minutes after \
                 {attempts} failed sign-ins in a row.\n\nIf this was you, wait and try again. If this \
                 wasn't you, someone may be guessing your password: reset it with this link (which also \
                 lifts the lock):\n\n{link}\n\nThe link works once and expires in {minutes} minutes.\n",
                lock_minutes = config.login_lockout_secs.div_ceil(60),
            ),
            "account_locked",
        ),
    };
    let mail = NewMail {
        recipient: &user.email,
        subject,
        body_text: &body,
        kind,
    };
    db::auth::outbox::enqueue(&mut *conn, &mail).await?;
    Ok(())
}
