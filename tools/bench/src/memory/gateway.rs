//! Search through the gateway (issue 16: "p95 < 100 ms at c=100 directly and through the
//! gateway, gateway overhead ≤ 10 %"): the gateway's own app, in this process as the service
//! is, forwards the same searches; its floor is the direct figure of the same run.

use url::Url;

use super::SearchLoad;
use crate::http_load::Load;
use crate::report::figure;
use crate::scratch::{Served, common_config};

/// `searches` sent through the gateway to `memory`, beside `direct`, the same searches sent
/// straight to it.
pub(super) async fn search_through_gateway(
    memory: &Served,
    searches: &SearchLoad,
    direct: &Load,
) -> anyhow::Result<()> {
    let memory_url = Url::parse(&memory.url("/"))?;
    // Only memory is asked; the other upstreams are never reached.
    let settings =
        gateway::config::Settings::new(memory_url.clone(), memory_url.clone(), memory_url);
    let app =
        gateway::app(&settings, &common_config()).map_err(|error| anyhow::anyhow!("{error}"))?;
    let gateway = Served::start(app).await?;
    let through = searches.run(&gateway).await?;
    let concurrency = searches.concurrency;
    figure(
        &format!("search_c{concurrency}_gateway"),
        &format!("the same searches through the gateway vs straight to memory, c={concurrency}"),
        through.per_second(),
        "queries/s",
        Some(direct.per_second()),
        Some(through.latencies),
    );
    gateway.stop().await
}
