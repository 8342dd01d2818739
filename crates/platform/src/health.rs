//! `/health/live` (the process answers) and `/health/ready` (its dependencies answer and the
//! schema is the one this build needs).

use std::{future::Future, sync::Arc, time::Duration};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use futures::future::{BoxFuture, join_all};
use serde::Serialize;

/// One dependency `/health/ready` checks.
pub trait Probe: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// `Ok(detail)` when usable, `Err(reason)` when not. Reasons are shown to callers of
    /// the readiness endpoint, so they must not carry secrets.
    fn check(&self) -> BoxFuture<'_, Result<String, String>>;
}

/// A probe from a name and an async check, so a service can report a dependency (its
/// database, say) without this crate knowing what that dependency is.
pub struct CheckProbe<F> {
    name: &'static str,
    check: F,
}

impl<F, Fut> CheckProbe<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
{
    pub fn new(name: &'static str, check: F) -> Self {
        Self { name, check }
    }

    /// Boxed, as [`router`] takes its probes.
    pub fn boxed(name: &'static str, check: F) -> Box<dyn Probe> {
        Box::new(Self::new(name, check))
    }
}

impl<F, Fut> Probe for CheckProbe<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn check(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin((self.check)())
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone)]
struct HealthState {
    service: &'static str,
    probes: Arc<[Box<dyn Probe>]>,
}

#[derive(Serialize)]
struct Live {
    status: &'static str,
    service: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Ready {
    status: &'static str,
    service: &'static str,
    checks: Vec<Check>,
}

#[derive(Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

/// The health routes for `service`, checking `probes` on every readiness request.
pub fn router(service: &'static str, probes: Vec<Box<dyn Probe>>) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(HealthState {
            service,
            probes: probes.into(),
        })
}

async fn live(State(state): State<HealthState>) -> Json<Live> {
    Json(Live {
        status: "ok",
        service: state.service,
        version: env!("CARGO_PKG_VERSION"),
    })
}

async fn ready(State(state): State<HealthState>) -> (StatusCode, Json<Ready>) {
    let checks = join_all(state.probes.iter().map(|probe| async move {
        let outcome = tokio::time::timeout(PROBE_TIMEOUT, probe.check())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {PROBE_TIMEOUT:?}")));
        let ok = outcome.is_ok();
        let detail = outcome.unwrap_or_else(|reason| reason);
        Check {
            name: probe.name(),
            ok,
            detail,
        }
    }))
    .await;
    let all_ok = checks.iter().all(|check| check.ok);
    let (status, word) = if all_ok {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    (
        status,
        Json(Ready {
            status: word,
            service: state.service,
            checks,
        }),
    )
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    struct Fixed(&'static str, Result<&'static str, &'static str>);

    impl Probe for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn check(&self) -> BoxFuture<'_, Result<String, String>> {
            let outcome = self.1.map(str::to_owned).map_err(str::to_owned);
            Box::pin(async move { outcome })
        }
    }

    async fn get_ready(probes: Vec<Box<dyn Probe>>) -> (StatusCode, serde_json::Value) {
        let request = axum::http::Request::get("/health/ready")
            .body(Body::empty())
            .expect("request");
        crate::test_support::send(router("test", probes), request).await
    }

    #[tokio::test]
    async fn ready_when_every_probe_passes() {
        let (status, body) = get_ready(vec![Box::new(Fixed("a", Ok("fine")))]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ready");
        assert_eq!(body["checks"][0]["detail"], "fine");
    }

    #[tokio::test]
    async fn not_ready_names_the_failing_probe() {
        let probes: Vec<Box<dyn Probe>> = vec![
            Box::new(Fixed("a", Ok("fine"))),
            Box::new(Fixed("b", Err("down"))),
        ];
        let (status, body) = get_ready(probes).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "not_ready");
        assert_eq!(body["checks"][1]["name"], "b");
        assert_eq!(body["checks"][1]["ok"], false);
        assert_eq!(body["checks"][1]["detail"], "down");
    }
}
