//! The SMTP mailer against a minimal SMTP server on loopback (`testkit::smtp`).

use auth::mail::{Mail, Mailer, SmtpMailer};
use testkit::smtp::SmtpSink;

#[tokio::test]
async fn smtp_mailer_delivers_with_the_outbox_id_as_message_id() {
    let sink = SmtpSink::start().await;
    let mailer =
        SmtpMailer::new(sink.url(), "DevMentor <no-reply@devmentor.test>").expect("mailer");
    let mail = Mail {
        id: uuid::Uuid::new_v4(),
        to: "alice@example.com".into(),
        subject: "Reset your password".into(),
        body: "Open https://app.example/reset-password?token=abc".into(),
    };
    mailer.send(&mail).await.expect("sent");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let data = &messages[0];
    assert!(
        data.contains(&format!("Message-ID: <{}@devmentor.test>", mail.id)),
        "{data}"
    );
    assert!(data.contains("Subject: Reset your password"), "{data}");
    assert!(data.contains("token=abc"), "{data}");
}

#[tokio::test]
async fn bad_smtp_settings_are_reported() {
    assert!(SmtpMailer::new("http://nope", "a@b.c").is_err());
    assert!(SmtpMailer::new("smtp://localhost:25", "not an address").is_err());
}
