//! What the load generator prints: latency percentiles of a run or a slice of it, and
//! the spread of the rate sampled every second.

use std::time::Duration;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

pub fn report(label: &str, mut lat: Vec<Duration>, elapsed: Duration, extra: &str) {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: {} requests in {:.2}s ({:.0} req/s){extra}; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.90)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
}

/// The median of these seconds' request counts, in alerts/s.
fn median(seconds: &[usize], alerts: usize) -> usize {
    let mut s = seconds.to_vec();
    s.sort_unstable();
    s[s.len() / 2] * alerts
}

/// A slice's seconds (requests answered in each): " (seconds: lowest …, median …)", or
/// nothing when the slice holds no whole second.
pub fn slice_seconds(seconds: &[usize], alerts: usize) -> String {
    match seconds.iter().min() {
        Some(lowest) => format!(
            " (seconds: lowest {}, median {})",
            lowest * alerts,
            median(seconds, alerts)
        ),
        None => String::new(),
    }
}

/// The rate sampled every second over the run: its spread, and the first minute's
/// median beside the last minute's (flat when a growing store does not slow intake).
pub fn per_second_spread(per_second: &[usize], alerts: usize) {
    if per_second.is_empty() {
        return;
    }
    let mut sorted = per_second.to_vec();
    sorted.sort_unstable();
    let at = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize] * alerts;
    let minute = per_second.len().min(60);
    println!(
        "  rate each second ({} seconds): lowest {}, 1st percentile {}, median {}, highest {} alerts/s; \
         median of the first minute {}, of the last {}",
        sorted.len(),
        at(0.0),
        at(0.01),
        at(0.5),
        at(1.0),
        median(&per_second[..minute], alerts),
        median(&per_second[per_second.len() - minute..], alerts),
    );
}
