//! Readiness of the whole stack: the gateway is ready when every service says it is.
//! The platform's health router runs the probes concurrently and renders the report.

use std::time::Duration;

use futures::future::BoxFuture;
use platform::health::Probe;

use crate::upstream::Upstream;

/// Asks one service's own `/health/ready`, which covers its database and other dependencies.
pub struct UpstreamProbe {
    name: &'static str,
    url: String,
    client: reqwest::Client,
    timeout: Duration,
}

impl UpstreamProbe {
    pub fn new(upstream: &Upstream, client: reqwest::Client, timeout: Duration) -> Self {
        Self {
            name: upstream.name,
            url: upstream.url("/health/ready"),
            client,
            timeout,
        }
    }
}

impl Probe for UpstreamProbe {
    fn name(&self) -> &'static str {
        self.name
    }

    fn check(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let answer = self
                .client
                .get(&self.url)
                .timeout(self.timeout)
                .send()
                .await
                .map_err(|error| describe(&error, self.timeout))?;
            let status = answer.status();
            if status.is_success() {
                Ok("ready".to_owned())
            } else {
                // The service's own report names what it is missing; pass that along.
                let report: serde_json::Value = answer.json().await.unwrap_or_default();
                let failing: Vec<&str> = report["checks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|check| check["ok"] == false)
                    .filter_map(|check| check["name"].as_str())
                    .collect();
                Err(if failing.is_empty() {
                    format!("answered {status}")
                } else {
                    format!("answered {status}; not ready: {}", failing.join(", "))
                })
            }
        })
    }
}

/// A short reason without addresses or internals.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        format!("no answer within {timeout:?}")
    } else if error.is_connect() {
        "unreachable".to_owned()
    } else {
        "no valid answer".to_owned()
    }
}
