//! Closed-loop HTTP load for a fixed time: `concurrency` connections, each sending its next
//! request as soon as the last one is answered: GETs of one URL, or POSTs of JSON bodies in
//! turn. Driven by `wrk` (an established load generator, when installed) or by the built-in
//! reqwest client; both give the same [`Load`], and a figure and its floor always use the
//! same one. `wrk` is the cheaper of the two, which matters here: the load generator shares
//! the cores with what it measures.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

    /// The fastest of `loads`, with its own percentiles (wrk keeps no samples to merge).
    pub fn best_of(loads: Vec<Load>) -> Option<Load> {
        loads
            .into_iter()
            .max_by(|a, b| a.per_second().total_cmp(&b.per_second()))
    }
}

/// What every connection sends.
#[derive(Debug, Clone, Copy)]
pub enum Requests<'a> {
    /// A GET of the URL; any 200 will do.
    Get,
    /// `bodies` (JSON) POSTed in turn; each answer must be a 200 whose body contains
    /// `expect` (e.g. a search that found something).
    PostJson {
        bodies: &'a [String],
        expect: &'a str,
    },
}

/// Sends `requests` to `url` with `token` as bearer over `concurrency` connections for
/// `duration`.
pub async fn drive(
    client: Client,
    url: &str,
    token: &str,
    requests: Requests<'_>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    if let Requests::PostJson { bodies, .. } = requests {
        anyhow::ensure!(!bodies.is_empty(), "no bodies to POST to {url}");
    }
    match client {
        Client::Wrk => wrk(url, token, requests, concurrency, duration).await,
        Client::Builtin => builtin(url, token, requests, concurrency, duration).await,
    }
}

/// Prints `requests duration_us p50_us p95_us p99_us refused socket_errors` when wrk is
/// done; `refused` counts answers other than 2xx and, for POSTs, those without the
/// expected text (counted by each thread's `response` hook, see [`wrk_posts`]).
const WRK_REPORT: &str = r#"
threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("offset", #threads - 1)
end
done = function(summary, latency, requests)
  local e = summary.errors
  local unexpected = 0
  for _, thread in ipairs(threads) do unexpected = unexpected + (thread:get("unexpected") or 0) end
  io.write(string.format("BENCH %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.status + unexpected, e.connect + e.read + e.write + e.timeout))
end
"#;

/// The Lua that makes wrk POST `bodies` in turn (each thread from its own starting point)
/// and count answers that are not a 200 containing `expect` as `unexpected`.
fn wrk_posts(bodies: &[String], expect: &str) -> String {
    let mut lua = String::from("wrk.method = \"POST\"\n");
    lua.push_str("wrk.headers[\"Content-Type\"] = \"application/json\"\n");
    lua.push_str(&format!("expect = {}\nbodies = {{\n", lua_string(expect)));
    for body in bodies {
        lua.push_str(&lua_string(body));
        lua.push_str(",\n");
    }
    lua.push_str(
        r#"}
unexpected = 0
sent = 0
request = function()
  sent = sent + 1
  -- Threads start a prime apart in the list, so that they do not send the same bodies
  -- in step.
  local body = bodies[((offset or 0) * 7919 + sent) % #bodies + 1]
  return wrk.format(nil, nil, nil, body)
end
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, expect, 1, true) then
    unexpected = unexpected + 1
  end
end
"#,
    );
    lua
}

/// `text` as a Lua long string literal, with a bracket level that does not occur in it.
fn lua_string(text: &str) -> String {
    let level = (0..)
        .map(|n| "=".repeat(n))
        .find(|level| !text.contains(&format!("]{level}]")))
        .expect("some level is free");
    format!("[{level}[{text}]{level}]")
}

async fn wrk(
    url: &str,
    token: &str,
    requests: Requests<'_>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let script = tempfile::Builder::new().suffix(".lua").tempfile()?;
    let mut lua = String::from(WRK_REPORT);
    if let Requests::PostJson { bodies, expect } = requests {
        lua.push_str(&wrk_posts(bodies, expect));
    }
    std::fs::write(script.path(), lua)?;
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
    let &[requests, duration_us, p50, p95, p99, refused, socket_errors] = numbers.as_slice() else {
        anyhow::bail!("wrk report {report:?} has the wrong shape");
    };
    anyhow::ensure!(
        refused == 0 && socket_errors == 0,
        "{url}: {refused} answers not as expected and {socket_errors} socket errors"
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
    requests: Requests<'_>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let (url, token) = (Arc::new(url.to_owned()), Arc::new(token.to_owned()));
    let posts = match requests {
        Requests::Get => None,
        Requests::PostJson { bodies, expect } => {
            Some(Arc::new((bodies.to_vec(), expect.to_owned())))
        }
    };
    let sent_in_all = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let connections: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            let (posts, sent_in_all) = (posts.clone(), sent_in_all.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let request = match &posts {
                        None => client.get(url.as_str()),
                        Some(posts) => {
                            let n = sent_in_all.fetch_add(1, Ordering::Relaxed);
                            let body = posts.0[n % posts.0.len()].clone();
                            client
                                .post(url.as_str())
                                .header(reqwest::header::CONTENT_TYPE, "application/json")
                                .body(body)
                        }
                    };
                    let response = request.bearer_auth(token.as_str()).send().await?;
                    let status = response.status();
                    let body = response.bytes().await?;
                    anyhow::ensure!(status == StatusCode::OK, "{url} answered {status}");
                    if let Some(posts) = &posts {
                        let expect = posts.1.as_bytes();
                        anyhow::ensure!(
                            body.windows(expect.len()).any(|window| window == expect),
                            "{url} answered without {:?}",
                            posts.1
                        );
                    }
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

#[cfg(test)]
mod tests {
    use super::lua_string;

    #[test]
    fn lua_strings_take_a_bracket_level_their_text_does_not_close() {
        assert_eq!(lua_string(r#"{"query":"a b"}"#), r#"[[{"query":"a b"}]]"#);
        assert_eq!(lua_string("x]]y"), "[=[x]]y]=]");
        assert_eq!(lua_string("x]]y]=]z"), "[==[x]]y]=]z]==]");
    }
}
