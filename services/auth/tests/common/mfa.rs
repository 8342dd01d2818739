//! Second-factor helpers: an account with TOTP on, and codes computed from its secret the way
//! an authenticator app does (RFC 6238 through `totp-rs`, independently of the service's code).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::Reply;
use totp_rs::{Builder, Secret};

use super::{PASSWORD, TestApp, enrolment_proof};

/// An account with a confirmed TOTP factor.
pub struct Enrolled {
    pub name: String,
    pub user_id: String,
    pub token: String,
    /// Base32, as the enroll answer showed it.
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

/// The claims of an access token, read without checking the signature (the service did).
pub fn claims(token: &str) -> Value {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

/// A 403 `step_up_required` whose message says where to step up.
pub fn assert_step_up_required(reply: &Reply, what: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "step_up_required"),
        "{what}: {}",
        reply.body
    );
    let message = reply.body["error"]["message"].as_str().expect("message");
    assert!(message.contains("/api/auth/step-up"), "{what}: {message}");
}

pub fn unix_now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

/// The code of the step `offset` steps away from now.
pub fn code(secret: &str, offset: i64) -> String {
    let bytes = Secret::try_from_base32(secret).expect("base32 secret");
    let totp = Builder::new()
        .with_secret(bytes)
        .build()
        .expect("RFC 6238 settings");
    let time = unix_now() as i64 + offset * 30;
    totp.generate(time as u64).to_string()
}

/// Waits until at least 6 s are left in the current 30-second step, so codes computed now are
/// still for the same steps when the service checks them.
pub async fn settle() {
    let left = 30 - unix_now() % 30;
    if left < 6 {
        tokio::time::sleep(std::time::Duration::from_secs(left + 1)).await;
    }
}

impl TestApp {
    /// Registers `name` and turns TOTP on with the code of the previous step (so the current
    /// step's code is still unused).
    pub async fn enroll_totp(&self, name: &str) -> Enrolled {
        let signed_in = self.register(name).await;
        let token = signed_in["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        let user_id = signed_in["user"]["id"].as_str().expect("id").to_owned();
        let (secret, recovery_codes) = self.turn_totp_on(&token).await;
        Enrolled {
            name: name.to_owned(),
            user_id,
            token,
            secret,
            recovery_codes,
        }
    }

    /// Turns TOTP on for the holder of `token` (proving with the password, so for an account
    /// without a factor yet) with the code of the previous step; returns the secret and the
    /// recovery codes.
    pub async fn turn_totp_on(&self, token: &str) -> (String, Vec<String>) {
        let enrolled = self
            .post_as("/api/auth/mfa/totp/enroll", enrolment_proof(), token)
            .await;
        assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.body);
        let secret = enrolled.body["secret"].as_str().expect("secret").to_owned();
        settle().await;
        let confirmed = self
            .post_as(
                "/api/auth/mfa/totp/confirm",
                json!({ "code": code(&secret, -1) }),
                token,
            )
            .await;
        assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
        let recovery_codes = confirmed.body["recovery_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|code| code.as_str().expect("code").to_owned())
            .collect();
        (secret, recovery_codes)
    }

    /// The `mfa_token` of a password login that asks for a second factor.
    pub async fn mfa_token(&self, login: &str) -> String {
        let reply = self.login(login, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["mfa_required"], true, "{}", reply.body);
        reply.body["mfa_token"].as_str().expect("token").to_owned()
    }

    pub async fn login_mfa(&self, body: Value) -> Reply {
        self.post("/api/auth/login/mfa", body).await
    }

    /// `DELETE /api/auth/mfa/totp` with a body.
    pub async fn disable_totp(&self, token: &str, body: Value) -> Reply {
        self.request(Method::DELETE, "/api/auth/mfa/totp")
            .bearer(token)
            .json(&body)
            .send()
            .await
    }

    /// Logs `enrolled` in with the password and a code: the answer of an `aal2` session.
    pub async fn sign_in_with_code(&self, enrolled: &Enrolled) -> Value {
        self.forget_used_steps(&enrolled.user_id).await;
        settle().await;
        let mfa_token = self.mfa_token(&enrolled.name).await;
        let reply = self
            .login_mfa(json!({ "mfa_token": mfa_token, "code": code(&enrolled.secret, 0) }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// `POST /api/auth/me/password` from [`PASSWORD`] to `new_password`.
    pub async fn change_password(&self, token: &str, new_password: &str) -> Reply {
        let body = json!({ "current_password": PASSWORD, "new_password": new_password });
        self.post_as("/api/auth/me/password", body, token).await
    }

    /// `POST /api/auth/step-up` as `token` with `body`.
    pub async fn step_up(&self, token: &str, body: Value) -> Reply {
        self.post_as("/api/auth/step-up", body, token).await
    }

    /// Steps `enrolled`'s session up with the current code and returns its `aal2` token.
    /// Forgets the used steps first, so it works whatever codes the test used before.
    pub async fn aal2_token(&self, enrolled: &Enrolled) -> String {
        self.forget_used_steps(&enrolled.user_id).await;
        settle().await;
        let reply = self
            .step_up(
                &enrolled.token,
                json!({ "code": code(&enrolled.secret, 0) }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    /// Clears the replay guard, as if the steps used so far were long past: tests that use
    /// several codes need not wait 30 s between them.
    pub async fn forget_used_steps(&self, user_id: &str) {
        let id: uuid::Uuid = user_id.parse().expect("uuid");
        sqlx::query("UPDATE auth.totp_factors SET last_used_step = NULL WHERE user_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .expect("rewind the replay guard");
    }

    /// Subjects of the mails queued for `name@example.com`, oldest first.
    pub async fn mail_subjects(&self, name: &str) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT subject FROM auth.mail_outbox WHERE recipient = $1 ORDER BY created_at",
        )
        .bind(format!("{name}@example.com"))
        .fetch_all(&self.pool)
        .await
        .expect("outbox")
    }

    /// `enrolled` has no second factor left (none listed, no TOTP or recovery-code rows) and
    /// signs in with the password alone; the sessions it had stay.
    pub async fn assert_no_second_factor(&self, enrolled: &Enrolled) {
        let me = self.get_as("/api/auth/me", &enrolled.token).await;
        assert_eq!(me.status, StatusCode::OK, "the sessions stay: {}", me.body);
        assert_eq!(
            me.body["mfa"],
            json!({ "totp": false, "recovery_codes_left": 0, "passkeys": 0 })
        );
        let rows: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM auth.totp_factors) + (SELECT count(*) FROM auth.recovery_codes)",
        )
        .fetch_one(&self.pool)
        .await
        .expect("count");
        assert_eq!(rows, 0);
        let login = self.login(&enrolled.name, PASSWORD).await;
        assert!(
            login.body["access_token"].is_string(),
            "the password alone signs in: {}",
            login.body
        );
    }
}
