//! [`service_error!`](crate::service_error): a service's `ApiError` from one list of its
//! failures, each with the status and code it answers with.

/// Declares a service's error enum and everything around it that is the same in every
/// service, so that the service lists only its failures and how each one answers.
///
/// ```ignore
/// platform::service_error! {
///     /// Every way an auth request can fail.
///     #[derive(Debug, thiserror::Error)]
///     pub enum ApiError {
///         #[error("wrong email/username or password")]
///         InvalidCredentials => (UNAUTHORIZED, "invalid_credentials"),
///         #[error("{0}")]
///         NotFound(&'static str) => (NOT_FOUND, "not_found"),
///         // The answer of a wrapped error: `|field| (status, code)`, any expressions.
///         #[error(transparent)]
///         Unauthenticated(#[from] authn::AuthError) => |error| (error.status(), error.code()),
///         // A 5xx whose one field is logged (never sent), as `Internal`'s is.
///         #[error("the search index is unavailable")]
///         IndexUnavailable(String) => (SERVICE_UNAVAILABLE, "vector_index_unavailable") logged,
///     }
///     // Optional: other `ServiceError` methods, e.g. `retry_after_secs`.
/// }
/// ```
///
/// Every service's enum also gets the failures all of them share, declared here once:
/// `Validation` (422), `BadRequest` (400) and `Conflict` (409), each with the code it is
/// given, `Forbidden` (403), `Internal` (500, its detail logged) and `DatabaseBusy` (503
/// `busy`, its detail logged: the service's `From<sqlx::Error>` maps a pool timeout to it). Around the enum, the macro
/// writes the constructors `validation`, `bad_request` and `internal`, `ServiceError`
/// (status and code from the list, the logged details) with `IntoResponse` through
/// [`render`](crate::error::render), and `From<PageError>` (a bad `limit` or `cursor` is a
/// 400 everywhere).
///
/// The enum derives `thiserror::Error` where it is written: derived from inside this macro,
/// thiserror would bind an `#[error(transparent)]` field under the macro's hygiene and not
/// find it.
#[macro_export]
macro_rules! service_error {
    (
        $(#[$enum_attr:meta])*
        $vis:vis enum $name:ident { $($variants:tt)* }
        $($service_error_items:tt)*
    ) => {
        $crate::service_error!(@variants
            [$(#[$enum_attr])* $vis enum $name]
            [$($service_error_items)*]
            [] [] []
            $($variants)*
        );
    };

    // One variant at a time: its declaration, its `status_and_code` arm and, when it is
    // `logged`, its `detail` arm are added to the three lists.
    (@variants $head:tt $items:tt [$($decls:tt)*] [$($answers:tt)*] $details:tt
        $(#[$($attr:tt)*])* $variant:ident => ($status:ident, $code:literal) $(, $($rest:tt)*)?
    ) => {
        $crate::service_error!(@variants $head $items
            [$($decls)* $(#[$($attr)*])* $variant,]
            [$($answers)* Self::$variant => ($crate::error::StatusCode::$status, $code),]
            $details
            $($($rest)*)?
        );
    };
    (@variants $head:tt $items:tt [$($decls:tt)*] [$($answers:tt)*] [$($details:tt)*]
        $(#[$($attr:tt)*])* $variant:ident ($field:ty)
            => ($status:ident, $code:literal) logged $(, $($rest:tt)*)?
    ) => {
        $crate::service_error!(@variants $head $items
            [$($decls)* $(#[$($attr)*])* $variant($field),]
            [$($answers)* Self::$variant(_) => ($crate::error::StatusCode::$status, $code),]
            [$($details)* Self::$variant(detail) => Some(detail),]
            $($($rest)*)?
        );
    };
    (@variants $head:tt $items:tt [$($decls:tt)*] [$($answers:tt)*] $details:tt
        $(#[$($attr:tt)*])* $variant:ident $fields:tt
            => ($status:ident, $code:literal) $(, $($rest:tt)*)?
    ) => {
        $crate::service_error!(@variants $head $items
            [$($decls)* $(#[$($attr)*])* $variant $fields,]
            [$($answers)* Self::$variant { .. } => ($crate::error::StatusCode::$status, $code),]
            $details
            $($($rest)*)?
        );
    };
    (@variants $head:tt $items:tt [$($decls:tt)*] [$($answers:tt)*] $details:tt
        $(#[$($attr:tt)*])* $variant:ident ($($field:tt)*)
            => |$inner:ident| $answer:expr $(, $($rest:tt)*)?
    ) => {
        $crate::service_error!(@variants $head $items
            [$($decls)* $(#[$($attr)*])* $variant($($field)*),]
            [$($answers)* Self::$variant($inner) => $answer,]
            $details
            $($($rest)*)?
        );
    };

    // Every variant is listed: write it all out.
    (@variants
        [$(#[$enum_attr:meta])* $vis:vis enum $name:ident]
        [$($service_error_items:tt)*]
        [$($decls:tt)*] [$($answers:tt)*] [$($details:tt)*]
    ) => {
        $(#[$enum_attr])*
        $vis enum $name {
            /// Well-formed input that breaks a rule; `code` says which: 422.
            #[error("{message}")]
            Validation { code: &'static str, message: String },
            /// A request that cannot be used at all (a bad `limit` or `cursor`, a broken
            /// upload); `code` says why: 400.
            #[error("{message}")]
            BadRequest { code: &'static str, message: String },
            /// Someone who may not do this (the message says why): 403.
            #[error("{0}")]
            Forbidden(&'static str),
            /// The request collides with what is stored (a taken name, a lost race); `code`
            /// says how: 409.
            #[error("{message}")]
            Conflict {
                code: &'static str,
                message: &'static str,
            },
            /// Our bug or our infrastructure: the detail is logged, never shown (500).
            #[error("an internal error occurred")]
            Internal(String),
            /// Every database connection stayed taken while the request waited for one: 503
            /// `busy`, which passes once the load does (the detail is logged).
            #[error("the server is busy: retry in a second")]
            DatabaseBusy(String),
            $($decls)*
        }

        impl $name {
            pub fn validation(code: &'static str, message: impl Into<String>) -> Self {
                Self::Validation {
                    code,
                    message: message.into(),
                }
            }

            pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
                Self::BadRequest {
                    code,
                    message: message.into(),
                }
            }

            pub fn internal(error: impl ::std::fmt::Display) -> Self {
                Self::Internal(error.to_string())
            }
        }

        impl $crate::error::ServiceError for $name {
            fn status_and_code(&self) -> ($crate::error::StatusCode, &'static str) {
                use $crate::error::StatusCode;
                match self {
                    Self::Validation { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
                    Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
                    Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
                    Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
                    Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
                    Self::DatabaseBusy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                    $($answers)*
                }
            }

            fn detail(&self) -> Option<&str> {
                match self {
                    Self::Internal(detail) | Self::DatabaseBusy(detail) => Some(detail),
                    $($details)*
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }

            $($service_error_items)*
        }

        $crate::respond_with_render!($name);

        impl From<$crate::pagination::PageError> for $name {
            fn from(error: $crate::pagination::PageError) -> Self {
                Self::bad_request(error.code(), error.to_string())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::{
        error::{ServiceError, StatusCode},
        pagination::PageError,
    };

    #[derive(Debug, thiserror::Error)]
    #[error("the upstream refused")]
    struct Upstream;

    crate::service_error! {
        #[derive(Debug, thiserror::Error)]
        enum Failure {
            #[error("slow down")]
            Limited => (TOO_MANY_REQUESTS, "rate_limited"),
            #[error("{0} not found")]
            Missing(&'static str) => (NOT_FOUND, "not_found"),
            #[error("busy for {seconds} s")]
            Busy { seconds: u64 } => (SERVICE_UNAVAILABLE, "busy"),
            #[error(transparent)]
            Refused(#[from] Upstream) => |_upstream| (StatusCode::BAD_GATEWAY, "upstream"),
            #[error("the index is down")]
            IndexDown(String) => (SERVICE_UNAVAILABLE, "index_down") logged,
        }

        fn retry_after_secs(&self) -> Option<u64> {
            match self {
                Failure::Busy { seconds } => Some(*seconds),
                _ => None,
            }
        }
    }

    #[test]
    fn each_failure_answers_as_listed_and_the_shared_ones_as_everywhere() {
        let answers = [
            (
                Failure::Limited,
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
            ),
            (Failure::Missing("task"), StatusCode::NOT_FOUND, "not_found"),
            (
                Failure::Busy { seconds: 2 },
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
            ),
            (Upstream.into(), StatusCode::BAD_GATEWAY, "upstream"),
            (
                Failure::validation("bad_slug", "no"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_slug",
            ),
            (
                Failure::bad_request("bad_part", "no"),
                StatusCode::BAD_REQUEST,
                "bad_part",
            ),
            (
                PageError::Cursor.into(),
                StatusCode::BAD_REQUEST,
                PageError::Cursor.code(),
            ),
            (
                Failure::Conflict {
                    code: "slug_taken",
                    message: "taken",
                },
                StatusCode::CONFLICT,
                "slug_taken",
            ),
            (
                Failure::Forbidden("admins only"),
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            (
                Failure::internal("disk full"),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
            (
                Failure::DatabaseBusy("pool timed out".into()),
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
            ),
        ];
        for (failure, status, code) in answers {
            assert_eq!(failure.status_and_code(), (status, code), "{failure:?}");
        }
        assert_eq!(Failure::Missing("task").to_string(), "task not found");
        assert_eq!(
            Failure::Refused(Upstream).to_string(),
            "the upstream refused"
        );
    }

    #[test]
    fn only_internal_and_logged_failures_have_a_detail() {
        assert_eq!(Failure::internal("disk full").detail(), Some("disk full"));
        let busy = Failure::DatabaseBusy("pool timed out".into());
        assert_eq!(busy.detail(), Some("pool timed out"));
        let down = Failure::IndexDown("qdrant: refused".into());
        assert_eq!(down.detail(), Some("qdrant: refused"));
        assert_eq!(down.to_string(), "the index is down");
        assert_eq!(Failure::Busy { seconds: 2 }.detail(), None);
    }

    #[test]
    fn the_services_own_methods_are_kept() {
        assert_eq!(Failure::Busy { seconds: 2 }.retry_after_secs(), Some(2));
        assert_eq!(Failure::Limited.retry_after_secs(), None);
    }
}
