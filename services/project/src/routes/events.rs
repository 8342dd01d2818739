//! `/api/projects/{project_id}/events`: the project's changes as they commit, as
//! Server-Sent Events. Each event is one activity row: `event:` its action, `id:` its id,
//! `data:` the row as `GET .../activity` shows it. `Last-Event-ID` resumes after that row.
//!
//! Rows are read from the activity table, in commit order (`seq`), whenever
//! `crate::events` hears that the project changed, so every replica streams every
//! replica's changes and a reconnecting client misses nothing. Access is checked again
//! with every batch and at least every [`RECHECK`]: a member who is removed, or whose
//! session ends, stops receiving.

use std::{collections::VecDeque, convert::Infallible, time::Duration};

use authn::AuthUser;
use axum::{
    Router,
    extract::State,
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
    routing::get,
};
use db::{ids::ProjectId, projects::Activity};
use futures::Stream;
use platform::extract::Path;
use tokio::sync::broadcast::{Receiver, error::RecvError};
use utoipa::OpenApi;
use uuid::Uuid;

use super::activity::ActivityView;
use crate::error::documented::{ProjectNotFound, Unauthenticated};
use crate::{access::readable, error::ApiError, events::WakeUp, state::AppState};

/// How often an idle stream sends a comment, so proxies keep the connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an idle stream checks that its caller may still read the project.
const RECHECK: Duration = Duration::from_secs(30);
/// Rows read per query while catching up.
const BATCH: i64 = 100;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/projects/{project_id}/events", get(stream))
}

#[derive(OpenApi)]
#[openapi(
    paths(stream),
    tags((name = "events", description = "Live changes (Server-Sent Events)"))
)]
pub struct Api;

#[utoipa::path(get, path = "/api/projects/{project_id}/events", tag = "events", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ("Last-Event-ID" = Option<Uuid>, Header, description = "The id of the last event received: the stream resumes after it")), responses((status = 200, content_type = "text/event-stream", description = "One event per committed change: `event: <action>` (e.g. `task.created`), `id: <activity id>`, `data: <ActivityView JSON>`; a comment every 15 s keeps the connection open"), (status = 400, description = "invalid_last_event_id: not an event of this project", body = platform::openapi::ApiErrorBody), ProjectNotFound, Unauthenticated))]
pub async fn stream(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    readable(&state.pool, &user, project_id).await?;
    // Subscribed before the starting point is read, so nothing committed in between is missed.
    let wakeups = state.feed.subscribe();
    let after = match last_event_id(&headers)? {
        Some(id) => db::projects::activity::seq_of(&state.pool, project_id, id)
            .await?
            .ok_or_else(unknown_last_event)?,
        None => db::projects::activity::last_seq(&state.pool, project_id).await?,
    };
    let follower = Follower {
        state,
        user,
        project_id,
        after,
        wakeups,
        ready: VecDeque::new(),
    };
    let events = futures::stream::unfold(follower, |mut follower| async move {
        let activity = follower.next().await?;
        Some((Ok(to_event(activity)), follower))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<Uuid>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let id = value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok());
    id.map(Some).ok_or_else(unknown_last_event)
}

fn unknown_last_event() -> ApiError {
    ApiError::bad_request(
        "invalid_last_event_id",
        "Last-Event-ID must be the id of an event of this project",
    )
}

fn to_event(activity: Activity) -> Event {
    let id = activity.id.to_string();
    let action = activity.action.clone();
    let data = serde_json::to_string(&ActivityView::from(activity))
        .expect("an activity view always serializes");
    Event::default().event(action).id(id).data(data)
}

/// One client's position in one project's changes.
struct Follower {
    state: AppState,
    user: AuthUser,
    project_id: ProjectId,
    /// The `seq` of the last row handed out.
    after: i64,
    wakeups: Receiver<WakeUp>,
    ready: VecDeque<Activity>,
}

impl Follower {
    /// The next row to send; `None` ends the stream (access lost, or the process stopping).
    async fn next(&mut self) -> Option<Activity> {
        loop {
            if let Some(activity) = self.ready.pop_front() {
                return Some(activity);
            }
            let rows = match db::projects::activity::since(
                &self.state.pool,
                self.project_id,
                self.after,
                BATCH,
            )
            .await
            {
                Ok(rows) => rows,
                Err(error) => {
                    tracing::warn!(%error, "cannot read project activity for a stream");
                    return None;
                }
            };
            if let Some(last) = rows.last() {
                if !self.may_read().await {
                    return None;
                }
                self.after = last.seq;
                self.ready.extend(rows);
                continue;
            }
            self.wait().await?;
        }
    }

    /// Until this project may have changed; `None` when the stream should end.
    async fn wait(&mut self) -> Option<()> {
        loop {
            tokio::select! {
                wakeup = self.wakeups.recv() => match wakeup {
                    Ok(WakeUp::Project(project)) if project != self.project_id => continue,
                    // Lagged: some wake-ups were dropped; reading again covers them.
                    Ok(_) | Err(RecvError::Lagged(_)) => return Some(()),
                    Err(RecvError::Closed) => return None,
                },
                () = tokio::time::sleep(RECHECK) => {
                    if !self.may_read().await {
                        return None;
                    }
                }
            }
        }
    }

    /// Whether the session is still live and its user may still read the project.
    async fn may_read(&self) -> bool {
        let session = db::ids::SessionId(self.user.session_id);
        let live = db::auth::sessions::live(&self.state.pool, session).await;
        matches!(live, Ok(Some(_)))
            && readable(&self.state.pool, &self.user, self.project_id)
                .await
                .is_ok()
    }
}
