//! The built-in scraper: fetches each target's /metrics (Prometheus text format, gzip
//! accepted), keeps the latest samples in memory with `job` and `instance` labels added as
//! Prometheus does, and records each target's health. Slow targets time out; a dead
//! target keeps no stale samples (its SLIs show "no data" instead of old numbers).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::expfmt;
use crate::config::{ScrapeSettings, parse_duration};

/// One scraped series: name, labels (sorted, `job`/`instance` included) and value.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

#[derive(Clone)]
pub struct Target {
    pub job: String,
    pub url: String,
    pub instance: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Sent as `Authorization: Bearer …` (Firewatch scraping its own /metrics when
    /// `server.public_ops` is off). Never shown.
    pub bearer: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("job", &self.job)
            .field("url", &self.url)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetHealth {
    pub job: String,
    pub url: String,
    pub up: bool,
    pub last_scrape_ms: Option<i64>,
    pub duration_ms: Option<u64>,
    pub samples: usize,
    pub error: Option<String>,
}

#[derive(Default)]
struct TargetState {
    health: TargetHealth,
    series: Arc<Vec<Series>>,
    /// When the scrape these results come from started.
    started: Option<Instant>,
}

/// Shared scrape results: read by the evaluator, written by the scrape loops.
#[derive(Clone, Default)]
pub struct Scraped {
    inner: Arc<RwLock<HashMap<String, TargetState>>>,
}

impl Scraped {
    /// The latest series of every target that is up.
    pub fn series(&self) -> Vec<Arc<Vec<Series>>> {
        self.inner
            .read()
            .expect("scrape lock")
            .values()
            .filter(|t| t.health.up)
            .map(|t| t.series.clone())
            .collect()
    }

    pub fn health(&self) -> Vec<TargetHealth> {
        let mut out: Vec<TargetHealth> = self
            .inner
            .read()
            .expect("scrape lock")
            .values()
            .map(|t| t.health.clone())
            .collect();
        out.sort_by(|a, b| a.job.cmp(&b.job));
        out
    }

    /// Lists `targets` before their first scrape (down, never scraped), so that an SLO
    /// without data can say it waits for one.
    pub fn register(&self, targets: &[Target]) {
        let mut map = self.inner.write().expect("scrape lock");
        for t in targets {
            map.entry(t.job.clone()).or_insert_with(|| TargetState {
                health: TargetHealth {
                    job: t.job.clone(),
                    url: t.url.clone(),
                    ..TargetHealth::default()
                },
                ..TargetState::default()
            });
        }
    }

    /// Stores a target's latest scrape (None: the target is down, keep no samples).
    pub fn set(&self, job: &str, health: TargetHealth, series: Option<Vec<Series>>) {
        self.record(job, Instant::now(), health, series);
    }

    /// Stores the results of a scrape that started at `started`, unless a scrape that
    /// started later has already stored its own: a slow scrape finishing after a quick
    /// later one must not turn the counters back.
    fn record(
        &self,
        job: &str,
        started: Instant,
        health: TargetHealth,
        series: Option<Vec<Series>>,
    ) {
        let mut map = self.inner.write().expect("scrape lock");
        let entry = map.entry(job.to_string()).or_default();
        if entry.started.is_some_and(|s| s > started) {
            return;
        }
        entry.started = Some(started);
        entry.health = health;
        entry.series = Arc::new(series.unwrap_or_default());
    }
}

/// A target's `instance` label: the host and port of its URL.
pub fn instance_of(url: &str) -> &str {
    url.split_once("://")
        .map(|(_, r)| r.split('/').next().unwrap_or(r))
        .unwrap_or_default()
}

pub fn targets(
    settings: &[ScrapeSettings],
    default_interval: Duration,
) -> Result<Vec<Target>, (String, String)> {
    let mut out: Vec<Target> = Vec::new();
    for (i, s) in settings.iter().enumerate() {
        let at = |f: &str| format!("scrape[{i}] ({}).{f}", s.job);
        if s.job.trim().is_empty() || out.iter().any(|t| t.job == s.job) {
            return Err((at("job"), "must be present and unique".into()));
        }
        if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
            return Err((at("url"), format!("`{}` is not an http(s) URL", s.url)));
        }
        let dur = |f: &str, v: &Option<String>, d: Duration| match v {
            None => Ok(d),
            Some(v) => parse_duration(v).map_err(|m| (at(f), m)),
        };
        let interval = dur("interval", &s.interval, default_interval)?;
        let timeout = dur("timeout", &s.timeout, interval.min(Duration::from_secs(10)))?;
        let instance = instance_of(&s.url).to_string();
        out.push(Target {
            job: s.job.clone(),
            url: s.url.clone(),
            instance,
            interval: interval.max(Duration::from_millis(100)),
            timeout,
            bearer: None,
        });
    }
    Ok(out)
}

/// Parses an exposition text into series for one target. Only metric names in `wanted`
/// are kept (an empty list keeps everything), so a large /metrics costs little memory.
pub fn to_series(
    text: &str,
    target: &Target,
    wanted: &[String],
) -> Result<Vec<Series>, expfmt::ParseError> {
    let mut out = Vec::new();
    expfmt::parse_with(text, |name, labels, value, _ts| {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            return;
        }
        let mut l: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| {
                // Like Prometheus without honor_labels: the target's own job/instance win.
                let k = match *k {
                    "job" => "exported_job",
                    "instance" => "exported_instance",
                    other => other,
                };
                (k.to_string(), v.to_string())
            })
            .collect();
        l.push(("job".into(), target.job.clone()));
        l.push(("instance".into(), target.instance.clone()));
        l.sort();
        out.push(Series {
            name: name.to_string(),
            labels: l,
            value,
        });
    })?;
    Ok(out)
}

/// Scrapes one target once and stores the result.
pub async fn scrape_once(
    client: &reqwest::Client,
    target: &Target,
    wanted: &[String],
    into: &Scraped,
) {
    let started = Instant::now();
    let result = async {
        let mut request = client
            .get(&target.url)
            .header("Accept", "text/plain;version=0.0.4;q=0.9,*/*;q=0.1");
        if let Some(token) = &target.bearer {
            request = request.bearer_auth(token);
        }
        let res = request.timeout(target.timeout).send().await.map_err(|e| {
            if e.is_timeout() {
                format!("timed out after {:?}", target.timeout)
            } else {
                format!("cannot reach {}: {}", target.url, crate::net::describe(&e))
            }
        })?;
        if res.status().is_redirection() {
            return Err(format!(
                "HTTP {}: redirects are not followed; configure the final URL",
                res.status()
            ));
        }
        if !res.status().is_success() {
            return Err(format!("HTTP {}", res.status()));
        }
        let body = crate::net::read_capped(res, crate::net::MAX_ANSWER_BYTES)
            .await
            .map_err(|e| format!("reading the body: {e}"))?;
        let text = String::from_utf8_lossy(&body);
        to_series(&text, target, wanted).map_err(|e| format!("malformed metrics: {e}"))
    }
    .await;
    let health = |up: bool, samples: usize, error: Option<String>| TargetHealth {
        job: target.job.clone(),
        url: target.url.clone(),
        up,
        last_scrape_ms: Some(crate::time::now_ms()),
        duration_ms: Some(started.elapsed().as_millis() as u64),
        samples,
        error,
    };
    match result {
        Ok(series) => into.record(
            &target.job,
            started,
            health(true, series.len(), None),
            Some(series),
        ),
        Err(e) => {
            tracing::warn!(job = %target.job, error = %e, "scrape failed");
            into.record(&target.job, started, health(false, 0, Some(e)), None);
        }
    }
}

/// Scrapes a target forever at its interval.
pub async fn run(client: reqwest::Client, target: Target, wanted: Vec<String>, into: Scraped) {
    let mut tick = tokio::time::interval(target.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        scrape_once(&client, &target, &wanted, &into).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_scrape_does_not_overwrite_a_later_one() {
        let scraped = Scraped::default();
        let series = |v: f64| {
            Some(vec![Series {
                name: "x_total".into(),
                labels: Vec::new(),
                value: v,
            }])
        };
        let up = TargetHealth {
            up: true,
            ..Default::default()
        };
        let early = Instant::now();
        let late = early + Duration::from_millis(10);
        scraped.record("a", late, up.clone(), series(20.0));
        scraped.record("a", early, up.clone(), series(10.0));
        assert_eq!(scraped.series()[0][0].value, 20.0);
        scraped.record("a", late + Duration::from_millis(10), up, series(30.0));
        assert_eq!(scraped.series()[0][0].value, 30.0);
    }
}
