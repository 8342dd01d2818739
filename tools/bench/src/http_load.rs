//! Closed-loop HTTP load for a fixed time: `concurrency` connections, each sending its next
//! GET as soon as the last one is answered. Driven by `wrk` (an established load generator,
//! when installed) or by the built-in reqwest client; both give the same [`Load`], and a
//! read figure and its floor always use the same one.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::StatusCode;

use crate::report::{Latencies, Percentiles};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    /// `wrk` on the PATH, with a Lua hook that prints the answered count and percentiles.
    Wrk,
    /// reqwest from this process: one task per connection.
    Builtin,
}

impl Client {
    /// `wrk` when it can be run, else the built-in client.
    pub fn available() -> Self {
        let wrk = std::process::Command::new("wrk")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // `wrk --version` exits 1 after printing its version: having run at all is enough.
        if wrk.is_ok() {
            Self::Wrk
        } else {
            Self::Builtin
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Wrk => "wrk",
            Self::Builtin => "built-in client",
        }
    }
}

/// What one timed load answered: every response was 200.
pub struct Load {
    pub requests: u64,
    pub elapsed: Duration,
    pub latencies: Percentiles,
}

impl Load {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// GETs `url` with `token` as bearer over `concurrency` connections for `duration`.
pub async fn get(
    client: Client,
    url: &str,
    token: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    match client {
        Client::Wrk => wrk(url, token, concurrency, duration).await,
        Client::Builtin => builtin(url, token, concurrency, duration).await,
    }
}

/// Prints `requests duration_us p50_us p95_us p99_us non_2xx socket_errors` when wrk is done.
const WRK_REPORT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"#;

async fn wrk(
    url: &str,
    token: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let script = tempfile::Builder::new().suffix(".lua").tempfile()?;
    std::fs::write(script.path(), WRK_REPORT)?;
    // Two threads at most: a third would only take turns on a 2-core machine.
    let threads = concurrency.clamp(1, 2);
    let output = tokio::process::Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &concurrency.to_string()])
        .args(["-d", &format!("{}s", duration.as_secs().max(1))])
        .args([
            "--timeout",
            "10s",
            "-H",
            &format!("Authorization: Bearer {token}"),
        ])
        .arg("-s")
        .arg(script.path())
        .arg(url)
        .output()
        .await
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = stdout
        .lines()
        .find_map(|line| line.strip_prefix("BENCH "))
        .with_context(|| {
            format!(
                "wrk gave no report: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let numbers = report
        .split_whitespace()
        .map(str::parse::<u64>)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("wrk report {report:?}"))?;
    let &[requests, duration_us, p50, p95, p99, non_2xx, socket_errors] = numbers.as_slice() else {
        anyhow::bail!("wrk report {report:?} has the wrong shape");
    };
    anyhow::ensure!(
        non_2xx == 0 && socket_errors == 0,
        "GET {url}: {non_2xx} answers other than 2xx and {socket_errors} socket errors"
    );
    Ok(Load {
        requests,
        elapsed: Duration::from_micros(duration_us),
        latencies: Percentiles {
            p50: Duration::from_micros(p50),
            p95: Duration::from_micros(p95),
            p99: Duration::from_micros(p99),
        },
    })
}

async fn builtin(
    url: &str,
    token: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let (url, token) = (Arc::new(url.to_owned()), Arc::new(token.to_owned()));
    let started = Instant::now();
    let deadline = started + duration;
    let connections: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let response = client.get(url.as_str()).bearer_auth(token.as_str()).send();
                    let response = response.await?;
                    let status = response.status();
                    response.bytes().await?;
                    anyhow::ensure!(status == StatusCode::OK, "GET {url} answered {status}");
                    latencies.push(sent.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for connection in connections {
        latencies.extend(connection.await??);
    }
    let elapsed = started.elapsed();
    Ok(Load {
        requests: latencies.len() as u64,
        elapsed,
        latencies: Latencies::new(latencies).percentiles(),
    })
}
