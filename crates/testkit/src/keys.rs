//! A throwaway token-signing key on disk, for service binaries started by tests: they run with
//! `APP_ENV=test`, where the committed development key is refused.

use std::path::PathBuf;

/// A fresh Ed25519 private key in a temporary PEM file, removed on drop. Auth signs with it
/// (`JWT_PRIVATE_KEY_FILE`); project and memory accept the same variable and use its public half.
pub struct SigningKeyFile(PathBuf);

impl SigningKeyFile {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("test-key-{}.pem", uuid::Uuid::new_v4()));
        let pem = authn::SigningKey::generate_pem().expect("generate key");
        std::fs::write(&path, pem).expect("write key");
        Self(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("temporary paths are UTF-8")
    }
}

impl Default for SigningKeyFile {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SigningKeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
