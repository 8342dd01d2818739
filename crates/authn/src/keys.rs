//! Ed25519 keys: loading from PEM, key ids (RFC 7638 thumbprints) and the JWKS document.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an Ed25519 private key in PKCS#8 PEM form: {0}")]
    PrivateKey(String),
    #[error("not an Ed25519 public key in PEM form: {0}")]
    PublicKey(String),
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// The private key that signs access tokens.
pub struct SigningKey {
    encoding: EncodingKey,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads a `-----BEGIN PRIVATE KEY-----` Ed25519 key (as `openssl genpkey -algorithm ed25519` writes).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|error| KeyError::PrivateKey(error.to_string()))?;
        Self::from_dalek(&key)
    }

    /// A new random key, for tests and `keygen`.
    pub fn generate() -> Result<Self, KeyError> {
        Self::from_dalek(&ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// PKCS#8 PEM of this key, for writing a generated key to disk.
    pub fn generate_pem() -> Result<String, KeyError> {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        key.to_pkcs8_pem(Default::default())
            .map(|pem| pem.to_string())
            .map_err(|error| KeyError::PrivateKey(error.to_string()))
    }

    fn from_dalek(key: &ed25519_dalek::SigningKey) -> Result<Self, KeyError> {
        let der = key
            .to_pkcs8_der()
            .map_err(|error| KeyError::PrivateKey(error.to_string()))?;
        Ok(Self {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            public: PublicKey::from_bytes(key.verifying_key().to_bytes()),
        })
    }

    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
}

/// A public key that verifies tokens.
#[derive(Clone)]
pub struct PublicKey {
    kid: String,
    bytes: [u8; 32],
    decoding: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            kid: thumbprint(&bytes),
            bytes,
            decoding: DecodingKey::from_ed_der(&bytes),
        }
    }

    /// Reads a `-----BEGIN PUBLIC KEY-----` Ed25519 key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
            .map_err(|error| KeyError::PublicKey(error.to_string()))?;
        Ok(Self::from_bytes(key.to_bytes()))
    }

    /// Every public key in a file of concatenated PEM blocks (private keys give their public half).
    pub fn all_from_pem_bundle(bundle: &str) -> Result<Vec<Self>, KeyError> {
        pem_blocks(bundle)
            .map(|block| {
                if block.contains("PRIVATE KEY") {
                    SigningKey::from_pem(&block).map(|key| key.public)
                } else {
                    Self::from_pem(&block)
                }
            })
            .collect()
    }

    /// Reads a key published in a JWKS document.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(KeyError::PublicKey(format!(
                "unsupported key type {}/{}",
                jwk.kty, jwk.crv
            )));
        }
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&jwk.x)
            .ok()
            .and_then(|raw| raw.try_into().ok())
            .ok_or_else(|| KeyError::PublicKey("x is not a 32-byte base64url value".into()))?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    pub fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(self.bytes),
            kid: self.kid.clone(),
            alg: "EdDSA".into(),
            key_use: "sig".into(),
        }
    }
}

/// Key id (RFC 7638 thumbprint) of the committed pair in `deploy/dev-keys/`. Its private half is
/// public, so anyone can mint tokens with it: only development may use or accept it.
pub const DEVELOPMENT_KEY_ID: &str = "3WMrOH2WQe4vAAADupWJKH6KkR14uzKoFPdPVj51KIs";

/// Refuses the committed development key outside `APP_ENV=development`, whichever slot it
/// was configured in (`slot` names the variable, for the one-line start-up error).
pub fn refuse_development_key(
    app_env: platform::config::AppEnv,
    slot: &str,
    keys: &[PublicKey],
) -> Result<(), String> {
    if app_env == platform::config::AppEnv::Development
        || keys.iter().all(|key| key.kid != DEVELOPMENT_KEY_ID)
    {
        return Ok(());
    }
    Err(format!(
        "{slot} holds the committed development key (deploy/dev-keys), which anyone can sign \
         with: refused with APP_ENV={app_env}. Generate a key with \
         `openssl genpkey -algorithm ed25519` (see .env.example)"
    ))
}

/// RFC 7638 thumbprint: a key id anyone can recompute from the public key alone.
fn thumbprint(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn pem_blocks(bundle: &str) -> impl Iterator<Item = String> + '_ {
    bundle
        .split("-----BEGIN ")
        .skip(1)
        .map(|rest| format!("-----BEGIN {}", rest.trim_end()))
}

/// One key of a JSON Web Key Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
}

/// The document served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}
