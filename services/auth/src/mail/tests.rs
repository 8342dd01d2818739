//! What the mailers without SMTP write to the log: links only in development.

use platform::config::AppEnv;
use testkit::CapturedLogs;
use tracing::Level;

use super::Mail;

fn reset_mail() -> Mail {
    Mail {
        id: uuid::Uuid::new_v4(),
        to: "alice@example.com".into(),
        subject: "Reset your password".into(),
        body: "Open http://localhost:3000/reset-password?token=s3cr3t-token".into(),
    }
}

/// Sends `mail` through the no-SMTP mailer for `env`; returns the outcome and the log.
async fn send_without_smtp(env: AppEnv, mail: &Mail) -> (Result<(), String>, Vec<(Level, String)>) {
    let mailer = super::LogMailer::for_env(env).expect("a mailer outside production");
    let captured = CapturedLogs::default();
    let outcome = {
        let _guard = tracing::subscriber::set_default(captured.clone());
        mailer.send(mail).await
    };
    let lines = captured.lines();
    (outcome, lines)
}

#[tokio::test]
async fn outside_development_the_log_says_not_sent_and_never_shows_the_link() {
    let mail = reset_mail();
    for env in [AppEnv::Test, AppEnv::Staging] {
        let (outcome, lines) = send_without_smtp(env, &mail).await;
        assert!(
            outcome.is_err(),
            "{env}: unsent mail must not count as sent"
        );
        assert_eq!(lines.len(), 1, "{env}: {lines:?}");
        let (level, line) = &lines[0];
        assert_eq!(*level, Level::WARN, "{env}");
        assert!(line.contains("NOT sent"), "{env}: {line}");
        assert!(line.contains("example.com"), "{env}: {line}");
        assert!(line.contains("Reset your password"), "{env}: {line}");
        for secret in ["s3cr3t-token", "token=", "alice@", "reset-password?"] {
            assert!(!line.contains(secret), "{env}: {secret} leaked: {line}");
        }
    }
}

#[tokio::test]
async fn development_logs_the_whole_mail() {
    let mail = reset_mail();
    let (outcome, lines) = send_without_smtp(AppEnv::Development, &mail).await;
    assert_eq!(outcome, Ok(()));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].0, Level::INFO);
    assert!(lines[0].1.contains("token=s3cr3t-token"), "{}", lines[0].1);
}

#[test]
fn production_without_smtp_is_refused() {
    let Err(reason) = super::LogMailer::for_env(AppEnv::Production) else {
        panic!("production must not run without SMTP");
    };
    assert!(reason.contains("SMTP_URL"), "{reason}");
}
