//! OpenAPI pieces every service's spec shares: the error body and bearer authentication.

use utoipa::{
    Modify, ToSchema,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

/// Every error: `{"error": {"code": "...", "message": "..."}}`. Branch on `code`.
#[derive(ToSchema)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(ToSchema)]
pub struct ApiErrorDetail {
    /// Stable snake_case identifier, e.g. `invalid_credentials`.
    #[schema(example = "invalid_credentials")]
    pub code: String,
    /// Human-readable explanation; never contains internals.
    pub message: String,
}

/// Declares the `bearer` security scheme: EdDSA access tokens from the auth service.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT (EdDSA, 15 min); keys at /.well-known/jwks.json")
                    .build(),
            ),
        );
    }
}
