//! Load generator for Firewatch's Alertmanager intake and page latency.
//!
//! ```text
//! cargo run --release --example loadgen -- intake --url http://127.0.0.1:8080 --token T \
//!     [--connections 64] [--seconds 10] [--alerts 10] [--duplicates] [--total N] [--prefix P]
//!     [--rate REQUESTS_PER_SECOND]
//! cargo run --release --example loadgen -- get --url http://127.0.0.1:8080/incidents --requests 200
//! ```
//! `intake` sends Alertmanager v4 payloads (each with `--alerts` new alerts in a new group,
//! or with `--duplicates` the same payloads re-sent) from `--connections` concurrent
//! connections and reports committed alerts per second, latency percentiles and errors.
//! Without `--rate` each connection sends as fast as answers come (the most throughput);
//! with it the requests are scheduled evenly at that total rate and each latency is
//! measured from its scheduled time, so a server falling behind shows in the numbers
//! (no coordinated omission).
//! `--workload` picks what the payloads look like:
//! - `new-groups` (default): every request opens a new group (`--alerts` small alerts);
//! - `grouped`: realistic notifications (about 800 bytes an alert, 10 per request by
//!   default) made from 200 templates spread over `--groups` (8) groups, with new
//!   fingerprints on every request, so alerts keep joining a few large incidents, as in
//!   an outage;
//! - `realistic`: the realistic notifications, each in a new group;
//! - `cycle`: a steady state for soak runs: every other request opens a new group with
//!   realistic alerts, the others resolve the group opened `--lag` (1,000) groups
//!   earlier, so open incidents stay level and resolved ones age out under retention.
//!
//! `--fingerprints hex` gives the grouped workload's alerts fingerprints like
//! Alertmanager's (hashes, in no order) instead of ones that sort by connection and
//! request; `--fingerprints seq` gives them in the order they are sent (one counter for
//! all connections), so new alerts land at the end of the fingerprint index: not what
//! Alertmanager sends, but the measure of what its random fingerprints cost.
//!
//! The intake requests go through a lean HTTP/1.1 client (`http1.rs`): the load
//! generator shares the cores with the server it measures.
//!
//! `--report-every S` prints the rate and latency of each S-second slice with the lowest
//! and the median rate of its seconds, and at the end the spread of the rate sampled
//! every second over the whole run (a store that grows must not slow intake down).
//! `get` requests one URL sequentially and reports latency percentiles; `poll` requests
//! URLs round-robin from `--clients` clients for `--seconds` (the readers of a mixed
//! load), each pausing `--every-ms` between requests.

mod http1;
mod report;

use report::{per_second_spread, report, slice_seconds};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn payload(group: &str, alerts: usize) -> String {
    let items: Vec<String> = (0..alerts)
        .map(|i| {
            format!(
                r#"{{"status":"firing","labels":{{"alertname":"LoadTest","service":"svc-{svc}","instance":"{group}-{i}","severity":"warning"}},"annotations":{{"summary":"load test alert {i}"}},"startsAt":"2026-11-26T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus/graph","fingerprint":"{group}-{i}"}}"#,
                svc = group.len() % 50
            )
        })
        .collect();
    format!(
        r#"{{"receiver":"firewatch","status":"firing","alerts":[{}],"groupLabels":{{"alertname":"LoadTest","group":"{group}"}},"commonLabels":{{"alertname":"LoadTest"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"{{}}:{{group=\"{group}\"}}","truncatedAlerts":0}}"#,
        items.join(",")
    )
}

/// One realistic alert (labels and annotations as a Kubernetes service's alert has them,
/// about 800 bytes) of template `t`.
fn realistic_alert(t: usize, fingerprint: &str, i: usize) -> String {
    let names = [
        "HighErrorRate",
        "HighLatency",
        "PodCrashLooping",
        "KafkaConsumerLag",
        "DiskWillFillIn4Hours",
        "PostgresReplicationLag",
        "CertificateExpiresSoon",
        "TargetDown",
    ];
    let name = names[t % names.len()];
    let service = format!("service-{}", t % 25);
    let pod = format!("{service}-7d9f8b{t:03}-{i:05}");
    format!(
        r#"{{"status":"firing","labels":{{"alertname":"{name}","service":"{service}","namespace":"prod-{ns}","pod":"{pod}","instance":"10.{a}.{b}.{c}:8080","job":"kubernetes-pods","container":"app","team":"team-{team}","cluster":"eu-west-1-prod","severity":"{sev}","template":"t{t}"}},"annotations":{{"summary":"{name} on {service} ({pod})","description":"The {name} condition has held for 5 minutes on pod {pod} in namespace prod-{ns}. Current value is {v}. Check the dashboards linked below and the recent deployments of {service} before escalating.","runbook_url":"https://runbooks.example.com/{name}","dashboard":"https://grafana.example.com/d/{service}/overview?var-pod={pod}"}},"startsAt":"2026-11-26T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus-0.monitoring.svc:9090/graph?g0.expr=rate%28http_requests_total%7Bservice%3D%22{service}%22%7D%5B5m%5D%29","fingerprint":"{fingerprint}"}}"#,
        ns = t % 6,
        a = t % 200,
        b = i % 250,
        c = (i / 250) % 250,
        team = t % 7,
        sev = ["critical", "error", "warning", "warning", "info"][t % 5],
        v = (t * 7 + i) % 100,
    )
}

/// A realistic notification of template `t` for group `group` with `alerts` alerts whose
/// fingerprints start with `fp`.
fn realistic_payload(group: &str, t: usize, fp: &str, alerts: usize) -> String {
    let items: Vec<String> = (0..alerts)
        .map(|i| realistic_alert(t, &format!("{fp}-{i}"), i))
        .collect();
    format!(
        r#"{{"receiver":"firewatch","status":"firing","alerts":[{}],"groupLabels":{{"group":"{group}"}},"commonLabels":{{"job":"kubernetes-pods","cluster":"eu-west-1-prod"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager-0.monitoring.svc:9093","version":"4","groupKey":"{{}}:{{group=\"{group}\"}}","truncatedAlerts":0}}"#,
        items.join(",")
    )
}

/// Where a pre-made notification takes its fingerprints (and, for the realistic
/// workload, its group).
const FP: &str = "\u{1}fp";

/// A notification made once and split where its key goes, so that each request only
/// copies the pieces with its key between them (the load generator shares the cores with
/// the server; `str::replace` was a fifth of its time).
struct Template {
    pieces: Vec<String>,
}

impl Template {
    fn new(made: &str) -> Self {
        Self {
            pieces: made.split(FP).map(str::to_owned).collect(),
        }
    }

    fn fill(&self, key: &str) -> String {
        let len = self.pieces.iter().map(String::len).sum::<usize>()
            + key.len() * (self.pieces.len() - 1);
        let mut out = String::with_capacity(len);
        for (k, piece) in self.pieces.iter().enumerate() {
            if k > 0 {
                out.push_str(key);
            }
            out.push_str(piece);
        }
        out
    }
}

/// The same notification, resolved.
fn resolved(firing: &str) -> String {
    firing
        .replace(r#""status":"firing""#, r#""status":"resolved""#)
        .replace(
            r#""endsAt":"0001-01-01T00:00:00Z""#,
            r#""endsAt":"2026-11-26T11:00:00Z""#,
        )
}

async fn intake(args: &[String]) {
    // `--url` may repeat (replicas): connection c sends to the (c mod n)th.
    let urls: Vec<String> = args
        .iter()
        .zip(args.iter().skip(1))
        .filter(|(a, _)| *a == "--url")
        .map(|(_, u)| format!("{u}/api/v1/alerts/alertmanager"))
        .collect();
    assert!(!urls.is_empty(), "--url");
    let token = arg(args, "--token").expect("--token");
    let connections: usize = arg(args, "--connections").map_or(64, |v| v.parse().unwrap());
    let seconds: u64 = arg(args, "--seconds").map_or(10, |v| v.parse().unwrap());
    let alerts: usize = arg(args, "--alerts").map_or(10, |v| v.parse().unwrap());
    let duplicates = args.iter().any(|a| a == "--duplicates");
    let workload = arg(args, "--workload").unwrap_or_else(|| "new-groups".into());
    assert!(
        ["new-groups", "grouped", "realistic", "cycle"].contains(&workload.as_str()),
        "--workload is new-groups, grouped, realistic or cycle"
    );
    let lag: usize = arg(args, "--lag").map_or(1000, |v| v.parse().unwrap());
    let groups: usize = arg(args, "--groups").map_or(8, |v| v.parse().unwrap());
    let report_every: Option<u64> = arg(args, "--report-every").map(|v| v.parse().unwrap());
    // Stop after this many requests in all (default: only the time limit).
    let total: u64 = arg(args, "--total").map_or(u64::MAX, |v| v.parse().unwrap());
    let rate: Option<f64> = arg(args, "--rate").map(|v| v.parse().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let prefix = arg(args, "--prefix").unwrap_or_else(|| format!("run{}", std::process::id()));
    let hex = arg(args, "--fingerprints").as_deref() == Some("hex");
    let seq = arg(args, "--fingerprints").as_deref() == Some("seq");
    let seq_n = Arc::new(AtomicU64::new(0));
    // The 200 notifications of the grouped and realistic workloads, made once: each
    // request only puts its key in (fingerprints; for the realistic one, the group too).
    let grouped_templates: Arc<Vec<Template>> = Arc::new(
        (0..200)
            .map(|t| {
                let group = format!("{prefix}-g{}", t % groups);
                Template::new(&realistic_payload(&group, t, FP, alerts))
            })
            .collect(),
    );
    let realistic_templates: Arc<Vec<Template>> = Arc::new(
        (0..200)
            .map(|t| Template::new(&realistic_payload(FP, t, FP, alerts)))
            .collect(),
    );
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let url = urls[c % urls.len()].clone();
        let mut client = http1::Client::new(&url, &token, Duration::from_secs(10));
        let (errors, prefix, sent) = (errors.clone(), prefix.clone(), sent.clone());
        let workload = workload.clone();
        let seq_n = seq_n.clone();
        let grouped_templates = grouped_templates.clone();
        let realistic_templates = realistic_templates.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let make = |n: usize| match workload.as_str() {
                "grouped" => {
                    let t = (c * 7919 + n) % 200;
                    let fp = if seq {
                        format!("{:016x}", seq_n.fetch_add(1, Ordering::Relaxed))
                    } else if hex {
                        // As Alertmanager's: a hash, so new alerts land all over the index.
                        use std::hash::BuildHasher;
                        let h = std::hash::BuildHasherDefault::<
                            std::collections::hash_map::DefaultHasher,
                        >::default()
                        .hash_one((&prefix, c, n));
                        format!("{h:016x}")
                    } else {
                        format!("{prefix}-{c}-{n}")
                    };
                    grouped_templates[t].fill(&fp)
                }
                "realistic" => {
                    let t = (c * 7919 + n) % 200;
                    realistic_templates[t].fill(&format!("{prefix}-{c}-{n}"))
                }
                "cycle" => {
                    // Groups of this connection: c, c + connections, ...
                    // (a multiple of connections apart, so this connection opened it).
                    let g = n / 2 * connections + c;
                    let back = lag.div_ceil(connections) * connections;
                    if n.is_multiple_of(2) || g < back {
                        let key = format!("{prefix}-c{g}");
                        realistic_payload(&key, g % 200, &key, alerts)
                    } else {
                        let key = format!("{prefix}-c{}", g - back);
                        resolved(&realistic_payload(&key, (g - back) % 200, &key, alerts))
                    }
                }
                _ => payload(&format!("{prefix}-{c}-{n}"), alerts),
            };
            // With --duplicates every connection re-sends the same few notifications.
            let fixed: Vec<String> = (0..8).map(|k| make(1_000_000 + k)).collect();
            let mut n = 0usize;
            while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < total {
                let body = if duplicates {
                    fixed[n % fixed.len()].clone()
                } else {
                    make(n)
                };
                let t = match rate {
                    Some(r) => {
                        let due =
                            started + Duration::from_secs_f64((n * connections + c) as f64 / r);
                        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
                        due
                    }
                    None => Instant::now(),
                };
                n += 1;
                match client.post(body.as_bytes()).await {
                    Ok(()) => lat.push((t.elapsed(), t.duration_since(started))),
                    Err(why) => {
                        // The first failure of the run is told, so an error count can
                        // be explained.
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first failed request (to {url}): {why}");
                        }
                    }
                }
            }
            lat
        }));
    }
    let mut all: Vec<(Duration, Duration)> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    if let Some(every) = report_every {
        // Requests by the second they were answered in (whole seconds only): a paced run
        // whose server falls behind shows it here too.
        let mut per_second = vec![0usize; elapsed.as_secs() as usize];
        for (latency, at) in &all {
            if let Some(n) = per_second.get_mut((*at + *latency).as_secs() as usize) {
                *n += 1;
            }
        }
        let slice = Duration::from_secs(every.max(1));
        let mut k = 0;
        loop {
            let (from, to) = (slice * k, slice * (k + 1));
            if from >= elapsed {
                break;
            }
            let lat: Vec<Duration> = all
                .iter()
                .filter(|(_, at)| *at >= from && *at < to)
                .map(|(l, _)| *l)
                .collect();
            let secs = (to.min(elapsed) - from).as_secs_f64();
            let rate = (lat.len() * alerts) as f64 / secs;
            let (a, b) = (from.as_secs() as usize, to.as_secs() as usize);
            let n = per_second.len();
            let seconds = slice_seconds(&per_second[a.min(n)..b.min(n)], alerts);
            report(
                &format!("  {:>5}s", to.as_secs()),
                lat,
                to.min(elapsed) - from,
                &format!(", {rate:.0} alerts/s{seconds}"),
            );
            k += 1;
        }
        per_second_spread(&per_second, alerts);
    }
    let all: Vec<Duration> = all.into_iter().map(|(l, _)| l).collect();
    let alerts_per_s = (all.len() * alerts) as f64 / elapsed.as_secs_f64();
    let kind = if duplicates {
        "duplicates"
    } else {
        "new alerts"
    };
    let mode = format!("intake ({kind}, {workload})");
    report(
        &mode,
        all,
        elapsed,
        &format!(
            ", {alerts_per_s:.0} alerts/s, {} errors, {connections} connections, {alerts} alerts/request{}",
            errors.load(Ordering::Relaxed),
            rate.map(|r| format!(", paced at {r:.0} requests/s"))
                .unwrap_or_default()
        ),
    );
}

/// Readers of a mixed load: `--clients` clients request `--url` (repeatable) round-robin
/// for `--seconds`.
async fn poll(args: &[String]) {
    let urls: Vec<String> = args
        .iter()
        .enumerate()
        .filter(|(_, a)| *a == "--url")
        .filter_map(|(i, _)| args.get(i + 1).cloned())
        .collect();
    assert!(!urls.is_empty(), "--url");
    let clients: usize = arg(args, "--clients").map_or(4, |v| v.parse().unwrap());
    let seconds: u64 = arg(args, "--seconds").map_or(10, |v| v.parse().unwrap());
    // Pause between one client's requests (default none: as fast as answers come).
    let every = Duration::from_millis(arg(args, "--every-ms").map_or(0, |v| v.parse().unwrap()));
    // Idle connections are dropped before the server's 5 s keep-alive closes them: reusing
    // one the server is closing fails the request ("IncompleteMessage").
    let client = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (client, urls, errors) = (client.clone(), urls.clone(), errors.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = c;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    // A failed request is counted and reported, never the end of a client.
                    match client.get(&urls[n % urls.len()]).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            lat.push(t.elapsed());
                        }
                        Ok(r) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            eprintln!("poll: {} from {}", r.status(), urls[n % urls.len()]);
                        }
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            eprintln!("poll: {e}");
                        }
                    }
                    n += 1;
                    tokio::time::sleep(every).await;
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    report(
        &format!("poll ({clients} clients, {} pages)", urls.len()),
        all,
        started.elapsed(),
        &format!(", {} errors", errors.load(Ordering::Relaxed)),
    );
}

async fn get(args: &[String]) {
    let url = arg(args, "--url").expect("--url");
    let requests: usize = arg(args, "--requests").map_or(200, |v| v.parse().unwrap());
    let client = reqwest::Client::new();
    let mut lat = Vec::with_capacity(requests);
    let started = Instant::now();
    for _ in 0..requests {
        let t = Instant::now();
        let r = client.get(&url).send().await.expect("request");
        assert!(r.status().is_success(), "{url}: {}", r.status());
        let _ = r.bytes().await;
        lat.push(t.elapsed());
    }
    report(&format!("GET {url}"), lat, started.elapsed(), "");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match args.get(1).map(String::as_str) {
        Some("intake") => rt.block_on(intake(&args)),
        Some("get") => rt.block_on(get(&args)),
        Some("poll") => rt.block_on(poll(&args)),
        _ => {
            eprintln!(
                "usage: loadgen intake --url URL [--url URL ...] --token T [--connections N] [--seconds S] [--alerts N] \
                 [--duplicates] [--workload new-groups|grouped|realistic|cycle] [--fingerprints hex|seq] [--groups N] [--lag N] [--rate R] \
                 [--report-every S]\n       loadgen get --url URL [--requests N]\n       \
                 loadgen poll --url URL [--url URL ...] [--clients N] [--seconds S] [--every-ms MS]"
            );
            std::process::exit(2);
        }
    }
}
