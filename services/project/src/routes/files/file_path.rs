//! What a project file path may be, and its one spelling: Unicode NFC. Paths only ever
//! name rows (the bytes live under a key [`crate::storage::FileStore`] makes), so these rules
//! are about names that alias or look alike, not about the disk.
//!
//! Case is kept and compared exactly: `A.md` and `a.md` are two files, as on Linux and in
//! S3. Folding case would need a locale's rules and would rename what users uploaded.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::{ApiError, FILE_PATH_RULE};

pub const FILE_PATH_MAX: usize = 1024;
/// A path's limit in bytes too: it is a key of the unique btree indexes on `(project_id,
/// path)`, whose entries PostgreSQL keeps under 2,704 bytes. Its error names the index, so a
/// longer path was read as a lost race (409 `upload_conflict`, "retry") and never stored.
pub const FILE_PATH_MAX_BYTES: usize = 2048;

/// A project file path in NFC: relative, canonical (no `.`, `..` or empty segments, so
/// `a/./b` and `a//b` cannot alias `a/b`), no backslashes or control characters, and nothing
/// that makes it look like another path (see [`look_alike`]). Every route that takes a path
/// passes it through here, so a client sending the decomposed `café` (macOS file names are
/// NFD) stores and finds the same file as one sending it composed.
pub fn file_path(value: &str) -> Result<String, ApiError> {
    let path: String = value.nfc().collect();
    let canonical = !path.is_empty()
        && path.chars().count() <= FILE_PATH_MAX
        && path.len() <= FILE_PATH_MAX_BYTES
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if !canonical {
        return Err(ApiError::validation("invalid_file_path", FILE_PATH_RULE));
    }
    if let Some(problem) = look_alike(&path) {
        return Err(ApiError::validation("invalid_file_path", problem));
    }
    Ok(path)
}

/// Why `path` would pass for another name, if it would: an invisible format character
/// (bidi controls turn `invoice<U+202E>fdp.exe` into what reads `invoiceexe.pdf`; a
/// zero-width space or soft hyphen hides a second `a.md`), or a segment ending in a dot or
/// a space, which Windows and many sync tools drop (`a.md.` would become `a.md`).
fn look_alike(path: &str) -> Option<String> {
    if let Some(invisible) = path.chars().find(|&c| is_invisible_format(c)) {
        return Some(format!(
            "file paths may not contain U+{:04X}: invisible formatting characters (bidirectional \
             controls, zero-width spaces and the like) make one name look like another",
            invisible as u32
        ));
    }
    if let Some(segment) = path
        .split('/')
        .find(|segment| segment.ends_with(|c: char| c == '.' || c.is_whitespace()))
    {
        return Some(format!(
            "path segments may not end with a dot or a space: {segment:?} would look like, \
             and on Windows become, the name without it"
        ));
    }
    None
}

/// A character of general category Format (Cf), which renders as nothing or moves other
/// text, except the zero-width (non-)joiners: Persian, Indic scripts and emoji sequences
/// need them to spell ordinary names.
fn is_invisible_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format && !matches!(c, '\u{200C}' | '\u{200D}')
}

#[cfg(test)]
mod tests {
    use super::file_path;

    #[test]
    fn traversal_and_aliasing_paths_are_refused() {
        assert!(file_path("docs/readme.md").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../secret",
            "a/../../b",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "a\nb",
            ".",
            "a.",
            "a/b ",
            "a\u{2066}b",
            "a\u{200B}b",
        ] {
            assert!(file_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_come_back_in_nfc() {
        assert_eq!(file_path("cafe\u{301}/x").unwrap(), "caf\u{e9}/x");
        // Hangul: three decomposed jamo make one syllable.
        assert_eq!(file_path("\u{1112}\u{1161}\u{11AB}").unwrap(), "\u{D55C}");
    }
}
