//! Outgoing mail: a `Mailer` seam (SMTP via lettre, or the log in development) and the
//! outbox worker that delivers what handlers queued in `auth.mail_outbox`.

mod worker;

pub use worker::OutboxWorker;

use futures::future::BoxFuture;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use uuid::Uuid;

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

/// Development mailer: writes each mail to the log, links included.
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, Result<(), String>> {
        tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "mail (SMTP_URL unset, not sent)");
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
