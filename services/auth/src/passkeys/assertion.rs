//! Checking a passkey assertion (the browser's answer to `navigator.credentials.get()`) against
//! the ceremony it answers and the stored passkey, and recording its use. Shared by the
//! passwordless login (a discoverable credential names its user) and the second factor (the
//! ceremony names the user and the passkeys it allows).

use db::{
    PgConnection,
    auth::passkeys::{CeremonyKind, StoredPasskey},
    ids::UserId,
};
use serde::Deserialize;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, PasskeyAuthentication, PublicKeyCredential,
    WebauthnError,
};

use crate::{error::ApiError, state::AppState};

/// A passkey assertion from the client: the ceremony it answers and the browser's credential.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAssertion {
    /// From the answer of the matching `.../start` route.
    #[schema(value_type = uuid::Uuid)]
    pub ceremony_id: Uuid,
    /// The `PublicKeyCredential` that `navigator.credentials.get()` returned, as JSON
    /// (binary fields base64url: `id`, `rawId`, `response.{authenticatorData, clientDataJSON,
    /// signature, userHandle}`, `type`).
    #[schema(value_type = Object)]
    pub credential: PublicKeyCredential,
}

/// An assertion that passed every check; [`record`] spends it.
#[derive(Debug)]
pub struct Verified {
    pub passkey: StoredPasskey,
    updated: serde_json::Value,
    counter: i64,
}

/// Why an assertion was refused: the audit reason (the client only hears `invalid_passkey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No passkey has this credential id, or it is not the named user's.
    UnknownCredential,
    /// The signature counter did not move forward: a cloned authenticator, or a replay.
    CounterRegressed,
    /// Wrong origin, challenge, relying party or signature, or no user verification.
    Rejected,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::UnknownCredential => "unknown_passkey",
            Refusal::CounterRegressed => "passkey_counter_regressed",
            Refusal::Rejected => "passkey_assertion_rejected",
        }
    }
}

/// Checks a passwordless login's assertion: the credential names its user (the user handle
/// must be the owner of the stored credential). `Ok(Err(_))` carries the owner, when known,
/// so a refusal can count against that account.
pub async fn verify_discoverable(
    state: &AppState,
    assertion: &PasskeyAssertion,
) -> Result<Result<Verified, (Option<UserId>, Refusal)>, ApiError> {
    let ceremony: DiscoverableAuthentication = super::take_ceremony(
        &state.pool,
        assertion.ceremony_id,
        None,
        CeremonyKind::PasswordlessLogin,
    )
    .await?;
    let Ok((user_handle, credential_id)) = state
        .webauthn
        .identify_discoverable_authentication(&assertion.credential)
    else {
        return Ok(Err((None, Refusal::UnknownCredential)));
    };
    let stored = db::auth::passkeys::find_by_credential(&state.pool, credential_id).await?;
    let Some(stored) = stored.filter(|stored| stored.user_id.0 == user_handle) else {
        return Ok(Err((None, Refusal::UnknownCredential)));
    };
    let passkey = super::credential(&stored)?;
    let keys = [DiscoverableKey::from(&passkey)];
    let result =
        state
            .webauthn
            .finish_discoverable_authentication(&assertion.credential, ceremony, &keys);
    Ok(finish(stored, passkey, result).map_err(|(user, refusal)| (Some(user), refusal)))
}

/// Checks a second-factor assertion for `user_id`: the ceremony must be that user's, and
/// the credential one of the passkeys it allowed. Both are read through `conn`, the
/// caller's transaction: a request holds one pooled connection at a time, or enough of
/// them at once would each wait for a second one that never frees up.
pub async fn verify_for_user(
    conn: &mut PgConnection,
    state: &AppState,
    user_id: UserId,
    assertion: &PasskeyAssertion,
) -> Result<Result<Verified, Refusal>, ApiError> {
    let ceremony: PasskeyAuthentication = super::take_ceremony(
        &mut *conn,
        assertion.ceremony_id,
        Some(user_id),
        CeremonyKind::SecondFactor,
    )
    .await?;
    let credential_id = assertion.credential.get_credential_id();
    let stored = db::auth::passkeys::find_by_credential(&mut *conn, credential_id).await?;
    let Some(stored) = stored.filter(|stored| stored.user_id == user_id) else {
        return Ok(Err(Refusal::UnknownCredential));
    };
    let passkey = super::credential(&stored)?;
    let result = state
        .webauthn
        .finish_passkey_authentication(&assertion.credential, &ceremony);
    Ok(finish(stored, passkey, result).map_err(|(_, refusal)| refusal))
}

/// Discards the second-factor ceremony a refused assertion answered (its transaction,
/// which took it, rolled back): a ceremony is answered once, right or wrong.
pub async fn discard_ceremony(
    state: &AppState,
    user_id: UserId,
    assertion: &PasskeyAssertion,
) -> Result<(), ApiError> {
    let kind = CeremonyKind::SecondFactor;
    db::auth::passkeys::take_ceremony(&state.pool, assertion.ceremony_id, Some(user_id), kind)
        .await?;
    Ok(())
}

fn finish(
    stored: StoredPasskey,
    mut passkey: webauthn_rs::prelude::Passkey,
    result: Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
) -> Result<Verified, (UserId, Refusal)> {
    let result = match result {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            return Err((stored.user_id, Refusal::CounterRegressed));
        }
        Err(error) => {
            tracing::info!(passkey_id = %stored.id, %error, "passkey assertion rejected");
            return Err((stored.user_id, Refusal::Rejected));
        }
    };
    passkey.update_credential(&result);
    let Ok(updated) = serde_json::to_value(&passkey) else {
        return Err((stored.user_id, Refusal::Rejected));
    };
    Ok(Verified {
        passkey: stored,
        updated,
        counter: i64::from(result.counter()),
    })
}

/// Spends a verified assertion inside the caller's transaction: the new counter is stored
/// only when it moved forward, so of two assertions with one counter (a clone racing the
/// original) exactly one passes. `Err(CounterRegressed)` otherwise.
pub async fn record(
    conn: &mut PgConnection,
    verified: &Verified,
) -> Result<Result<(), Refusal>, ApiError> {
    let recorded = db::auth::passkeys::record_use(
        conn,
        verified.passkey.id,
        &verified.updated,
        verified.counter,
    )
    .await?;
    Ok(if recorded {
        Ok(())
    } else {
        Err(Refusal::CounterRegressed)
    })
}
