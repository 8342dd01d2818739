//! Latency percentiles and aligned output lines.

use std::time::Duration;

/// Sorted latencies of one run.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (self.0.len() - 1) as f64).round() as usize;
        self.0[rank.min(self.0.len() - 1)]
    }

    /// `p50 0.52 ms  p95 0.80 ms  p99 1.31 ms`
    pub fn summary(&self) -> String {
        format!(
            "p50 {}  p95 {}  p99 {}",
            ms(self.percentile(50.0)),
            ms(self.percentile(95.0)),
            ms(self.percentile(99.0))
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
