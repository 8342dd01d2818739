//! Live-session checks: a signature proves who a token was issued to, not that its session
//! is still open. Every service asks PostgreSQL (the auth schema is the source of truth, so
//! no revocation can be missed the way a separately written Redis copy could miss one) and
//! remembers each answer for [`REMEMBER_FOR`], so a logout, deactivation or demotion reaches
//! every service within that time while a busy session costs one query per interval.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use db::{PgPool, ids::SessionId};
use uuid::Uuid;

use crate::{Aal, AccessClaims, AuthError, AuthUser, Role};

/// A live session's owner, their current role, whether they have a second factor now and
/// whether the session still holds a second-factor proof.
#[derive(Debug, Clone, Copy)]
struct Live {
    owner: Uuid,
    role: Role,
    has_second_factor: bool,
    proved_second_factor: bool,
}

/// How long one answer is reused. The promise is "revocation everywhere within a second".
pub const REMEMBER_FOR: Duration = Duration::from_millis(500);

/// Above this many remembered sessions, expired answers are dropped before adding more.
const MAX_REMEMBERED: usize = 50_000;

/// The session's state as last read: `None` when it is over (revoked, expired, user disabled).
#[derive(Debug, Clone)]
struct Answer {
    read_at: Instant,
    live: Option<Live>,
}

/// Checks that a token's session is live and supplies the user's current role and whether
/// they have a second factor (what `AuthUser::require_aal2` needs).
#[derive(Clone)]
pub struct LiveSessions {
    pool: PgPool,
    remember_for: Duration,
    answers: Arc<Mutex<HashMap<Uuid, Answer>>>,
}

impl LiveSessions {
    /// Remembers each answer for [`REMEMBER_FOR`]: for services that only read sessions.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            remember_for: REMEMBER_FOR,
            answers: Arc::default(),
        }
    }

    /// Asks on every request: for the auth service, which ends sessions itself and must not
    /// accept a token it has just revoked.
    pub fn uncached(pool: PgPool) -> Self {
        Self {
            remember_for: Duration::ZERO,
            ..Self::new(pool)
        }
    }

    /// The token's bearer with the role the user has now. Refuses tokens of ended sessions
    /// and tokens whose subject is not the session's owner. An `aal2` claim counts only while
    /// the session still holds its proof: removing a factor forgets every session's proof,
    /// and a token signed before that must not keep `aal2` until it expires (the claim is
    /// lowered to `aal1`, as a demotion lowers the role).
    pub async fn check(&self, claims: AccessClaims) -> Result<AuthUser, AuthError> {
        let live = match self.remembered(claims.sid) {
            Some(live) => live,
            None => self.read(claims.sid).await?,
        }
        .ok_or(AuthError::SessionEnded)?;
        if live.owner != claims.sub {
            return Err(AuthError::InvalidToken);
        }
        Ok(AuthUser {
            user_id: claims.sub,
            session_id: claims.sid,
            role: live.role,
            aal: if live.proved_second_factor {
                claims.aal
            } else {
                Aal::Aal1
            },
            has_second_factor: live.has_second_factor,
        })
    }

    fn remembered(&self, session: Uuid) -> Option<Option<Live>> {
        let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        answers
            .get(&session)
            .filter(|answer| answer.read_at.elapsed() < self.remember_for)
            .map(|answer| answer.live)
    }

    async fn read(&self, session: Uuid) -> Result<Option<Live>, AuthError> {
        let row = db::auth::sessions::live_access(&self.pool, SessionId(session))
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot check the session of an access token");
                AuthError::Unavailable
            })?;
        let live = match row {
            Some(row) => Some(Live {
                owner: row.user_id.0,
                role: row.role.parse().map_err(|error: String| {
                    tracing::error!(%error, "unknown role in auth.users");
                    AuthError::Unavailable
                })?,
                has_second_factor: row.has_second_factor,
                proved_second_factor: row.session_proved_second_factor,
            }),
            None => None,
        };
        if self.remember_for.is_zero() {
            return Ok(live);
        }
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        if answers.len() >= MAX_REMEMBERED {
            let remember_for = self.remember_for;
            answers.retain(|_, answer| answer.read_at.elapsed() < remember_for);
        }
        answers.insert(
            session,
            Answer {
                read_at: Instant::now(),
                live,
            },
        );
        Ok(live)
    }
}
