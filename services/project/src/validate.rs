//! Input rules, checked before SQL so callers get a precise 422 (the migration's CHECKs
//! say the same and remain the backstop), and how a PATCH body tells `null` from absent.

use utoipa::openapi::Object;

use crate::error::{ApiError, SLUG_RULE};

const SLUG_MAX: usize = 100;

/// At most `max` characters as sent (what the OpenAPI `maxLength` says) and something
/// besides whitespace (its `pattern`); answered trimmed.
pub fn text(value: &str, field: &str, code: &'static str, max: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || value.chars().count() > max {
        return Err(ApiError::validation(
            code,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// [`text`]'s rule for a field of at most `MAX` characters, as its schema says it:
/// `#[schema(schema_with = validate::text_schema::<MAX>)]`. A PATCH's optional field takes
/// `platform::openapi::optional_non_blank_text` instead.
pub fn text_schema<const MAX: usize>() -> Object {
    platform::openapi::non_blank_text(Some(MAX))
        .description(Some(format!(
            "1 to {MAX} characters, not only whitespace (trimmed)."
        )))
        .build()
}

/// A `version` the client names (the one an edit is based on, the one a restore brings
/// back): versions start at 1, so 0 or less is a mistake to point out (422
/// `invalid_version`), not a stale copy (409 `version_conflict`, "reload and retry": a retry
/// would send the same number) nor a missing version.
pub fn version(version: i32) -> Result<i32, ApiError> {
    if version < 1 {
        return Err(ApiError::validation(
            "invalid_version",
            "version must be 1 or more",
        ));
    }
    Ok(version)
}

/// A URL slug from a name: ASCII letters and digits, lower-cased, everything else collapsed
/// into single hyphens, cut to leave room for a `-N` suffix. Never empty.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(SLUG_MAX - 10);
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "project".to_owned()
    } else {
        slug.to_owned()
    }
}

/// `base`, or `base-2`, `base-3`, ... whichever is not in `taken`.
pub fn free_slug(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|s| s == base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("an unbounded range has a free suffix")
}

/// A slug given explicitly: the shape `projects_slug_check` enforces.
pub fn slug(value: &str) -> Result<String, ApiError> {
    let well_formed = !value.is_empty()
        && value.len() <= SLUG_MAX
        && value.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !well_formed {
        return Err(ApiError::validation("invalid_slug", SLUG_RULE));
    }
    Ok(value.to_owned())
}

/// Declares an enum for a closed set of values a text column holds (a status, a priority, a
/// role), spelling each value once: serde reads and writes it, the OpenAPI schema lists it,
/// and `as_str` gives it to SQL. Attributes before `enum` (docs, more derives) are kept.
/// (Each value is a `tt`, not a `literal`: utoipa's derive sees a `literal` fragment's
/// invisible group instead of a string and would document the variant's Rust name.)
macro_rules! text_enum {
    (
        $(#[$attribute:meta])*
        pub enum $name:ident { $($(#[$doc:meta])* $variant:ident = $text:tt),+ $(,)? }
    ) => {
        $(#[$attribute])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            serde::Deserialize,
            serde::Serialize,
            utoipa::ToSchema,
        )]
        pub enum $name {
            $($(#[$doc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The value as its column stores it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }
    };
}
pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_derived_from_names() {
        assert_eq!(slugify("  My Great Project! "), "my-great-project");
        assert_eq!(slugify("Ünïcödé"), "n-c-d");
        assert_eq!(slugify("!!!"), "project");
        assert!(slug(&slugify(&"x".repeat(500))).is_ok());
    }

    #[test]
    fn taken_slugs_get_the_next_free_suffix() {
        let taken = vec!["app".to_owned(), "app-2".to_owned()];
        assert_eq!(free_slug("app", &taken), "app-3");
        assert_eq!(free_slug("web", &taken), "web");
    }

    #[test]
    fn explicit_slugs_follow_the_schema() {
        assert!(slug("my-app-2").is_ok());
        for bad in ["", "My-App", "a--b", "-a", "a-", "a_b", &"a".repeat(101)] {
            assert!(slug(bad).is_err(), "{bad:?}");
        }
    }
}
