//! Outgoing mail: a `Mailer` seam (SMTP via lettre; without SMTP, the log) and the outbox
//! worker that delivers what handlers queued in `auth.mail_outbox`.

pub mod notice;
pub mod worker;

use std::sync::Arc;

use futures::future::BoxFuture;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use platform::config::AppEnv;
use uuid::Uuid;

pub use notice::SecurityNotice;

/// One mail to deliver. `id` is the outbox row: it becomes the `Message-ID`, so a mail that
/// is sent twice (a crash between sending and recording it) is recognisable as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub id: Uuid,
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub trait Mailer: Send + Sync + 'static {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, Result<(), String>>;
}

/// The mailer without `SMTP_URL`, outside development: nothing is sent, and the log says so
/// at WARN with the recipient's domain and the subject only. Bodies carry live links
/// (password reset, verification), and logs are read by more people than the mailbox.
/// The send fails, so the outbox keeps the truth (`last_error`, then abandoned) instead of
/// marking unsent mail as sent; if SMTP is configured within the retry window, it goes out.
pub struct LogMailer;

impl LogMailer {
    /// The mailer to use when `SMTP_URL` is unset, by `APP_ENV`:
    /// - development: [`DevelopmentLogMailer`], which writes whole mails (links included) to
    ///   the log, so sign-up and password reset work on a laptop;
    /// - test and staging: [`LogMailer`] (mail is reported as not sent);
    /// - production: refused. Verification, password reset and lockout notices would all
    ///   vanish; better not to start than to run an auth service that cannot reach users.
    pub fn for_env(app_env: AppEnv) -> Result<Arc<dyn Mailer>, String> {
        match app_env {
            AppEnv::Development => Ok(Arc::new(DevelopmentLogMailer)),
            AppEnv::Test | AppEnv::Staging => Ok(Arc::new(LogMailer)),
            AppEnv::Production => Err("SMTP_URL is unset with APP_ENV=production: mail \
                 (verification, password reset, lockout notices) could never be sent; \
                 set SMTP_URL"
                .to_owned()),
        }
    }
}

impl Mailer for LogMailer {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, Result<(), String>> {
        let domain = mail
            .to
            .rsplit_once('@')
            .map_or("(no domain)", |(_, domain)| domain);
        tracing::warn!(mail = %mail.id, to_domain = %domain, subject = %mail.subject, "mail NOT sent: SMTP_URL is unset");
        Box::pin(async { Err("not sent: SMTP_URL is unset".to_owned()) })
    }
}

/// The development mailer (`APP_ENV=development` without `SMTP_URL`): writes each mail to
/// the log at INFO, links included, and counts it as sent.
pub struct DevelopmentLogMailer;

impl Mailer for DevelopmentLogMailer {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, Result<(), String>> {
        tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "mail (development: SMTP_URL unset, not sent)");
        Box::pin(async { Ok(()) })
    }
}

/// Sends through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    hostname: String,
}

impl SmtpMailer {
    /// `url` as lettre reads it: `smtp://host:port` (STARTTLS optional), `smtps://` (TLS),
    /// with optional `user:password@`.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|error| format!("SMTP_URL is invalid: {error}"))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|error| format!("MAIL_FROM is invalid: {error}"))?;
        let hostname = from.email.domain().to_owned();
        Ok(Self {
            transport,
            from,
            hostname,
        })
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let to: Mailbox = mail
                .to
                .parse()
                .map_err(|error| format!("bad recipient: {error}"))?;
            let message = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(&mail.subject)
                .message_id(Some(format!("<{}@{}>", mail.id, self.hostname)))
                .header(ContentType::TEXT_PLAIN)
                .body(mail.body.clone())
                .map_err(|error| error.to_string())?;
            self.transport
                .send(message)
                .await
                .map(drop)
                .map_err(|error| error.to_string())
        })
    }
}

#[cfg(test)]
mod tests;
