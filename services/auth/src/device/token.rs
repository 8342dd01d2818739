//! Signing and checking device tokens: `d1.<device id>.<base64url HMAC-SHA256(
//! DEVICE_TOKEN_SECRET, user id | device id | password hash)>`. Nothing is stored: the password
//! hash in the MAC means a new password, changed or reset, voids every device token of the
//! account. Apart from the budget (the parent module), so that the state can hold the signer.

use std::fmt;

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use db::auth::User;
use hmac::{Hmac, Mac};
use platform::config::AppEnv;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use uuid::Uuid;

/// The committed secret for development and tests (base64 of 32 bytes): public, so staging
/// and production refuse it.
pub const DEVELOPMENT_SECRET: &str = "ZGV2bWVudG9yLWRldmVsb3BtZW50LWRldmljZS1rZXk=";

/// HMAC-SHA256 takes any key length; fewer bytes than its output would weaken it.
const MIN_SECRET_BYTES: usize = 32;

const VERSION: &str = "d1";

/// Signs and verifies device tokens under `DEVICE_TOKEN_SECRET`.
#[derive(Clone)]
pub struct DeviceTokens {
    secret: Vec<u8>,
}

impl fmt::Debug for DeviceTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceTokens(..)")
    }
}

/// A device that signed in to an account, as its verified token names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceId(pub Uuid);

impl DeviceTokens {
    /// The signer for `DEVICE_TOKEN_SECRET` in `app_env`, as `MFA_ENCRYPTION_KEY` is read:
    /// unset, development and test use [`DEVELOPMENT_SECRET`]; staging and production refuse
    /// to start without a secret of their own, since anyone could sign tokens with a public
    /// one.
    pub fn for_env(secret: Option<&SecretString>, app_env: AppEnv) -> Result<Self, String> {
        let shared = matches!(app_env, AppEnv::Staging | AppEnv::Production);
        match secret.map(ExposeSecret::expose_secret) {
            Some(secret) if shared && secret.trim() == DEVELOPMENT_SECRET => Err(format!(
                "DEVICE_TOKEN_SECRET is the committed development secret with \
                 APP_ENV={app_env}: generate one (openssl rand -base64 32)"
            )),
            Some(secret) => Self::from_base64(secret),
            None if shared => Err(format!(
                "DEVICE_TOKEN_SECRET is unset with APP_ENV={app_env}: device tokens need a \
                 secret of their own (openssl rand -base64 32)"
            )),
            None => Self::from_base64(DEVELOPMENT_SECRET),
        }
    }

    pub fn from_base64(encoded: &str) -> Result<Self, String> {
        let secret = STANDARD.decode(encoded.trim()).map_err(|_| {
            "DEVICE_TOKEN_SECRET must be base64 (openssl rand -base64 32)".to_owned()
        })?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "DEVICE_TOKEN_SECRET must decode to at least {MIN_SECRET_BYTES} bytes, not {}",
                secret.len()
            ));
        }
        Ok(Self { secret })
    }

    /// A token for a new device of `user`, valid while its password stays the same.
    pub fn issue(&self, user: &User) -> String {
        let device = Uuid::new_v4();
        let tag = self.mac(user, device).finalize().into_bytes();
        format!("{VERSION}.{device}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The device `token` names, when it was issued to `user` under its current password;
    /// `None` for anything else, without saying why.
    pub fn verify(&self, user: &User, token: &str) -> Option<DeviceId> {
        let mut parts = token.split('.');
        let (Some(VERSION), Some(device), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let device = Uuid::try_parse(device).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        // Constant time: the comparison must not tell how much of a forged tag was right.
        self.mac(user, device).verify_slice(&tag).ok()?;
        Some(DeviceId(device))
    }

    /// Both ids are 16 bytes, so the fields cannot run into each other.
    fn mac(&self, user: &User, device: Uuid) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes a key of any length");
        mac.update(user.id.0.as_bytes());
        mac.update(device.as_bytes());
        mac.update(user.password_hash.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn user(password_hash: &str) -> User {
        User {
            id: db::ids::UserId(Uuid::new_v4()),
            email: "a@example.com".into(),
            username: "a".into(),
            full_name: "A".into(),
            password_hash: password_hash.into(),
            role: "user".into(),
            is_active: true,
            is_verified: true,
            github_id: None,
            avatar_url: None,
            last_login_at: None,
            failed_login_attempts: 0,
            locked_until: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_token_verifies_for_its_account_and_password_only() {
        let tokens = DeviceTokens::for_env(None, AppEnv::Development).expect("dev secret");
        let alice = user("hash-1");
        let token = tokens.issue(&alice);
        let device = tokens.verify(&alice, &token).expect("verifies");
        assert!(token.starts_with(&format!("d1.{}.", device.0)), "{token}");

        let other = user("hash-1");
        assert_eq!(tokens.verify(&other, &token), None, "another account");
        let new_password = User {
            password_hash: "hash-2".into(),
            ..alice.clone()
        };
        assert_eq!(tokens.verify(&new_password, &token), None, "a new password");
        let other_secret = DeviceTokens::from_base64(&STANDARD.encode([7u8; 32])).expect("ok");
        assert_eq!(other_secret.verify(&alice, &token), None, "another secret");
        for broken in [
            "",
            "d1",
            "d1..",
            "d2.x.y",
            &format!("{token}."),
            &token[..token.len() - 1],
        ] {
            assert_eq!(tokens.verify(&alice, broken), None, "{broken:?}");
        }
    }

    #[test]
    fn shared_environments_need_a_long_secret_of_their_own() {
        let dev = SecretString::from(DEVELOPMENT_SECRET);
        let own = SecretString::from(STANDARD.encode([9u8; 32]));
        let short = SecretString::from(STANDARD.encode([9u8; 31]));
        for env in [AppEnv::Staging, AppEnv::Production] {
            let unset = DeviceTokens::for_env(None, env).unwrap_err();
            assert!(unset.contains("DEVICE_TOKEN_SECRET is unset"), "{unset}");
            let public = DeviceTokens::for_env(Some(&dev), env).unwrap_err();
            assert!(public.contains("committed development secret"), "{public}");
            assert!(DeviceTokens::for_env(Some(&own), env).is_ok());
        }
        let error = DeviceTokens::for_env(Some(&short), AppEnv::Development).unwrap_err();
        assert!(error.contains("at least 32 bytes, not 31"), "{error}");
        let error = DeviceTokens::from_base64("not base64!").unwrap_err();
        assert!(error.contains("must be base64"), "{error}");
    }
}
