//! CPU time of the server's busiest threads, read from Linux's `/proc` at each scrape:
//! how long the database writer, the checkpoint thread and the HTTP workers ran, and how
//! long they were ready to run but waited for a core (a kind with no thread, such as the
//! SQLite writer on PostgreSQL, is left out). The writer is the one thread every
//! write waits for; when its wait grows towards its run time, intake is short of cores,
//! not of a faster disk or a tuned database (on 2 cores shared with a load generator, at
//! saturation, it waited about a quarter of each second). Elsewhere than on Linux, or
//! where `/proc` is not mounted, the metrics are left out.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;

/// The kinds of thread exported, by the start of the name Linux keeps (15 bytes).
const KINDS: [(&str, &str); 3] = [
    ("firewatch-db-wr", "db_writer"),
    ("firewatch-db-ch", "db_checkpoint"),
    ("actix-server wo", "http_worker"),
];

/// Nanoseconds run and nanoseconds waited for a core, summed over the threads of each
/// kind, and how many threads there were.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Times {
    pub run: u64,
    pub wait: u64,
    pub threads: u32,
}

/// The threads of this process by kind (in the order of `KINDS`); `None` without `/proc`.
pub fn sample() -> Option<[Times; 3]> {
    let mut times = [Times::default(); 3];
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let Ok(name) = std::fs::read_to_string(path.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        let Some(k) = KINDS.iter().position(|(p, _)| name.starts_with(p)) else {
            continue;
        };
        if let Some((run, wait)) = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .as_deref()
            .and_then(schedstat)
        {
            times[k].run = times[k].run.saturating_add(run);
            times[k].wait = times[k].wait.saturating_add(wait);
            times[k].threads += 1;
        }
    }
    Some(times)
}

/// `/proc/…/schedstat`: nanoseconds on a CPU, nanoseconds waiting on a run queue, and
/// time slices; the first two.
fn schedstat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_ascii_whitespace().map(str::parse::<u64>);
    Some((fields.next()?.ok()?, fields.next()?.ok()?))
}

/// The scrape-time collector of the two counters.
#[derive(Debug)]
pub struct ThreadCpu;

impl Collector for ThreadCpu {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(times) = sample() else {
            return Ok(());
        };
        // (name, help, whether it is the wait)
        let metrics = [
            (
                "thread_cpu_seconds",
                "CPU time of the server's threads, by kind (db_writer, db_checkpoint, http_worker)",
                false,
            ),
            (
                "thread_cpu_wait_seconds",
                "Time the threads were ready to run but waited for a CPU, by kind; when the \
                 writer's grows towards its CPU time, the server needs more cores",
                true,
            ),
        ];
        for (name, help, wait) in metrics {
            let mut metric = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            // A kind without threads is left out: on PostgreSQL there is no SQLite writer.
            for ((_, kind), t) in KINDS.iter().zip(&times).filter(|(_, t)| t.threads > 0) {
                let labels = [("threads", *kind)];
                let ns = if wait { t.wait } else { t.run };
                ConstCounter::new(ns as f64 / 1e9).encode(metric.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_lines_give_run_and_wait() {
        assert_eq!(
            schedstat("1500000000 250000000 42\n"),
            Some((1_500_000_000, 250_000_000))
        );
        assert_eq!(schedstat(""), None);
        assert_eq!(schedstat("12 x 3"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_named_thread_is_counted_while_it_runs() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("firewatch-db-checkpoint".into())
            .spawn(move || {
                // Some CPU time to count.
                let mut x = 0u64;
                for i in 0..5_000_000u64 {
                    x = x.wrapping_mul(31).wrapping_add(i);
                }
                std::hint::black_box(x);
                ready_tx.send(()).unwrap();
                rx.recv().unwrap();
            })
            .unwrap();
        ready_rx.recv().unwrap();
        let times = sample().expect("/proc is mounted on Linux");
        assert!(times[1].run > 0 && times[1].threads >= 1, "{times:?}");
        tx.send(()).unwrap();
        worker.join().unwrap();
    }
}
