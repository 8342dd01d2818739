//! TOTP secrets at rest: sealed with XChaCha20-Poly1305 under `MFA_ENCRYPTION_KEY`, the user id
//! as associated data, so neither a database dump nor a row copied to another account opens.

use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
};
use db::ids::UserId;
use platform::config::AppEnv;
use secrecy::{ExposeSecret, SecretString};

/// The committed key for development and tests (base64 of 32 bytes): public, so staging and
/// production refuse it.
pub const DEVELOPMENT_KEY: &str = "ZGV2bWVudG9yLWRldmVsb3BtZW50LW1mYS1rZXkhISE=";

const NONCE_LEN: usize = 24;

#[derive(Clone)]
pub struct SecretCipher(XChaCha20Poly1305);

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher(..)")
    }
}

impl SecretCipher {
    /// The cipher for `MFA_ENCRYPTION_KEY` in `app_env`. Unset, development and test use
    /// [`DEVELOPMENT_KEY`]; staging and production refuse to start without a key of their own,
    /// since secrets sealed under a public key are as good as plaintext.
    pub fn for_env(key: Option<&SecretString>, app_env: AppEnv) -> Result<Self, String> {
        let shared = matches!(app_env, AppEnv::Staging | AppEnv::Production);
        match key.map(ExposeSecret::expose_secret) {
            Some(key) if shared && key.trim() == DEVELOPMENT_KEY => Err(format!(
                "MFA_ENCRYPTION_KEY is the committed development key with APP_ENV={app_env}: \
                 generate one (openssl rand -base64 32)"
            )),
            Some(key) => Self::from_base64(key),
            None if shared => Err(format!(
                "MFA_ENCRYPTION_KEY is unset with APP_ENV={app_env}: TOTP secrets need a key of \
                 their own (openssl rand -base64 32)"
            )),
            None => Self::from_base64(DEVELOPMENT_KEY),
        }
    }

    pub fn from_base64(encoded: &str) -> Result<Self, String> {
        let bytes = STANDARD.decode(encoded.trim()).map_err(|_| {
            "MFA_ENCRYPTION_KEY must be base64 (openssl rand -base64 32)".to_owned()
        })?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| {
            format!(
                "MFA_ENCRYPTION_KEY must decode to 32 bytes, not {}",
                bytes.len()
            )
        })?;
        Ok(Self(cipher))
    }

    /// A fresh random nonce, then the ciphertext and tag.
    pub fn seal(&self, user_id: UserId, secret: &[u8]) -> Result<Vec<u8>, String> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = user_id.0.as_bytes();
        let sealed = self
            .0
            .encrypt(&nonce, Payload { msg: secret, aad })
            .map_err(|_| "cannot encrypt the TOTP secret".to_owned())?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Fails for another key (a rotated `MFA_ENCRYPTION_KEY`), another user or a damaged row.
    pub fn open(&self, user_id: UserId, sealed: &[u8]) -> Result<Vec<u8>, String> {
        if sealed.len() <= NONCE_LEN {
            return Err("stored TOTP secret is truncated".to_owned());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let aad = user_id.0.as_bytes();
        self.0
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| {
                "cannot decrypt the TOTP secret (wrong MFA_ENCRYPTION_KEY or damaged row)"
                    .to_owned()
            })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_for_its_user_and_key() {
        let cipher = SecretCipher::from_base64(DEVELOPMENT_KEY).expect("key");
        let (alice, bob) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
        let sealed = cipher.seal(alice, b"twenty bytes secret!").expect("seal");
        assert!(!sealed.windows(6).any(|w| w == b"twenty"));
        assert_eq!(
            cipher.open(alice, &sealed).expect("open"),
            b"twenty bytes secret!"
        );
        assert!(cipher.open(bob, &sealed).is_err(), "bound to the user");
        let other = SecretCipher::from_base64(&STANDARD.encode([7u8; 32])).expect("key");
        assert!(other.open(alice, &sealed).is_err(), "bound to the key");
        assert!(cipher.open(alice, &sealed[..NONCE_LEN]).is_err());
    }

    #[test]
    fn shared_environments_need_a_key_of_their_own() {
        let development = SecretString::from(DEVELOPMENT_KEY);
        for env in [AppEnv::Staging, AppEnv::Production] {
            let error = SecretCipher::for_env(None, env).unwrap_err();
            assert!(error.starts_with("MFA_ENCRYPTION_KEY is unset"), "{error}");
            let error = SecretCipher::for_env(Some(&development), env).unwrap_err();
            assert!(error.contains("development key"), "{error}");
        }
        for env in [AppEnv::Development, AppEnv::Test] {
            SecretCipher::for_env(None, env).expect("development key");
        }
        let own = SecretString::from(STANDARD.encode([9u8; 32]));
        SecretCipher::for_env(Some(&own), AppEnv::Production).expect("own key");
        let short = SecretString::from(STANDARD.encode([9u8; 16]));
        let error = SecretCipher::for_env(Some(&short), AppEnv::Production).unwrap_err();
        assert_eq!(error, "MFA_ENCRYPTION_KEY must decode to 32 bytes, not 16");
        let error = SecretCipher::for_env(Some(&"not base64!".into()), AppEnv::Test).unwrap_err();
        assert!(error.contains("base64"), "{error}");
    }
}
