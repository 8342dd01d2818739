//! Recovery codes: ten per factor, 16 characters (80 random bits) each, shown once as
//! `xxxx-xxxx-xxxx-xxxx`. At 80 bits a plain SHA-256 is all the database needs to keep: a slow
//! hash (argon2) defends guessable secrets, and these are not.

use rand::RngCore;

use crate::secrets::digest;

pub const COUNT: usize = 10;
/// No `0`, `1`, `l` or `o`, which read alike. 32 symbols, so a random byte's low five bits pick
/// one without bias.
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
const LENGTH: usize = 16;

/// Ten fresh codes, as shown to the user.
pub fn generate() -> Vec<String> {
    (0..COUNT).map(|_| one()).collect()
}

fn one() -> String {
    let mut bytes = [0u8; LENGTH];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let symbols: Vec<char> = bytes
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(byte & 31)]))
        .collect();
    symbols
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The code as stored (hashed), from what a user types: case, dashes and spaces do not matter.
/// `None` when it cannot be a recovery code at all.
pub fn normalize(raw: &str) -> Option<String> {
    let code: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b));
    valid.then_some(code)
}

/// What `auth.recovery_codes` keeps of a normalised code.
pub fn hash(normalized: &str) -> String {
    digest(normalized)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_distinct_grouped_and_normalise_back() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), COUNT);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            let normalized = normalize(code).expect("own codes are valid");
            assert_eq!(
                normalize(&code.to_uppercase().replace('-', " ")),
                Some(normalized)
            );
        }
        assert_eq!(normalize("abcd-efgh-ijkm-npq"), None, "too short");
        assert_eq!(normalize("abcd-efgh-ijkm-npq0"), None, "0 is not a symbol");
    }
}
