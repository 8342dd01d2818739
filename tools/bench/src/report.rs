//! Latency percentiles, aligned output lines, and the named figures a run records for
//! `--json` (see [`figure`]).

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Sorted latencies of one run.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    /// Every sample of `all`, as one set.
    pub fn merged(all: impl IntoIterator<Item = Latencies>) -> Self {
        Self::new(all.into_iter().flat_map(|latencies| latencies.0).collect())
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (self.0.len() - 1) as f64).round() as usize;
        self.0[rank.min(self.0.len() - 1)]
    }

    pub fn percentiles(&self) -> Percentiles {
        Percentiles {
            p50: self.percentile(50.0),
            p95: self.percentile(95.0),
            p99: self.percentile(99.0),
        }
    }

    /// `p50 0.52 ms  p95 0.80 ms  p99 1.31 ms`
    pub fn summary(&self) -> String {
        self.percentiles().summary()
    }
}

/// The three percentiles every latency figure reports; what an external load generator
/// (which keeps no samples) hands back too.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
}

impl Percentiles {
    pub fn summary(&self) -> String {
        format!(
            "p50 {}  p95 {}  p99 {}",
            ms(self.p50),
            ms(self.p95),
            ms(self.p99)
        )
    }
}

pub fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

pub fn rate(count: usize, elapsed: Duration) -> String {
    format!("{:>9.0}/s", count as f64 / elapsed.as_secs_f64().max(1e-9))
}

pub fn line(label: &str, value: impl AsRef<str>) {
    println!("  {label:<44} {}", value.as_ref());
}

pub fn heading(text: &str) {
    println!("\n{text}");
}

/// One named figure as `--json` writes it: `value` in `unit` (a rate, `…/s`, or a
/// duration), the floor measured in the same run in the same unit, and `ratio` =
/// value / floor for rates (floor / value for durations), so that 1.0 is always the floor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub floor: Option<f64>,
    pub ratio: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// What was measured, in words (the printed line's label).
    pub workload: String,
    /// The `bench` command line that measured it, for `docs/performance.md`.
    pub command: String,
}

/// Every figure of this process's run, in order. A process runs one benchmark, and figures
/// come from deep inside each one, so they collect here rather than through every signature.
static RECORDED: Mutex<Vec<Figure>> = Mutex::new(Vec::new());

/// Prints `workload` with its value (and floor ratio and percentiles when given) as an
/// aligned line, and records it under `name` for `--json`.
///
/// `unit` ending in `/s` is a rate (more is better); anything else (`ms`, `s`) a duration.
pub fn figure(
    name: &str,
    workload: &str,
    value: f64,
    unit: &str,
    floor: Option<f64>,
    latencies: Option<Percentiles>,
) {
    let ratio = floor
        .filter(|floor| *floor > 0.0 && value > 0.0)
        .map(|floor| {
            if is_rate(unit) {
                value / floor
            } else {
                floor / value
            }
        });
    let mut text = format!("{value:>9.1} {unit}");
    if let Some(ratio) = ratio {
        text.push_str(&format!("  ({:.0}% of floor)", 100.0 * ratio));
    }
    if let Some(latencies) = latencies {
        text.push_str(&format!("  {}", latencies.summary()));
    }
    line(workload, text);
    let millis = |pick: fn(&Percentiles) -> Duration| {
        latencies.as_ref().map(|l| pick(l).as_secs_f64() * 1000.0)
    };
    let recorded = Figure {
        name: name.to_owned(),
        value,
        unit: unit.to_owned(),
        floor,
        ratio,
        p50_ms: millis(|l| l.p50),
        p95_ms: millis(|l| l.p95),
        p99_ms: millis(|l| l.p99),
        workload: workload.to_owned(),
        command: command_line(),
    };
    RECORDED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(recorded);
}

pub fn is_rate(unit: &str) -> bool {
    unit.ends_with("/s")
}

/// The figures recorded so far.
pub fn recorded() -> Vec<Figure> {
    RECORDED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// `bench` and its arguments, without `--json FILE` (a temporary path of no interest).
fn command_line() -> String {
    let mut words = vec!["bench".to_owned()];
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        if argument == "--json" {
            arguments.next();
        } else if !argument.starts_with("--json=") {
            words.push(argument);
        }
    }
    words.join(" ")
}
