//! GitHub logins made into usernames: a new account created by GitHub sign-in gets the
//! login, fitted to our username rule and told apart from namesakes.

// Twenty namesakes taken: the sign-in tries a random suffix with it.
pub use db::auth::username::with_suffix;

/// A GitHub login made to follow [`db::auth::username`]: other characters dropped, leading
/// separators dropped, too long cut, too short padded with `-github`.
pub fn username_base(login: &str) -> String {
    let kept = db::auth::username::sanitise(login, None);
    match kept.chars().count() {
        0 => "github-user".to_owned(),
        n if n < db::auth::username::MIN_CHARS => format!("{kept}-github"),
        _ => kept,
    }
}

/// `base`, then `base-2`, `base-3`, ... up to `base-{count}`, each cut to fit.
pub fn username_candidates(base: &str, count: usize) -> Vec<String> {
    let mut candidates = vec![base.to_owned()];
    candidates.extend((2..=count).map(|n| with_suffix(base, &format!("-{n}"))));
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_made_to_fit_our_rules() {
        assert_eq!(username_base("octocat"), "octocat");
        assert_eq!(username_base("Mona-Lisa"), "Mona-Lisa");
        assert_eq!(username_base("x"), "x-github");
        assert_eq!(username_base("ab"), "ab-github");
        assert_eq!(username_base("--ab"), "ab-github");
        assert_eq!(username_base("é"), "github-user");
        assert_eq!(username_base(&"a".repeat(60)), "a".repeat(50));
        for login in ["octocat", "x", "-", "a_b", &"z".repeat(80), "日本"] {
            let name = username_base(login);
            assert!(
                crate::validate::username(&name).is_ok(),
                "{login} -> {name}"
            );
            for candidate in username_candidates(&name, 20) {
                assert!(crate::validate::username(&candidate).is_ok(), "{candidate}");
            }
        }
        assert_eq!(
            username_candidates("octocat", 3),
            ["octocat", "octocat-2", "octocat-3"]
        );
        assert_eq!(
            with_suffix(&"a".repeat(50), "-2"),
            format!("{}-2", "a".repeat(48))
        );
    }
}
