//! Sign-in with GitHub, the provider's side: its settings and client ([`github`]), the start
//! of a sign-in with state and PKCE ([`authorize`]), and the usernames that GitHub logins
//! become ([`usernames`]). Which account a GitHub identity signs in to is decided where the
//! callback is answered, `routes/oauth`.

pub mod authorize;
pub mod github;
pub mod usernames;
