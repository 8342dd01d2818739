//! Sign-in with GitHub, end to end through the auth router against a mock GitHub
//! ([`mock_github`]) that checks what the real one checks.

#[path = "../common/mod.rs"]
mod common;
mod mock_github;
mod support;

mod accounts;
mod linking;
mod refusals;
mod second_factor;
mod start;
mod state_and_pkce;
mod takeover;
