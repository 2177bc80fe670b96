//! Cost of evaluating many SLOs on the built-in scraper, as the server does every
//! `evaluation.interval`.
//!
//! ```text
//! cargo run --release --example slo_bench -- [SLOS] [RAW_DAYS] [ROUNDS]
//! ```
//! Defaults: 1,000 SLOs (half availability ratios, half latency histograms, two per
//! service), per-interval history for 4 days plus 30 days of hourly rollups already in the
//! database (the steady state with `raw_history_retention = "4d"`), 20 rounds. Each round
//! does what one evaluation does: parse the scraped /metrics text of all services, take
//! each SLO's counter increases, write the history rows and rollups and prune old ones in
//! one transaction, and compute every window, budget and burn rate from the store. It
//! prints the CPU time per round and what that costs at a 30 s interval.
//!
//! `slo_bench dashboard DIR [SLOS]` instead writes DIR/firewatch.toml with SLOS (50) SLOs
//! and DIR/data/firewatch.db with 30 days of their history, for timing the dashboard.

use std::fmt::Write as _;
use std::time::Instant;

use firewatch::config::{StorageSettings, Synchronous};
use firewatch::db::{Db, StoreError};
use firewatch::metrics::scrape::{Scraped, Target, TargetHealth, to_series};
use firewatch::slo::engine::{Engine, PromResults};
use firewatch::slo::store;

const INTERVAL_MS: i64 = 30_000;
const BUCKETS: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
];

fn slo_file(services: usize) -> String {
    let mut out = String::new();
    for i in 0..services {
        let _ = write!(
            out,
            "[[slo]]\nname = \"availability\"\nservice = \"svc-{i}\"\nobjective = 99.9\n\
             period = \"30d\"\n[slo.ratio]\n\
             errors = 'http_requests_total{{job=\"app\",service=\"svc-{i}\",code=~\"5..\"}}'\n\
             total = 'http_requests_total{{job=\"app\",service=\"svc-{i}\"}}'\n\n\
             [[slo]]\nname = \"latency\"\nservice = \"svc-{i}\"\nobjective = 99\n\
             period = \"30d\"\n[slo.latency]\n\
             histogram = 'http_request_duration_seconds{{job=\"app\",service=\"svc-{i}\"}}'\n\
             threshold = 0.25\n\n"
        );
    }
    out
}

/// The /metrics text of one application serving all services after `round` intervals:
/// per service 4 request counters (2 codes x 2 methods), a 12-bucket histogram, and 10
/// unrelated series, as real exporters have.
fn exposition(services: usize, round: u64) -> String {
    let mut out = String::with_capacity(services * 2_000);
    let n = 3000.0 * (round + 1) as f64;
    out.push_str("# TYPE http_requests_total counter\n");
    for i in 0..services {
        for method in ["get", "post"] {
            let _ = writeln!(
                out,
                "http_requests_total{{service=\"svc-{i}\",method=\"{method}\",code=\"200\"}} {n}"
            );
            let _ = writeln!(
                out,
                "http_requests_total{{service=\"svc-{i}\",method=\"{method}\",code=\"500\"}} {}",
                (n * 0.0005).floor()
            );
        }
    }
    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    for i in 0..services {
        for (b, le) in BUCKETS.iter().enumerate() {
            let share = 1.0 - 0.5f64.powi(b as i32 + 1);
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{service=\"svc-{i}\",le=\"{le}\"}} {}",
                (n * share).floor()
            );
        }
        let _ = writeln!(
            out,
            "http_request_duration_seconds_bucket{{service=\"svc-{i}\",le=\"+Inf\"}} {n}\n\
             http_request_duration_seconds_sum{{service=\"svc-{i}\"}} {}\n\
             http_request_duration_seconds_count{{service=\"svc-{i}\"}} {n}",
            n * 0.08
        );
        for k in 0..10 {
            let _ = writeln!(out, "process_unrelated_{k}{{service=\"svc-{i}\"}} {round}");
        }
    }
    out
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// Writes `days` of history for each (id, is_latency): 30 s rows for the last `raw_days`
/// and hourly rollups for all of it. Error ratios and latencies wave over the day so the
/// charts have something to draw; each SLO burns about half of its budget.
fn prefill(
    conn: &mut rusqlite::Connection,
    slos: &[(String, bool)],
    now: i64,
    raw_days: i64,
    days: i64,
) {
    let started = Instant::now();
    let hour = 3_600_000;
    let tx = conn.transaction().unwrap();
    {
        let mut raw = tx
            .prepare(
                "INSERT INTO slo_samples (slo, at, bad, total, p50, p90, p99) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .unwrap();
        let mut hourly = tx
            .prepare(
                "INSERT INTO slo_hourly (slo, hour, bad, total, samples) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .unwrap();
        let from = now - days * 86_400_000;
        let raw_from = now - raw_days * 86_400_000;
        for (i, (id, latency)) in slos.iter().enumerate() {
            let budget = if *latency { 0.01 } else { 0.001 };
            let mut at = from - from % INTERVAL_MS;
            let mut current = (at - at % hour, 0.0, 0.0, 0i64);
            while at < now {
                let phase = at as f64 / 10_800_000.0 + i as f64;
                let total = 3000.0;
                let bad = (total * budget * 0.5 * (1.0 + phase.sin())).round();
                let p = if *latency {
                    let p99 = 0.2 * (1.0 + 0.5 * phase.cos());
                    [Some(p99 / 10.0), Some(p99 / 2.5), Some(p99)]
                } else {
                    [None; 3]
                };
                if at >= raw_from {
                    raw.execute(rusqlite::params![id, at, bad, total, p[0], p[1], p[2]])
                        .unwrap();
                }
                if at - at % hour != current.0 {
                    hourly
                        .execute(rusqlite::params![
                            id, current.0, current.1, current.2, current.3
                        ])
                        .unwrap();
                    current = (at - at % hour, 0.0, 0.0, 0);
                }
                current.1 += bad;
                current.2 += total;
                current.3 += 1;
                at += INTERVAL_MS;
            }
            hourly
                .execute(rusqlite::params![
                    id, current.0, current.1, current.2, current.3
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    eprintln!(
        "prefilled {} SLOs: {raw_days} days of 30 s rows and {days} days of hourly rollups in {:.1} s",
        slos.len(),
        started.elapsed().as_secs_f64()
    );
}

/// `slo_bench dashboard DIR [SLOS]`: a settings file with SLOS SLOs and a database with 30
/// days of their history in DIR, for timing the dashboard (scripts/bench.sh).
fn dashboard_fixture(dir: &str, slos: usize) {
    let dir = std::path::Path::new(dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let services = slos / 2;
    let mut cfg = String::from(
        "[evaluation]\ninterval = \"5s\"\n\n[[scrape]]\njob = \"app\"\n\
         url = \"http://127.0.0.1:9/metrics\"\n\n",
    );
    cfg.push_str(&slo_file(services));
    std::fs::write(dir.join("firewatch.toml"), cfg).unwrap();
    let ids: Vec<(String, bool)> = (0..services)
        .flat_map(|i| {
            [
                (format!("svc-{i}-availability"), false),
                (format!("svc-{i}-latency"), true),
            ]
        })
        .collect();
    let mut conn = firewatch::db::open_and_migrate(
        &dir.join("data").join("firewatch.db"),
        Synchronous::Normal,
    )
    .unwrap();
    prefill(&mut conn, &ids, firewatch::time::now_ms(), 4, 30);
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("dashboard") {
        let dir = argv.get(2).expect("slo_bench dashboard DIR [SLOS]");
        let n = argv
            .get(3)
            .map_or(50, |v| v.parse().expect("SLOS is a number"));
        return dashboard_fixture(dir, n);
    }
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: SLOS RAW_DAYS ROUNDS"))
        .collect();
    let slos = args.first().copied().unwrap_or(1000).max(2);
    let raw_days = args.get(1).copied().unwrap_or(4) as i64;
    let rounds = args.get(2).copied().unwrap_or(20).max(1);
    let services = slos / 2;

    let specs = firewatch::slo::native::load_native("bench.toml", &slo_file(services))
        .expect("generated SLOs are valid");
    let ids: Vec<String> = specs.iter().map(|s| s.id()).collect();
    let engine = Engine::new(
        specs
            .into_iter()
            .map(|s| (s, "scrape".to_string()))
            .collect(),
        100.0,
        false,
    );
    let wanted = engine.wanted_metrics();

    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("firewatch.db");
    let mut conn = firewatch::db::open_and_migrate(&db_path, Synchronous::Normal).unwrap();
    let start = firewatch::time::now_ms();
    let kinds: Vec<(String, bool)> = ids
        .iter()
        .map(|id| (id.clone(), id.ends_with("-latency")))
        .collect();
    prefill(&mut conn, &kinds, start, raw_days, 30);
    let size = std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(db_path.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    eprintln!("database: {:.0} MB", size as f64 / 1e6);

    let target = Target {
        job: "app".into(),
        url: "http://127.0.0.1:9/metrics".into(),
        instance: "127.0.0.1:9".into(),
        interval: std::time::Duration::from_secs(30),
        timeout: std::time::Duration::from_secs(10),
        bearer: None,
    };
    let scraped = Scraped::default();
    let raw_keep = raw_days * 86_400_000;
    // The server's own path: the group-commit writer and the reader pool.
    drop(conn);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // The writer's cache as the server has it by default.
    let cache_mib = StorageSettings::default().cache_mib;
    let db = Db::open_path(&db_path, Synchronous::Normal, 2, 512, cache_mib).unwrap();
    let mut per_round = Vec::new();
    // Round 0 sets the counters' baselines and is not counted.
    for round in 0..=rounds as u64 {
        let text = exposition(services, round);
        let now = start + round as i64 * INTERVAL_MS;
        let (cpu0, wall0) = (cpu_seconds(), Instant::now());
        let series = to_series(&text, &target, &wanted).expect("valid exposition");
        let health = TargetHealth {
            job: "app".into(),
            up: true,
            samples: series.len(),
            ..Default::default()
        };
        scraped.set("app", health, Some(series));
        let measured = engine.measure(&scraped, now);
        let rows = measured.clone();
        runtime
            .block_on(db.write(move |c| {
                for (id, m) in &rows {
                    if let Some(m) = m {
                        store::record(c, id, now, m)?;
                    }
                    store::prune(c, id, now - raw_keep, now - 400 * 86_400_000)?;
                }
                Ok::<_, StoreError>(())
            }))
            .unwrap();
        let e = engine.clone();
        let statuses = runtime
            .block_on(db.read(move |c| e.statuses(c, now, &PromResults::new())))
            .unwrap();
        let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
        assert_eq!(statuses.len(), ids.len());
        if round == 0 {
            continue;
        }
        let measured_ok = measured.iter().filter(|(_, m)| m.is_some()).count();
        assert_eq!(measured_ok, statuses.len(), "every SLO measured");
        per_round.push((cpu, wall));
        if round == 1 {
            let s = &statuses[1];
            eprintln!(
                "sample: {} status {} 5m SLI {:?} p99 {:?}",
                s.name,
                s.status,
                s.windows["5m"].sli,
                s.latency.map(|l| l.p99)
            );
            eprintln!(
                "exposition: {} series, {:.1} MB",
                health_len(&scraped),
                text.len() as f64 / 1e6
            );
        }
    }
    runtime.block_on(db.close());
    let cpu: f64 = per_round.iter().map(|r| r.0).sum::<f64>() / per_round.len() as f64;
    let wall: f64 = per_round.iter().map(|r| r.1).sum::<f64>() / per_round.len() as f64;
    println!(
        "{} SLOs: {:.0} ms CPU ({:.0} ms wall) per evaluation = {:.2} % of one core at a 30 s interval",
        ids.len(),
        cpu * 1000.0,
        wall * 1000.0,
        cpu / 30.0 * 100.0
    );
}

fn health_len(s: &Scraped) -> usize {
    s.health().iter().map(|h| h.samples).sum()
}
