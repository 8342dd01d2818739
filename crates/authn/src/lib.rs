//! DevMentor access tokens: short-lived Ed25519-signed JWTs that every service verifies
//! locally, without calling the auth service, plus a cached check that the token's session
//! is still live.
//!
//! The auth service signs with [`TokenIssuer`]; every service verifies with
//! [`TokenVerifier`], checks the token's session with [`LiveSessions`] and takes
//! [`AuthUser`] as a handler argument; a sensitive action adds one call,
//! [`AuthUser::require_aal2`] (403 `step_up_required` when a user with a second factor has
//! not proved it recently). Keys rotate by adding the
//! new key for signing and keeping the old public key in the verifier until old tokens expire.

mod claims;
mod extractor;
mod keys;
mod live;
mod verified;
mod verifier_config;

pub use claims::{Aal, AccessClaims, Role};
pub use extractor::{AuthError, AuthUser};
pub use keys::{
    DEVELOPMENT_KEY_ID, Jwk, Jwks, KeyError, PublicKey, SigningKey, refuse_development_key,
};
pub use live::{LiveSessions, REMEMBER_FOR};
pub use verifier_config::VerifierConfig;

use std::{collections::HashMap, sync::Arc, time::Duration};

use jsonwebtoken::{Algorithm, Header, Validation};
use uuid::Uuid;

/// Who tokens are from and for; both are checked on every verification.
#[derive(Debug, Clone)]
pub struct Audience {
    pub issuer: String,
    pub audience: String,
}

/// Signs access tokens with the current key.
#[derive(Clone)]
pub struct TokenIssuer {
    key: Arc<SigningKey>,
    audience: Audience,
    ttl: Duration,
}

/// A freshly signed token and how long it lives.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: Duration,
}

impl TokenIssuer {
    pub fn new(key: SigningKey, audience: Audience, ttl: Duration) -> Self {
        Self {
            key: Arc::new(key),
            audience,
            ttl,
        }
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs an `aal1` token for `user` in `session` with `role`.
    pub fn issue(&self, user: Uuid, session: Uuid, role: Role) -> Result<IssuedToken, KeyError> {
        self.issue_at(user, session, role, Aal::Aal1)
    }

    /// Signs a token for `user` in `session` with `role` at assurance level `aal`.
    pub fn issue_at(
        &self,
        user: Uuid,
        session: Uuid,
        role: Role,
        aal: Aal,
    ) -> Result<IssuedToken, KeyError> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.audience.issuer.clone(),
            aud: self.audience.audience.clone(),
            sub: user,
            sid: session,
            role,
            aal,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            jti: Uuid::new_v4(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, self.key.encoding_key())
            .map_err(|error| KeyError::Sign(error.to_string()))?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl,
        })
    }
}

/// Verifies access tokens against every accepted public key, selected by `kid`.
/// Remembers the tokens it verified (see [`verified`]), so clones share that memory.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Arc<HashMap<String, PublicKey>>,
    /// Shared, like the rest: services clone their state (and this) for every request, and
    /// a `Validation` is a handful of heap-allocated sets.
    validation: Arc<Validation>,
    verified: verified::VerifiedTokens,
}

impl TokenVerifier {
    pub fn new(keys: impl IntoIterator<Item = PublicKey>, audience: &Audience) -> Self {
        // EdDSA only: a token claiming any other algorithm (including `none`) is rejected.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&audience.issuer]);
        validation.set_audience(&[&audience.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        let keys = keys
            .into_iter()
            .map(|key| (key.kid().to_owned(), key))
            .collect();
        Self {
            keys: Arc::new(keys),
            validation: Arc::new(validation),
            verified: verified::VerifiedTokens::default(),
        }
    }

    /// The public keys, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Jwks {
        let mut keys: Vec<Jwk> = self.keys.values().map(PublicKey::to_jwk).collect();
        keys.sort_by(|a, b| a.kid.cmp(&b.kid));
        Jwks { keys }
    }

    /// Checks signature, algorithm, issuer, audience and expiry — once per token: until it
    /// expires, the same token is answered from memory.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AuthError> {
        let now = chrono::Utc::now().timestamp();
        if let Some(claims) = self.verified.get(token, now) {
            return Ok(claims);
        }
        let claims = self.verify_signed(token)?;
        // Accepted only thanks to the leeway: not remembered, so it expires on time.
        if now < claims.exp {
            self.verified.insert(token, &claims, now);
        }
        Ok(claims)
    }

    fn verify_signed(&self, token: &str) -> Result<AccessClaims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::InvalidToken);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(AuthError::InvalidToken)?;
        jsonwebtoken::decode::<AccessClaims>(token, key.decoding_key(), &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::TokenExpired,
                _ => AuthError::InvalidToken,
            })
    }
}

#[cfg(test)]
mod tests;
