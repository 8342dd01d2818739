use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::*;

fn audience() -> Audience {
    Audience {
        issuer: "devmentor-auth".into(),
        audience: "devmentor".into(),
    }
}

fn issuer_and_verifier() -> (TokenIssuer, TokenVerifier) {
    let key = SigningKey::generate().expect("key");
    let verifier = TokenVerifier::new([key.public_key().clone()], &audience());
    (
        TokenIssuer::new(key, audience(), Duration::from_secs(900)),
        verifier,
    )
}

/// A plain user's token for a new user and session.
fn user_token(issuer: &TokenIssuer) -> String {
    issuer
        .issue(Uuid::new_v4(), Uuid::new_v4(), Role::User)
        .expect("signed")
        .token
}

#[test]
fn issued_tokens_verify_and_carry_the_claims() {
    let (issuer, verifier) = issuer_and_verifier();
    let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
    let token = issuer.issue(user, session, Role::Admin).expect("signed");
    let claims = verifier.verify(&token.token).expect("valid");
    assert_eq!(
        (claims.sub, claims.sid, claims.role),
        (user, session, Role::Admin)
    );
    assert_eq!(claims.exp - claims.iat, 900);
}

#[test]
fn tampered_tokens_are_invalid() {
    let (issuer, verifier) = issuer_and_verifier();
    let token = user_token(&issuer);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64")).expect("json");
    claims["role"] = "super_admin".into();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert_eq!(
        verifier.verify(&parts.join(".")),
        Err(AuthError::InvalidToken)
    );
}

#[test]
fn alg_none_is_rejected() {
    let (issuer, verifier) = issuer_and_verifier();
    let token = user_token(&issuer);
    let payload = token.split('.').nth(1).expect("payload");
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    assert_eq!(
        verifier.verify(&format!("{header}.{payload}.")),
        Err(AuthError::InvalidToken)
    );
}

#[test]
fn tokens_from_another_key_are_rejected() {
    let (issuer, _) = issuer_and_verifier();
    let (_, other_verifier) = issuer_and_verifier();
    let token = user_token(&issuer);
    assert_eq!(other_verifier.verify(&token), Err(AuthError::InvalidToken));
}

#[test]
fn wrong_audience_or_issuer_is_rejected() {
    let pem = SigningKey::generate_pem().expect("pem");
    let public = SigningKey::from_pem(&pem)
        .expect("key")
        .public_key()
        .clone();
    let verifier = TokenVerifier::new([public], &audience());
    for (iss, aud) in [("devmentor-auth", "someone-else"), ("evil", "devmentor")] {
        let issuer = TokenIssuer::new(
            SigningKey::from_pem(&pem).expect("same key"),
            Audience {
                issuer: iss.into(),
                audience: aud.into(),
            },
            Duration::from_secs(60),
        );
        let token = user_token(&issuer);
        assert_eq!(
            verifier.verify(&token),
            Err(AuthError::InvalidToken),
            "{iss}/{aud}"
        );
    }
}

#[test]
fn expired_tokens_say_so() {
    let key = SigningKey::generate().expect("key");
    let verifier = TokenVerifier::new([key.public_key().clone()], &audience());
    let issuer = TokenIssuer::new(key, audience(), Duration::ZERO);
    let mut claims = verifier
        .verify(&user_token(&issuer))
        .expect("fresh token with ttl 0 is still within leeway");
    claims.exp -= 3600;
    claims.iat -= 3600;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(issuer.signing_key().kid().to_owned());
    let token =
        jsonwebtoken::encode(&header, &claims, issuer.signing_key().encoding_key()).expect("sign");
    assert_eq!(verifier.verify(&token), Err(AuthError::TokenExpired));
}

#[test]
fn rotated_keys_keep_verifying_until_removed() {
    let old = SigningKey::generate().expect("old");
    let new = SigningKey::generate().expect("new");
    let verifier = TokenVerifier::new(
        [old.public_key().clone(), new.public_key().clone()],
        &audience(),
    );
    let old_public = old.public_key().clone();
    let old_token = TokenIssuer::new(old, audience(), Duration::from_secs(60))
        .issue(Uuid::new_v4(), Uuid::new_v4(), Role::User)
        .expect("signed")
        .token;
    assert!(verifier.verify(&old_token).is_ok());
    assert_eq!(verifier.jwks().keys.len(), 2);
    let after_removal = TokenVerifier::new([new.public_key().clone()], &audience());
    assert_eq!(
        after_removal.verify(&old_token),
        Err(AuthError::InvalidToken)
    );
    assert_ne!(old_public.kid(), new.kid());
}

#[test]
fn jwks_round_trips_to_a_working_verifier() {
    let (issuer, verifier) = issuer_and_verifier();
    let jwks: Jwks = serde_json::from_str(&serde_json::to_string(&verifier.jwks()).expect("json"))
        .expect("parse");
    let keys = jwks
        .keys
        .iter()
        .map(PublicKey::from_jwk)
        .collect::<Result<Vec<_>, _>>()
        .expect("keys");
    let from_jwks = TokenVerifier::new(keys, &audience());
    let token = user_token(&issuer);
    assert!(from_jwks.verify(&token).is_ok());
    assert_eq!(jwks.keys[0].kid, issuer.signing_key().kid());
}

#[test]
fn pem_bundles_yield_every_public_key() {
    let first = SigningKey::generate_pem().expect("pem");
    let second = SigningKey::generate_pem().expect("pem");
    let keys = PublicKey::all_from_pem_bundle(&format!("{first}\n{second}")).expect("bundle");
    assert_eq!(keys.len(), 2);
    assert!(
        SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
            .is_err()
    );
}

fn sign(issuer: &TokenIssuer, claims: &AccessClaims) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(issuer.signing_key().kid().to_owned());
    jsonwebtoken::encode(&header, claims, issuer.signing_key().encoding_key()).expect("sign")
}

#[test]
fn remembered_tokens_are_forgotten_when_they_expire() {
    let (issuer, verifier) = issuer_and_verifier();
    let token = user_token(&issuer);
    let claims = verifier.verify(&token).expect("valid");
    assert_eq!(verifier.verified.len(), 1, "a verified token is remembered");
    assert_eq!(
        verifier.verified.get(&token, claims.exp - 1),
        Some(claims.clone())
    );
    assert_eq!(verifier.verified.get(&token, claims.exp), None);
    assert_eq!(verifier.verified.len(), 0, "an expired token is dropped");
}

#[test]
fn a_remembered_token_with_another_signature_is_refused() {
    let (issuer, verifier) = issuer_and_verifier();
    let token = user_token(&issuer);
    verifier.verify(&token).expect("valid, and now remembered");
    let (payload, signature) = token.rsplit_once('.').expect("three parts");
    let mut forged = signature.as_bytes().to_vec();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = format!("{payload}.{}", String::from_utf8(forged).expect("ascii"));
    assert_eq!(verifier.verify(&forged), Err(AuthError::InvalidToken));
}

#[test]
fn tokens_accepted_only_within_the_leeway_are_not_remembered() {
    let (issuer, verifier) = issuer_and_verifier();
    let mut claims = verifier.verify(&user_token(&issuer)).expect("fresh");
    let now = chrono::Utc::now().timestamp();
    claims.exp = now - 2;
    let late = sign(&issuer, &claims);
    assert_eq!(
        verifier.verify(&late),
        Ok(claims.clone()),
        "within the 5 s leeway"
    );
    assert_eq!(verifier.verified.get(&late, now), None);
    claims.exp = now - 60;
    assert_eq!(
        verifier.verify(&sign(&issuer, &claims)),
        Err(AuthError::TokenExpired)
    );
}

#[test]
fn a_full_memory_stays_bounded_and_keeps_answering() {
    let (issuer, verifier) = issuer_and_verifier();
    let token = user_token(&issuer);
    let claims = verifier.verify(&token).expect("valid");
    let now = chrono::Utc::now().timestamp();
    for n in 0..10_000 {
        verifier
            .verified
            .insert(&format!("token {n}"), &claims, now);
    }
    assert!(verifier.verified.len() <= 10_000, "bounded");
    assert_eq!(
        verifier.verify(&token),
        Ok(claims),
        "verified again when dropped"
    );
}

#[test]
fn the_aal_claim_round_trips_and_tokens_without_it_are_aal1() {
    let (issuer, verifier) = issuer_and_verifier();
    let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
    let aal2 = issuer
        .issue_at(user, session, Role::User, Aal::Aal2)
        .expect("signed");
    let claims = verifier.verify(&aal2.token).expect("valid");
    assert_eq!(claims.aal, Aal::Aal2);
    let payload = aal2.token.split('.').nth(1).expect("payload");
    let json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
    assert_eq!(json["aal"], "aal2", "the claim as other readers see it");
    assert_eq!(
        verifier.verify(&user_token(&issuer)).expect("valid").aal,
        Aal::Aal1,
        "issue() signs aal1"
    );

    // A token signed before the claim existed.
    let mut old = serde_json::to_value(&claims).expect("json");
    old.as_object_mut().expect("object").remove("aal");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(issuer.signing_key().kid().to_owned());
    let token =
        jsonwebtoken::encode(&header, &old, issuer.signing_key().encoding_key()).expect("sign");
    assert_eq!(verifier.verify(&token).expect("valid").aal, Aal::Aal1);
}

#[test]
fn only_a_user_with_a_second_factor_below_aal2_must_step_up() {
    let user = |aal, has_second_factor| AuthUser {
        user_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
        role: Role::User,
        aal,
        has_second_factor,
    };
    assert_eq!(
        user(Aal::Aal1, true).require_aal2(),
        Err(AuthError::StepUpRequired)
    );
    assert_eq!(user(Aal::Aal2, true).require_aal2(), Ok(()));
    assert_eq!(
        user(Aal::Aal1, false).require_aal2(),
        Ok(()),
        "nothing to step up with"
    );
    assert_eq!(user(Aal::Aal2, false).require_aal2(), Ok(()));
}

#[test]
fn step_up_required_is_a_403_without_a_bearer_challenge() {
    use axum::response::IntoResponse;
    let error = AuthError::StepUpRequired;
    assert_eq!(
        (error.status(), error.code()),
        (axum::http::StatusCode::FORBIDDEN, "step_up_required")
    );
    assert!(error.to_string().contains("POST /api/auth/step-up"));
    let response = error.into_response();
    assert_eq!(response.status(), axum::http::StatusCode::FORBIDDEN);
    assert!(
        !response
            .headers()
            .contains_key(axum::http::header::WWW_AUTHENTICATE),
        "the token is fine: no re-authentication challenge"
    );
}
