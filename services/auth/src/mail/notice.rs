//! Security notices: the mails that tell an account's owner something changed on it (a
//! second factor, a passkey, the email address), in one shape so that each says what
//! happened and what to do if it was not them.

use db::{
    PgConnection,
    auth::{User, outbox::NewMail},
};

/// One notice; `kind` names it in the outbox (and in tests that look for it).
#[derive(Debug, Clone, Copy)]
pub struct SecurityNotice<'a> {
    pub kind: &'a str,
    pub subject: &'a str,
    /// What happened, as the rest of a sentence after "Hi {name},".
    pub what: &'a str,
    /// What to do if the owner did not do this.
    pub if_not_you: &'a str,
}

impl SecurityNotice<'_> {
    /// Queues the notice to `user` in the caller's transaction: the outbox worker sends it
    /// after commit, so it goes out only if the change it tells of is kept.
    pub async fn queue(self, conn: &mut PgConnection, user: &User) -> Result<(), sqlx::Error> {
        let body = format!(
            "Hi {},\n\n{}\n\n{}\n",
            user.full_name, self.what, self.if_not_you
        );
        let mail = NewMail {
            recipient: &user.email,
            subject: self.subject,
            body_text: &body,
            kind: self.kind,
        };
        db::auth::outbox::enqueue(conn, &mail).await?;
        Ok(())
    }
}
