//! `POST register` and `POST login`: signing up and signing in with a password (a second
//! factor, when on, is finished at `POST login/mfa`, in `routes/mfa.rs`).

use authn::Aal;
use axum::{Router, extract::State, http::StatusCode, routing::post};
use db::auth::NewUser;
use platform::{client::ClientInfo, extract::Json, openapi::ApiErrorBody};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{
    OpenApi,
    openapi::{Object, ObjectBuilder, Type},
};

use crate::{
    audit::Audit,
    credentials,
    device::Budget,
    error::ApiError,
    links::{self, LinkMail},
    mfa::login::MfaChallenge,
    password::Verified,
    rate_limit::{Rule, client_key},
    sessions::{self, SignedIn},
    state::AppState,
    validate,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
}

#[derive(OpenApi)]
#[openapi(
    paths(register, login),
    tags((name = "account", description = "Sign up and sign in"))
)]
pub struct ApiDoc;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Compared case-insensitively; at most 255 characters; in plain characters
    /// (its own NFKC form: no fullwidth letters, ligatures or separate accents, 422
    /// `invalid_email`), at a domain name (not `[127.0.0.1]` or another IP address).
    #[schema(format = Email, max_length = 255)]
    email: String,
    #[schema(schema_with = username_schema)]
    username: String,
    #[schema(schema_with = full_name_schema)]
    full_name: String,
    /// 8-128 characters.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// `username` as [`validate::username`] reads it.
fn username_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "3-50 ASCII letters, digits, `_`, `.` or `-`, starting with a letter or digit\n\
             (surrounding whitespace is trimmed); not a reserved name such as `admin` or\n\
             `support` (422 `username_reserved`, any case; the list is in the auth README).",
        ))
        .pattern(Some(validate::USERNAME_PATTERN))
        .build()
}

/// `full_name` as [`validate::full_name`] reads it.
fn full_name_schema() -> Object {
    let max = validate::FULL_NAME_MAX_CHARS;
    platform::openapi::non_blank_text(Some(max))
        .description(Some(format!(
            "1-{max} characters, not only whitespace (trimmed), without control characters \
             (line breaks, tabs) or bidirectional overrides (U+202A-U+202E, U+2066-U+2069)."
        )))
        .pattern(Some(validate::FULL_NAME_PATTERN))
        .build()
}

#[utoipa::path(post, path = "/api/auth/register", tag = "account", request_body = RegisterRequest, responses((status = 201, description = "account created and signed in", body = SignedIn), (status = 409, description = "email_taken or username_taken", body = ApiErrorBody), (status = 422, description = "invalid input, or username_reserved (a name on the reserved list)", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<SignedIn>), ApiError> {
    let rule = Rule::per_hour("register_ip", state.config.rate_limit_register_per_hour);
    state.limiter.check(rule, &client_key(&client)).await?;
    let email = validate::email(&request.email)?;
    let username = validate::new_username(&request.username)?;
    let full_name = validate::full_name(&request.full_name)?;
    validate::password(&request.password)?;

    let password_hash = state.passwords.hash(request.password).await?;
    // One transaction: the account, its first session and the audit row exist together or
    // not at all, whatever fails (or crashes) in between.
    let mut tx = state.pool.begin().await?;
    let new_user = NewUser {
        email: &email,
        username: &username,
        full_name: &full_name,
        password_hash: &password_hash,
    };
    let user = match db::auth::users::insert(&mut *tx, &new_user).await {
        Ok(user) => user,
        Err(error) => {
            // Ended before the audit row takes a connection of its own: a request holds one
            // pooled connection at a time.
            drop(tx);
            let error = ApiError::from(error);
            if let ApiError::Conflict { code, .. } = &error {
                let details = json!({ "reason": code, "email": email });
                Audit::new(&state.pool, &client)
                    .refused(None, "register", details)
                    .await;
            }
            return Err(error);
        }
    };
    links::queue(&mut tx, &state.config, &user, LinkMail::VerifyEmail).await?;
    let signed_in = sessions::sign_in(
        tx,
        &state,
        user,
        &client,
        &["register"],
        json!({}),
        Aal::Aal1,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(signed_in)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// An email address or a username.
    #[serde(alias = "email", alias = "username")]
    login: String,
    password: String,
    /// The `device_token` an earlier sign-in on this device answered. While it is valid for
    /// this account (it is void after a password change or reset), the account's lock does not
    /// refuse this sign-in and a wrong password counts against this device alone (5 per
    /// lockout period, then refused like a lock). Any other value is ignored.
    device_token: Option<String>,
}

/// A password login's answer: signed in, or (the account has a second factor) a challenge to
/// finish at `POST /api/auth/login/mfa`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginReply {
    SignedIn(Box<SignedIn>),
    MfaRequired(MfaChallenge),
}

/// A lock answers exactly like a wrong password (same status, body and cost), so neither
/// the lock nor the existence of an account shows from outside; the owner learns of a lock
/// by mail. A `device_token` from an earlier sign-in to the account gets past the lock
/// ([`Budget`]).
#[utoipa::path(post, path = "/api/auth/login", tag = "account", request_body = LoginRequest, responses((status = 200, description = "signed in (with a new `device_token`), or (the account has a second factor) `mfa_required` with an `mfa_token` and no tokens", body = LoginReply), (status = 401, description = "invalid_credentials: unknown account, wrong password, or an account locked after repeated failures (the owner is mailed a reset link) unless `device_token` is valid for it, or a device token whose own budget of wrong guesses is spent", body = ApiErrorBody), (status = 403, description = "account_disabled", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<LoginRequest>,
) -> Result<axum::Json<LoginReply>, ApiError> {
    let login = request.login.trim().to_lowercase();
    credentials::count_client_guess(&state, &client).await?;
    let user = db::auth::users::find_by_login(&state.pool, &login).await?;
    let budget = match &user {
        Some(user) => Budget::of(&state, user, request.device_token.as_deref()),
        None => Budget::Account,
    };
    // Counted by the account, not by how the request spells it: a username and an email
    // naming one account must not give it two budgets. A known device counts on its own, or
    // strangers filling the account's bucket would keep it out just as a lock would.
    let bucket = match (&user, budget) {
        (_, Budget::Device { device, .. }) => format!("device:{}", device.0),
        (Some(user), Budget::Account) => format!("account:{}", user.id),
        (None, Budget::Account) => format!("account:{login}"),
    };
    credentials::count_account_guess(&state, &bucket).await?;
    if request.password.len() > validate::PASSWORD_MAX_CHARS * 4 {
        // Longer than any password we accept: refuse before spending a hash on it.
        return Err(ApiError::InvalidCredentials);
    }

    // Every refusal below costs one verification, whichever it is: an early answer for
    // unknown or locked accounts would tell them apart by time.
    let stored = user.as_ref().map(|user| user.password_hash.clone());
    let verified = state
        .passwords
        .verify(request.password.clone(), stored)
        .await?;
    let audit = Audit::new(&state.pool, &client);
    let Some(user) = user else {
        let details = json!({ "reason": "unknown_account", "login": login });
        audit.refused(None, "login", details).await;
        return Err(ApiError::InvalidCredentials);
    };
    if let Some(reason) = budget.admit(&state, &user).await {
        // Refused even with the right password, and nothing is counted or reset: the lock
        // lapses on its own, or a mailed reset link lifts it. A device that signed in before
        // is refused only once its own budget is spent.
        let refused = ApiError::InvalidCredentials;
        return Err(audit.refuse(Some(user.id), "login", reason, refused).await);
    }
    let rehash = match verified {
        Verified::Yes { rehash } => {
            budget.give_back(&state).await;
            rehash
        }
        Verified::No => {
            return Err(credentials::wrong_password(&state, &user, &client, budget).await);
        }
    };
    if !user.is_active {
        let refused = ApiError::AccountDisabled;
        return Err(audit
            .refuse(Some(user.id), "login", "account_disabled", refused)
            .await);
    }

    let new_hash = match rehash {
        true => Some(state.passwords.hash(request.password).await?),
        false => None,
    };
    let second_factor = db::auth::mfa::status(&state.pool, user.id)
        .await?
        .has_second_factor();
    let mut tx = state.pool.begin().await?;
    // The password was checked against the account as read before the check queued for a
    // hashing thread. A password change or reset, or a deactivation, that committed since
    // then ended every session and challenge, and must end this sign-in too (or reactivation
    // would bring it back). One that commits later waits for this row, then ends the session
    // or challenge made here. With a second factor the failure count stays until the code is
    // right too: a right password alone must not refill the budget for guessing codes.
    let current = match second_factor {
        true => db::auth::users::lock_for_sign_in(&mut *tx, user.id).await?,
        false => db::auth::users::record_successful_login(&mut *tx, user.id).await?,
    };
    let Some(user) = current.filter(|current| current.password_hash == user.password_hash) else {
        drop(tx);
        let refused = ApiError::InvalidCredentials;
        return Err(audit
            .refuse(
                Some(user.id),
                "login",
                "password_changed_meanwhile",
                refused,
            )
            .await);
    };
    if !user.is_active {
        drop(tx);
        let refused = ApiError::AccountDisabled;
        return Err(audit
            .refuse(Some(user.id), "login", "account_disabled", refused)
            .await);
    }
    if let Some(hash) = &new_hash {
        // Conditional although the row is locked and checked: no rehash may ever write the
        // old password over a newer one.
        db::auth::users::change_password_hash(&mut *tx, user.id, &user.password_hash, hash).await?;
    }
    if second_factor {
        let challenge = crate::mfa::login::challenge(tx, &state, &user, &client).await?;
        return Ok(axum::Json(LoginReply::MfaRequired(challenge)));
    }
    let details = json!({ "password_rehashed": new_hash.is_some() });
    let signed_in =
        sessions::sign_in(tx, &state, user, &client, &["login"], details, Aal::Aal1).await?;
    Ok(axum::Json(LoginReply::SignedIn(Box::new(signed_in))))
}
