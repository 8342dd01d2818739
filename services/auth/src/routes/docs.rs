//! The OpenAPI description of this API, served at `/openapi.json`.

use platform::openapi::BearerAuth;
use platform::openapi::{ApiErrorBody, ApiErrorDetail};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "DevMentor auth", description = "Accounts, sessions and tokens."),
    paths(
        super::account::register,
        super::account::login,
        super::session::refresh,
        super::session::logout,
        super::session::logout_all,
        super::me::show,
        super::me::update,
        super::me::change_password,
        super::me::sessions,
        super::me::end_session,
        super::email::request_verification,
        super::email::confirm_verification,
        super::email::forgot_password,
        super::email::reset_password,
        super::admin::list_users,
        super::admin::get_user,
        super::admin::change_role,
        super::admin::activate,
        super::admin::deactivate,
        super::admin::unlock,
        super::oauth::github_start,
        super::oauth::github_callback,
    ),
    components(schemas(ApiErrorBody, ApiErrorDetail)),
    modifiers(&BearerAuth),
    tags(
        (name = "account", description = "Sign up and sign in"),
        (name = "session", description = "Refresh and sign out"),
        (name = "me", description = "The signed-in user's account"),
        (name = "email", description = "Mailed verification and password-reset links"),
        (name = "admin", description = "Account administration (admin, super_admin)"),
    )
)]
pub struct ApiDoc;
