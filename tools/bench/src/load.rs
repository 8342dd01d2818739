//! Driving a benchmark's load: items worked through at a bounded concurrency, each one
//! timed, and JSON requests whose answer must have the expected status.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, stream};
use reqwest::StatusCode;

use crate::report::{Latencies, rate};

/// Runs `work` on every item with at most `concurrency` in flight; returns each latency.
pub async fn concurrently<T, F, Fut>(
    concurrency: usize,
    items: Vec<T>,
    work: F,
) -> anyhow::Result<Vec<Duration>>
where
    F: Fn(usize, T) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let results: Vec<anyhow::Result<Duration>> = stream::iter(items.into_iter().enumerate())
        .map(|(n, item)| {
            let job = work(n, item);
            async move {
                let sent = Instant::now();
                job.await.map(|()| sent.elapsed())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    results
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()
        .context("a request failed")
}

/// One measured run: items done, wall time for all of them, and each one's latency.
pub struct Run {
    pub count: usize,
    pub elapsed: Duration,
    pub latencies: Latencies,
}

impl Run {
    /// The fastest of `runs` for the rate, with every run's latencies: on a machine whose
    /// speed drifts, a figure set beside a best-of floor must be a best-of too.
    pub fn best_of(runs: Vec<Run>) -> Option<Run> {
        let best = runs
            .iter()
            .max_by(|a, b| a.per_second().total_cmp(&b.per_second()))?;
        let (count, elapsed) = (best.count, best.elapsed);
        Some(Run {
            count,
            elapsed,
            latencies: Latencies::merged(runs.into_iter().map(|run| run.latencies)),
        })
    }

    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// `     1234/s queries  p50 0.52 ms  p95 0.80 ms  p99 1.31 ms`
    pub fn summary(&self, unit: &str) -> String {
        format!(
            "{} {unit}  {}",
            rate(self.count, self.elapsed),
            self.latencies.summary()
        )
    }
}

/// [`concurrently`], timed as a whole.
pub async fn timed<T, F, Fut>(concurrency: usize, items: Vec<T>, work: F) -> anyhow::Result<Run>
where
    F: Fn(usize, T) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let started = Instant::now();
    let latencies = concurrently(concurrency, items, work).await?;
    Ok(Run {
        count: latencies.len(),
        elapsed: started.elapsed(),
        latencies: Latencies::new(latencies),
    })
}

/// A closed loop for `duration`: `concurrency` workers, each starting its next piece of
/// `work` as soon as the last one is done, on `items` in turn (round and round). Time-bound
/// like the HTTP figures it stands beside, so a floor is not a sub-second sample of a noisy
/// machine.
pub async fn for_duration<T, F, Fut>(
    concurrency: usize,
    items: &[T],
    duration: Duration,
    work: F,
) -> anyhow::Result<Run>
where
    F: Fn(&T) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    anyhow::ensure!(!items.is_empty(), "nothing to work on");
    let next = std::cell::Cell::new(0usize);
    let started = Instant::now();
    let deadline = started + duration;
    let workers = (0..concurrency.max(1)).map(|_| async {
        let mut latencies = Vec::new();
        while Instant::now() < deadline {
            let n = next.replace(next.get() + 1);
            let sent = Instant::now();
            work(&items[n % items.len()]).await?;
            latencies.push(sent.elapsed());
        }
        anyhow::Ok(latencies)
    });
    let latencies: Vec<Duration> = futures::future::try_join_all(workers)
        .await
        .context("a request failed")?
        .into_iter()
        .flatten()
        .collect();
    Ok(Run {
        count: latencies.len(),
        elapsed: started.elapsed(),
        latencies: Latencies::new(latencies),
    })
}

/// POSTs `body` as JSON, with `token` as bearer when given; an answer other than `expected`
/// is an error naming the URL, the status and the answer's body.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &serde_json::Value,
    expected: StatusCode,
) -> anyhow::Result<reqwest::Response> {
    let mut request = client.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    if status != expected {
        let answer = response.text().await.unwrap_or_default();
        anyhow::bail!("POST {url} answered {status} (expected {expected}): {answer}");
    }
    Ok(response)
}
