//! Proving the second factor: what `POST login/mfa` and `POST step-up` share. A proof is a
//! guess like a password: it is counted against the client's and the account's budgets
//! (one `mfa:<user>` bucket for both routes, so switching routes buys no extra guesses), a
//! locked account takes none, and a wrong one counts toward the lockout. The TOTP code that
//! turns the factor off or buys new recovery codes is spent through [`spend`] too.

use db::{Postgres, Transaction, auth::User};
use platform::client::ClientInfo;
use serde_json::json;

use super::{CodeCheck, Notice};
use crate::{
    audit::Audit,
    credentials,
    device::Budget,
    error::ApiError,
    passkeys::assertion::{self, PasskeyAssertion},
    state::AppState,
};

/// What proves the second factor.
#[derive(Debug, Clone)]
pub enum Proof {
    /// Six digits, already checked for shape.
    Totp(String),
    /// A normalised recovery code.
    RecoveryCode(String),
    /// A passkey's answer to a second-factor ceremony (`login/mfa/passkey`, `step-up/passkey`).
    Passkey(Box<PasskeyAssertion>),
}

impl Proof {
    /// Exactly one of `code`, `recovery_code` and `passkey`, each checked for shape (422
    /// otherwise).
    pub fn from_request(
        code: Option<&str>,
        recovery_code: Option<&str>,
        passkey: Option<PasskeyAssertion>,
    ) -> Result<Self, ApiError> {
        match (code, recovery_code, passkey) {
            (Some(code), None, None) => Ok(Proof::Totp(super::parse_code(code)?)),
            (None, Some(code), None) => Ok(Proof::RecoveryCode(super::parse_recovery_code(code)?)),
            (None, None, Some(passkey)) => Ok(Proof::Passkey(Box::new(passkey))),
            _ => Err(ApiError::validation(
                "proof_required",
                "send exactly one of code (from your authenticator app), recovery_code and passkey",
            )),
        }
    }

    /// How the factor was proved, for audit rows.
    pub fn method(&self) -> &'static str {
        match self {
            Proof::Totp(_) => "totp",
            Proof::RecoveryCode(_) => "recovery_code",
            Proof::Passkey(_) => "passkey",
        }
    }

    /// A recovery code's use is mailed: wake the outbox worker once the proof has committed.
    pub fn mails_the_owner(&self) -> bool {
        matches!(self, Proof::RecoveryCode(_))
    }
}

/// One attempt to prove `user`'s second factor with `proof` as `action` (the name its
/// refusals are audited under), counted against `budget`.
pub struct ProofAttempt<'a> {
    pub state: &'a AppState,
    pub client: &'a ClientInfo,
    pub user: &'a User,
    pub proof: &'a Proof,
    pub action: &'a str,
    pub budget: Budget,
}

impl ProofAttempt<'_> {
    /// Counts this guess against the user's rate limit and refuses a proof from a locked
    /// or deactivated account, or from a device whose budget is spent (audited as a
    /// refused action). The client's budget is the caller's to count, as early as it can.
    pub async fn admit(&self) -> Result<(), ApiError> {
        let (state, client, user, action) = (self.state, self.client, self.user, self.action);
        credentials::count_account_guess(state, &format!("mfa:{}", user.id)).await?;
        let audit = Audit::new(&state.pool, client);
        if let Some(reason) = self.budget.admit(state, user).await {
            // As with passwords: a locked account (or spent device) takes no code, right or
            // wrong, until the lock ends (or a reset lifts it), and nothing more is counted.
            let details = json!({ "reason": reason, "method": self.proof.method() });
            audit.refused(Some(user.id), action, details).await;
            return Err(ApiError::InvalidCode);
        }
        if !user.is_active {
            let disabled = ApiError::AccountDisabled;
            return Err(audit
                .refuse(Some(user.id), action, "account_disabled", disabled)
                .await);
        }
        Ok(())
    }

    /// Checks the proof inside `tx` and spends it (the TOTP step, or the recovery code,
    /// whose use is audited and mailed in `tx`). A refused proof rolls `tx` back, undoing
    /// whatever the caller did in it, and counts like a wrong password against the budget
    /// (audited as a refused action).
    pub async fn spend<'c>(
        &self,
        mut tx: Transaction<'c, Postgres>,
    ) -> Result<Transaction<'c, Postgres>, ApiError> {
        let (state, client, user, action) = (self.state, self.client, self.user, self.action);
        let refused = match self.proof {
            Proof::Totp(code) => {
                let check = super::check_totp(&mut tx, state, user.id, code).await?;
                (check != CodeCheck::Accepted).then_some(check.reason())
            }
            Proof::RecoveryCode(code) => {
                let hash = super::recovery::hash(code);
                let spent = db::auth::mfa::use_recovery_code(&mut *tx, user.id, &hash).await?;
                if spent {
                    let left = db::auth::mfa::status(&mut *tx, user.id)
                        .await?
                        .recovery_codes_left;
                    super::queue_notice(&mut tx, user, Notice::RecoveryCodeUsed { left }).await?;
                    let details = json!({ "recovery_codes_left": left });
                    let audit = Audit::new(&state.pool, client);
                    let event = audit.event(Some(user.id), "mfa_recovery_code_used", true, details);
                    db::auth::audit::record(&mut *tx, &event).await?;
                }
                (!spent).then_some("wrong_recovery_code")
            }
            Proof::Passkey(passkey) => {
                // The ceremony is taken in `tx`; a refusal discards it below, so it is
                // spent whatever the outcome: it was single use.
                match assertion::verify_for_user(&mut tx, state, user.id, passkey).await? {
                    Ok(verified) => assertion::record(&mut tx, &verified)
                        .await?
                        .err()
                        .map(|refusal| refusal.reason()),
                    Err(refusal) => Some(refusal.reason()),
                }
            }
        };
        match refused {
            None => {
                self.budget.give_back(state).await;
                Ok(tx)
            }
            Some(reason) => {
                drop(tx);
                // Counted before anything else can fail: a guess that then met an error
                // must still cost what a refused one costs.
                let error =
                    credentials::wrong_code(state, user, client, action, reason, self.budget).await;
                if let Proof::Passkey(passkey) = self.proof {
                    assertion::discard_ceremony(state, user.id, passkey).await?;
                }
                Err(match (self.proof, error) {
                    (Proof::Passkey(_), ApiError::InvalidCode) => ApiError::InvalidPasskey,
                    (_, error) => error,
                })
            }
        }
    }
}
