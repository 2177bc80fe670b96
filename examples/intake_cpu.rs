//! Times the HTTP worker's share of intake for one realistic notification (10 alerts, about
//! 10 KB, `tests/fixtures/intake/realistic-notification.json`): JSON parsing, validation,
//! and the preparation for the writer (of which the split into what the alerts share and
//! what is their own). The writer only writes what this prepared.
//! `cargo run --release --example intake_cpu [iterations]`
use std::time::{Duration, Instant};

use firewatch::alerts::{SeverityRules, ValidAlert, WebhookMessage, prepare};
use firewatch::incidents::shared_sets::{Parts, split};

/// The server's allocator, so that the times are the server's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(20_000, |v| v.parse().unwrap());
    let body = include_str!("../tests/fixtures/intake/realistic-notification.json");
    let rules = SeverityRules::from_settings(&Default::default(), Duration::ZERO);
    let (mut parse, mut parse_str, mut validate, mut prep, mut shared) = Default::default();
    for _ in 0..n {
        // Checked as UTF-8 once, then parsed as text (as the webhook does)...
        let t = Instant::now();
        let text = std::str::from_utf8(body.as_bytes()).unwrap();
        let msg: WebhookMessage = serde_json::from_str(text).unwrap();
        parse_str += t.elapsed();
        drop(std::hint::black_box(msg));
        // ... or as bytes, every string checked on its own.
        let t = Instant::now();
        let mut msg: WebhookMessage = serde_json::from_slice(body.as_bytes()).unwrap();
        parse += t.elapsed();
        let t = Instant::now();
        let alerts = msg.validate().unwrap();
        validate += t.elapsed();
        let parts: Vec<Parts> = alerts.iter().map(ValidAlert::parts).collect();
        let t = Instant::now();
        std::hint::black_box(split(&parts));
        shared += t.elapsed();
        drop(parts);
        let t = Instant::now();
        std::hint::black_box(prepare::prepare(&msg, alerts, &rules));
        prep += t.elapsed();
    }
    let us = |d: Duration| d.as_secs_f64() / f64::from(n) * 1e6;
    println!(
        "per notification ({} bytes): parse {:.1} µs as text ({:.1} µs as bytes), validate {:.1} µs, prepare {:.1} µs \
         (of which the shared/own split {:.1} µs)",
        body.len(),
        us(parse_str),
        us(parse),
        us(validate),
        us(prep),
        us(shared)
    );
}
