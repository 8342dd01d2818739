//! Tokens whose signature and claims were already checked, so a client that sends the same
//! token on every request pays for one Ed25519 verification, not one per request (profiled:
//! the verification was the largest single cost of a token-checked read).
//!
//! Keyed by the SHA-256 of the whole token, signature included: a token that differs in any
//! byte — a forged signature, edited claims — misses and is verified in full. An entry is
//! used only while its token has not expired, so everything [`crate::TokenVerifier::verify`]
//! would refuse is still refused; whether the token's session is live is not this cache's
//! business and is checked on every request by [`crate::LiveSessions`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sha2::{Digest, Sha256};

use crate::AccessClaims;

/// Above this many tokens, expired ones are dropped; if none has expired, all are (a full
/// cache only costs verifications, never a wrong answer).
const MAX_TOKENS: usize = 10_000;

type TokenHash = [u8; 32];

#[derive(Clone, Default)]
pub(crate) struct VerifiedTokens {
    tokens: Arc<Mutex<HashMap<TokenHash, AccessClaims>>>,
}

impl VerifiedTokens {
    /// The claims of `token` if it was verified before and has not expired at `now` (Unix
    /// seconds).
    pub(crate) fn get(&self, token: &str, now: i64) -> Option<AccessClaims> {
        let hash = hash(token);
        let mut tokens = self.lock();
        match tokens.get(&hash) {
            Some(claims) if now < claims.exp => Some(claims.clone()),
            Some(_) => {
                tokens.remove(&hash);
                None
            }
            None => None,
        }
    }

    /// Remembers `claims` as the verified content of `token` until they expire.
    pub(crate) fn insert(&self, token: &str, claims: &AccessClaims, now: i64) {
        let mut tokens = self.lock();
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, claims| now < claims.exp);
            if tokens.len() >= MAX_TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(hash(token), claims.clone());
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, AccessClaims>> {
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}
