//! RFC 6238 codes (SHA-1, 30-second steps, 6 digits, one step of skew either way) through
//! `totp-rs`, and what an authenticator app needs to enroll: the base32 secret, the
//! `otpauth://` URI and that URI as an SVG QR code.

use qrcode::{QrCode, render::svg};
use rand::RngCore;
use totp_rs::{Builder, Secret, Totp};

/// Shown as the account's label in authenticator apps.
pub const ISSUER: &str = "DevMentor";
/// 160 bits, the length RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, String> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|error| format!("TOTP setup: {error}"))
}

/// A code as typed: six digits, spaces allowed between them ("123 456").
pub fn parse_code(raw: &str) -> Option<String> {
    let code: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// The step whose code `code` is, among the steps around `unix_secs`; `None` for a wrong code.
pub fn matching_step(secret: &[u8], code: &str, unix_secs: u64) -> Result<Option<i64>, String> {
    let totp = totp(secret, "check")?;
    Ok(totp
        .check(code, unix_secs)
        .and_then(|step| i64::try_from(step).ok()))
}

pub fn now() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

/// What the enroll answer shows.
pub struct Enrollment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// `account` labels the entry in the app (the email; `:` is not allowed in a label, so an
/// address holding one falls back to `fallback`).
pub fn enrollment(secret: &[u8], account: &str, fallback: &str) -> Result<Enrollment, String> {
    let label = if account.contains(':') {
        fallback
    } else {
        account
    };
    let totp = totp(secret, label)?;
    let otpauth_uri = totp
        .to_url()
        .map_err(|error| format!("otpauth URI: {error}"))?;
    let qr = QrCode::new(otpauth_uri.as_bytes()).map_err(|error| format!("QR code: {error}"))?;
    let qr_svg = qr
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(Enrollment {
        secret: Secret::from(secret.to_vec()).to_base32(),
        otpauth_uri,
        qr_svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (last six digits of the eight-digit values).
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
        ] {
            let step = matching_step(secret, code, time).expect("check");
            assert_eq!(step, Some((time / 30) as i64), "at {time}");
        }
        assert_eq!(
            matching_step(secret, "287082", 59 + 60).expect("check"),
            None
        );
    }

    #[test]
    fn codes_are_six_digits_with_optional_spaces() {
        assert_eq!(parse_code(" 123 456 ").as_deref(), Some("123456"));
        for bad in ["12345", "1234567", "12345a", "", "１２３４５６"] {
            assert_eq!(parse_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn enrollment_carries_the_secret_uri_and_qr() {
        let secret = new_secret();
        let enrollment = enrollment(&secret, "ann@example.com", "ann").expect("enroll");
        assert_eq!(enrollment.secret.len(), 32);
        assert!(enrollment.otpauth_uri.starts_with("otpauth://totp/"));
        assert!(
            enrollment
                .otpauth_uri
                .contains(&format!("secret={}", enrollment.secret))
        );
        assert!(enrollment.otpauth_uri.contains("issuer=DevMentor"));
        assert!(enrollment.qr_svg.contains("<svg"));
        let odd = super::enrollment(&secret, "\"a:b\"@example.com", "ann").expect("enroll");
        assert!(odd.otpauth_uri.contains("ann"), "{}", odd.otpauth_uri);
    }
}
