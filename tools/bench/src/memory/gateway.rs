//! Search through the gateway (issue 16: "p95 < 100 ms at c=100 directly and through the
//! gateway, gateway overhead ≤ 10 %"): the gateway's own app, in this process as the service
//! is, forwards the same searches; its floor is the direct figure of the same run.

use url::Url;

use crate::http_load::Load;
use crate::scratch::{Served, common_config};

/// The gateway's app in front of `memory` (only memory is asked; the other upstreams are
/// never reached).
pub(super) async fn start(memory: &Served) -> anyhow::Result<Served> {
    let memory_url = Url::parse(&memory.url("/"))?;
    let settings =
        gateway::config::Settings::new(memory_url.clone(), memory_url.clone(), memory_url);
    let app =
        gateway::app(&settings, &common_config()).map_err(|error| anyhow::anyhow!("{error}"))?;
    Served::start(app).await
}

/// The searches sent `through` the gateway, beside `direct`, the same searches sent straight
/// to the service.
pub(super) fn figure(through: &Load, direct: &Load, concurrency: usize) {
    crate::report::figure(
        &format!("search_c{concurrency}_gateway"),
        &format!("the same searches through the gateway vs straight to memory, c={concurrency}"),
        through.per_second(),
        "queries/s",
        Some(direct.per_second()),
        Some(through.latencies),
    );
}
