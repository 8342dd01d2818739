//! Access tokens for tests of the services that only verify them (project, memory): a
//! throwaway signing key, the issuer the tests sign with and the verifier the app checks with.

use std::time::Duration;

use authn::{Aal, Audience, Role, SigningKey, TokenIssuer, TokenVerifier};
use uuid::Uuid;

use crate::User;

/// The issuer and audience every service expects by default (`JWT_ISSUER`, `JWT_AUDIENCE`).
pub fn audience() -> Audience {
    Audience {
        issuer: "devmentor-auth".into(),
        audience: "devmentor".into(),
    }
}

/// An issuer and a verifier sharing a fresh key; tokens live fifteen minutes, as auth's do.
#[derive(Clone)]
pub struct Tokens {
    issuer: TokenIssuer,
    verifier: TokenVerifier,
}

impl Tokens {
    pub fn new() -> Self {
        let key = SigningKey::generate().expect("generate a signing key");
        let verifier = TokenVerifier::new([key.public_key().clone()], &audience());
        let issuer = TokenIssuer::new(key, audience(), Duration::from_secs(900));
        Self { issuer, verifier }
    }

    /// What the app under test verifies with.
    pub fn verifier(&self) -> TokenVerifier {
        self.verifier.clone()
    }

    /// A signed token for `user` in `session` with `role`. Services also check that the
    /// session is live, so `session` must exist for the token to be accepted.
    pub fn issue(&self, user: Uuid, session: Uuid, role: Role) -> String {
        self.issue_at(user, session, role, Aal::Aal1)
    }

    /// [`Self::issue`] at assurance level `aal` (`aal2`: as after a second-factor login or a
    /// step-up). Whether an action asks for `aal2` depends on the user having a factor.
    pub fn issue_at(&self, user: Uuid, session: Uuid, role: Role, aal: Aal) -> String {
        self.issuer
            .issue_at(user, session, role, aal)
            .expect("sign a token")
            .token
    }

    /// `token` signed again at `aal`, same user, session and role.
    pub fn at_aal(&self, token: &str, aal: Aal) -> String {
        let claims = self.verifier.verify(token).expect("a token of these keys");
        self.issue_at(claims.sub, claims.sid, claims.role, aal)
    }

    /// `user` with their token signed again at `aal`: the same account and session, as after
    /// a step-up.
    pub fn user_at(&self, user: &User, aal: Aal) -> User {
        User {
            id: user.id,
            token: self.at_aal(&user.token, aal),
        }
    }
}

impl Default for Tokens {
    fn default() -> Self {
        Self::new()
    }
}
