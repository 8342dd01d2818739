//! The SMTP mailer against a minimal SMTP server on loopback.

use auth::mail::{Mail, Mailer, SmtpMailer};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

/// Accepts one session, answers like a permissive server, returns the DATA it received.
async fn fake_smtp_server(listener: TcpListener) -> String {
    let (socket, _) = listener.accept().await.expect("accept");
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write
        .write_all(b"220 fake.test ESMTP\r\n")
        .await
        .expect("greet");
    let mut data = String::new();
    let mut in_data = false;
    while let Some(line) = lines.next_line().await.expect("read") {
        if in_data {
            if line == "." {
                in_data = false;
                write.write_all(b"250 queued\r\n").await.expect("write");
            } else {
                data.push_str(&line);
                data.push('\n');
            }
            continue;
        }
        let reply: &[u8] = match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
            "EHLO" => b"250-fake.test\r\n250 8BITMIME\r\n",
            "DATA" => {
                in_data = true;
                b"354 go ahead\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await.expect("write");
                break;
            }
            _ => b"250 ok\r\n",
        };
        write.write_all(reply).await.expect("write");
    }
    data
}

#[tokio::test]
async fn smtp_mailer_delivers_with_the_outbox_id_as_message_id() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(fake_smtp_server(listener));

    let mailer = SmtpMailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "DevMentor <no-reply@devmentor.test>",
    )
    .expect("mailer");
    let mail = Mail {
        id: uuid::Uuid::new_v4(),
        to: "alice@example.com".into(),
        subject: "Reset your password".into(),
        body: "Open https://app.example/reset-password?token=abc".into(),
    };
    mailer.send(&mail).await.expect("sent");
    drop(mailer);
    let data = server.await.expect("server");
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
