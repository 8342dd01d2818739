//! How a service that only *checks* tokens (project, memory, gateway) finds the public keys.
//!
//! Resource services never need the signing key: give them `JWT_PUBLIC_KEYS_FILE`, a PEM
//! bundle of the current and previous public keys. For a one-`.env` development setup they
//! also accept the auth service's `JWT_PRIVATE_KEY_FILE` (+ `JWT_PREVIOUS_KEYS_FILE`) and use
//! only the public halves; development with nothing set falls back to the committed dev key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Audience, PublicKey, TokenVerifier};

/// The committed development key pair, relative to the repository root.
const DEVELOPMENT_PUBLIC_KEY_FILE: &str = "deploy/dev-keys/jwt-ed25519.pub.pem";

/// Read from the environment (`JWT_PUBLIC_KEYS_FILE`, `JWT_ISSUER`, ...).
#[derive(Debug, Clone, Deserialize)]
pub struct VerifierConfig {
    #[serde(default)]
    pub app_env: platform::config::AppEnv,
    /// PEM bundle of every public key whose tokens are accepted.
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub jwt_public_keys_file: Option<PathBuf>,
    /// The auth service's signing key; only its public half is used.
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub jwt_private_key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub jwt_previous_keys_file: Option<PathBuf>,
    #[serde(default = "default_issuer")]
    pub jwt_issuer: String,
    #[serde(default = "default_audience")]
    pub jwt_audience: String,
}

fn default_issuer() -> String {
    "devmentor-auth".into()
}

fn default_audience() -> String {
    "devmentor".into()
}

impl VerifierConfig {
    /// Loads the accepted public keys; the error is one readable line for start-up.
    pub fn verifier(&self) -> Result<TokenVerifier, String> {
        let mut files: Vec<(&str, &Path)> = Vec::new();
        if let Some(path) = &self.jwt_public_keys_file {
            files.push(("JWT_PUBLIC_KEYS_FILE", path));
        } else if let Some(path) = &self.jwt_private_key_file {
            files.push(("JWT_PRIVATE_KEY_FILE", path));
        }
        if let Some(path) = &self.jwt_previous_keys_file {
            files.push(("JWT_PREVIOUS_KEYS_FILE", path));
        }
        let fallback = Path::new(DEVELOPMENT_PUBLIC_KEY_FILE);
        if files.is_empty() {
            if self.app_env != platform::config::AppEnv::Development || !fallback.exists() {
                return Err(
                    "no token keys: set JWT_PUBLIC_KEYS_FILE to the auth service's \
                            public key(s) in PEM form"
                        .into(),
                );
            }
            tracing::warn!(
                "JWT_PUBLIC_KEYS_FILE unset: accepting tokens of the development key {DEVELOPMENT_PUBLIC_KEY_FILE}"
            );
            files.push(("the development fallback", fallback));
        }
        let mut keys = Vec::new();
        for (slot, path) in files {
            let bundle = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            let found = PublicKey::all_from_pem_bundle(&bundle)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            if found.is_empty() {
                return Err(format!("{} holds no PEM key", path.display()));
            }
            crate::refuse_development_key(self.app_env, slot, &found)?;
            keys.extend(found);
        }
        let audience = Audience {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
        };
        Ok(TokenVerifier::new(keys, &audience))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;
    use platform::config::AppEnv;

    fn config() -> VerifierConfig {
        VerifierConfig {
            app_env: AppEnv::Production,
            jwt_public_keys_file: None,
            jwt_private_key_file: None,
            jwt_previous_keys_file: None,
            jwt_issuer: default_issuer(),
            jwt_audience: default_audience(),
        }
    }

    #[test]
    fn production_without_keys_refuses_to_start() {
        let error = config().verifier().err().expect("no keys");
        assert!(error.contains("JWT_PUBLIC_KEYS_FILE"), "{error}");
    }

    #[test]
    fn the_committed_development_key_is_refused_outside_development_in_every_slot() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let public = repo.join("deploy/dev-keys/jwt-ed25519.pub.pem");
        let private = repo.join("deploy/dev-keys/jwt-ed25519.pem");
        for env in [AppEnv::Production, AppEnv::Staging, AppEnv::Test] {
            let slots: [fn(&mut VerifierConfig, PathBuf); 3] = [
                |c, p| c.jwt_public_keys_file = Some(p),
                |c, p| c.jwt_private_key_file = Some(p),
                |c, p| c.jwt_previous_keys_file = Some(p),
            ];
            for (slot, file) in slots.iter().zip([&public, &private, &public]) {
                let mut config = config();
                config.app_env = env;
                slot(&mut config, file.clone());
                let error = config.verifier().err().expect("refused");
                assert!(error.contains("development key"), "{env}: {error}");
            }
        }
        let mut development = config();
        development.app_env = AppEnv::Development;
        development.jwt_public_keys_file = Some(public);
        assert!(development.verifier().is_ok(), "development keeps working");
    }

    #[test]
    fn tokens_signed_by_the_private_key_verify_with_its_public_half() {
        let dir = std::env::temp_dir().join(format!("authn-verifier-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let private = dir.join("key.pem");
        std::fs::write(&private, SigningKey::generate_pem().unwrap()).unwrap();
        let signing = SigningKey::from_pem(&std::fs::read_to_string(&private).unwrap()).unwrap();
        let mut config = config();
        config.jwt_private_key_file = Some(private);
        let verifier = config.verifier().expect("keys load");
        assert_eq!(
            verifier.jwks().keys[0].kid,
            signing.kid(),
            "the verifier accepts the signing key's public half"
        );
        config.jwt_public_keys_file = Some(dir.join("missing.pem"));
        let error = config.verifier().err().expect("missing file");
        assert!(error.contains("missing.pem"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
