//! Search through the gateway (issue 16: "p95 < 100 ms at c=100 directly and through the
//! gateway, gateway overhead ≤ 10 %"): the gateway's own app, in this process as the service
//! is, forwards the same searches; its floor is the direct figure of the same run.

use std::sync::Arc;

use url::Url;

use super::search_over_http;
use crate::load::Run;
use crate::report::figure;
use crate::scratch::{Served, common_config};

pub async fn search_through_gateway(
    client: &reqwest::Client,
    memory: &Served,
    token: &Arc<String>,
    concurrency: usize,
    queries: Vec<String>,
    direct: &Run,
) -> anyhow::Result<()> {
    let memory_url = Url::parse(&memory.url("/"))?;
    // Only memory is asked; the other upstreams are never reached.
    let settings =
        gateway::config::Settings::new(memory_url.clone(), memory_url.clone(), memory_url);
    let app =
        gateway::app(&settings, &common_config()).map_err(|error| anyhow::anyhow!("{error}"))?;
    let gateway = Served::start(app).await?;
    let through = search_over_http(client, &gateway, token, concurrency, queries).await?;
    figure(
        &format!("search_c{concurrency}_gateway"),
        &format!("the same searches through the gateway vs straight to memory, c={concurrency}"),
        through.per_second(),
        "queries/s",
        Some(direct.per_second()),
        Some(through.latencies.percentiles()),
    );
    gateway.stop().await
}
