//! Throughput benchmark for the exposition-format parser.
//!
//! ```text
//! cargo run --release --example parse_bench -- [MB]
//! ```
//! Generates about MB megabytes (10^6 bytes, default 50) of realistic exposition text
//! (counters and histograms with 3-6 labels), writes it to /tmp/firewatch-parse-bench.prom
//! and times `firewatch::metrics::expfmt::parse_with` over it.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use firewatch::metrics::expfmt::parse_with;

const OUT: &str = "/tmp/firewatch-parse-bench.prom";
const RUNS: usize = 5;

/// Deterministic xorshift so runs are comparable without pulling in a RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const CODES: [&str; 6] = ["200", "201", "304", "404", "500", "503"];
const ROUTES: [&str; 8] = [
    "/api/v1/orders",
    "/api/v1/orders/:id",
    "/api/v1/cart",
    "/api/v1/checkout",
    "/api/v1/users/:id",
    "/healthz",
    "/metrics",
    "/static/*path",
];
const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
const MODES: [&str; 4] = ["user", "system", "idle", "iowait"];

/// Families as a single exporter prints them: each family's HELP/TYPE once, then its
/// series for every instance, so the file is valid for promtool too.
#[derive(Default)]
struct Families {
    requests: String,
    durations: String,
    cpu: String,
    memory: String,
}

impl Families {
    fn len(&self) -> usize {
        self.requests.len() + self.durations.len() + self.cpu.len() + self.memory.len()
    }

    fn add_instance(&mut self, rng: &mut Rng, job: &str, instance: &str, ts: i64) {
        let labels = format!(r#"job="{job}",instance="{instance}""#);
        for method in METHODS {
            for route in ROUTES {
                for code in CODES {
                    let v = rng.below(10_000_000);
                    writeln!(
                        self.requests,
                        r#"http_requests_total{{{labels},method="{method}",code="{code}",route="{route}"}} {v} {ts}"#
                    )
                    .unwrap();
                }
            }
        }
        for method in METHODS {
            for route in ROUTES {
                let mut cumulative = 0;
                for le in BUCKETS {
                    cumulative += rng.below(50_000);
                    writeln!(
                        self.durations,
                        r#"http_request_duration_seconds_bucket{{{labels},method="{method}",route="{route}",le="{le}"}} {cumulative}"#
                    )
                    .unwrap();
                }
                let sum = cumulative as f64 * 0.0371 + rng.below(1000) as f64 / 997.0;
                writeln!(
                    self.durations,
                    r#"http_request_duration_seconds_sum{{{labels},method="{method}",route="{route}"}} {sum}"#
                )
                .unwrap();
                writeln!(
                    self.durations,
                    r#"http_request_duration_seconds_count{{{labels},method="{method}",route="{route}"}} {cumulative}"#
                )
                .unwrap();
            }
        }
        for cpu in 0..4 {
            for mode in MODES {
                let v = rng.below(100_000_000) as f64 / 100.0;
                writeln!(
                    self.cpu,
                    r#"node_cpu_seconds_total{{{labels},cpu="{cpu}",mode="{mode}"}} {v:e}"#
                )
                .unwrap();
            }
        }
        writeln!(
            self.memory,
            r#"process_resident_memory_bytes{{{labels},build="v1.{}"}} {}"#,
            rng.below(20),
            rng.below(4_000_000_000)
        )
        .unwrap();
    }
}

fn generate(bytes: usize) -> String {
    let mut families = Families::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let jobs = ["checkout", "cart", "payments", "search", "users"];
    let mut n = 0u64;
    while families.len() < bytes {
        let job = jobs[(n % jobs.len() as u64) as usize];
        let instance = format!("10.{}.{}.{}:9100", n / 65536 % 256, n / 256 % 256, n % 256);
        families.add_instance(&mut rng, job, &instance, 1_764_000_000_000 + n as i64);
        n += 1;
    }
    let mut out = String::with_capacity(families.len() + 1024);
    out.push_str("# HELP http_requests_total Total HTTP requests.\n");
    out.push_str("# TYPE http_requests_total counter\n");
    out.push_str(&families.requests);
    out.push_str("# HELP http_request_duration_seconds Request latency.\n");
    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    out.push_str(&families.durations);
    out.push_str("# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n");
    out.push_str("# TYPE node_cpu_seconds_total counter\n");
    out.push_str(&families.cpu);
    out.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
    out.push_str("# TYPE process_resident_memory_bytes gauge\n");
    out.push_str(&families.memory);
    out
}

fn main() {
    let mb: f64 = match std::env::args().nth(1) {
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("usage: parse_bench [MB]  (got {a:?})");
            std::process::exit(2)
        }),
        None => 50.0,
    };
    let text = generate((mb * 1e6) as usize);
    std::fs::write(OUT, &text).unwrap_or_else(|e| panic!("writing {OUT}: {e}"));
    let size_mb = text.len() as f64 / 1e6;
    println!(
        "generated {size_mb:.1} MB ({} lines) -> {OUT}",
        text.lines().count()
    );

    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    let mut samples = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        // Touch every value and label so the work cannot be optimised away.
        let mut checksum = 0.0f64;
        let mut label_bytes = 0usize;
        samples = parse_with(black_box(&text), |_, labels, value, _| {
            checksum += value;
            label_bytes += labels.iter().map(|(_, v)| v.len()).sum::<usize>();
        })
        .unwrap_or_else(|e| panic!("parse failed: {e}"));
        times.push(start.elapsed());
        black_box((checksum, label_bytes));
    }
    times.sort();
    let median = times[RUNS / 2].as_secs_f64();
    let best = times[0].as_secs_f64();
    println!("parse_with: {samples} samples per run, {RUNS} runs");
    println!(
        "  median {:.1} ms: {:.0} MB/s, {:.2} M samples/s",
        median * 1e3,
        size_mb / median,
        samples as f64 / median / 1e6
    );
    println!(
        "  best   {:.1} ms: {:.0} MB/s, {:.2} M samples/s",
        best * 1e3,
        size_mb / best,
        samples as f64 / best / 1e6
    );
    println!("compare (promtool also lints, so it is slower by design):");
    println!("  time promtool check metrics < {OUT}");
}
